"""Reply tokens: what the hub hands the provider with a query, to finish the exchange later.

The token carries everything the hub needs when the answer comes back (request id, requester,
provider, person, proxy, purpose, row, sector, table version, authorised attributes, trigger
event, issue time), so no pending-request table is needed. It is encrypted and authenticated
with AES-SIV under the current reply-token key, with the provider id as associated data (only
that provider's answer can use it). The request id is unique, so the deterministic cipher
leaks nothing and needs no nonce: re-deciding the same request gives the same token. Tokens
expire, and a token whose answer was accepted is refused as replayed (state.used_tokens).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from hub.core.keys import KeyGenerations
from schemas.vocabulary import Sector

_FORMAT = 1
_HEADER = struct.Struct(">BqB")  # format, issued at, has proxy
_AD = b"renkei reply token v1"
_UNIT = "\x1f"
_ITEM = "\x1e"


class ReplyTicket(NamedTuple):
    """The content of a reply token. (A named tuple: built on every routed request, and
    cheaper to build than a frozen dataclass.)"""

    request_id: UUID
    requester: str
    provider: str
    person_id: bytes
    proxy_person_id: bytes | None
    purpose: str
    row: str
    sector: Sector
    table_version: str
    attributes: tuple[str, ...]
    trigger_event_id: UUID
    issued_at: int

    def __repr__(self) -> str:
        return f"ReplyTicket(request_id={self.request_id}, row={self.row!r})"


@dataclass(frozen=True, slots=True)
class TokenRefused:
    """Why an answer's token cannot be used: 'forged', 'expired', 'replayed', or 'timed out'
    (its request already received PROVIDER_TIMEOUT). The last two of these are late."""

    LATE = frozenset({"expired", "timed out"})

    why: str


def pack_ticket(t: ReplyTicket) -> bytes:
    proxy = t.proxy_person_id
    text = _UNIT.join(
        (
            t.requester,
            t.provider,
            t.purpose,
            t.row,
            t.sector.value,
            t.table_version,
            _ITEM.join(t.attributes),
        )
    )
    return b"".join(
        (
            _HEADER.pack(_FORMAT, t.issued_at, proxy is not None),
            t.request_id.int.to_bytes(16),  # == .bytes, without the property call
            t.person_id,
            t.trigger_event_id.int.to_bytes(16),
            proxy or b"",
            text.encode(),
        )
    )


def unpack_ticket(data: bytes) -> ReplyTicket:
    _, issued_at, has_proxy = _HEADER.unpack_from(data)
    at = _HEADER.size
    request_id, person_id, trigger = (
        data[at : at + 16],
        data[at + 16 : at + 32],
        data[at + 32 : at + 48],
    )
    at += 48
    proxy = None
    if has_proxy:
        proxy, at = data[at : at + 16], at + 16
    requester, provider, purpose, row, sector, version, attributes = data[at:].decode().split(_UNIT)
    return ReplyTicket(
        request_id=UUID(bytes=request_id),
        requester=requester,
        provider=provider,
        person_id=person_id,
        proxy_person_id=proxy,
        purpose=purpose,
        row=row,
        sector=Sector(sector),
        table_version=version,
        attributes=tuple(attributes.split(_ITEM)) if attributes else (),
        trigger_event_id=UUID(bytes=trigger),
        issued_at=issued_at,
    )


class ReplyTokens:
    """Issue and open reply tokens; one cipher object per key id, built on first use."""

    __slots__ = ("_ciphers", "_generations")

    def __init__(self, generations: KeyGenerations) -> None:
        self._generations = generations
        self._ciphers = {kid: AESSIV(key) for kid, key in generations.keys.items()}

    def issue(self, ticket: ReplyTicket) -> bytes:
        kid = self._generations.current
        sealed = self._ciphers[kid].encrypt(pack_ticket(ticket), [_AD, ticket.provider.encode()])
        return bytes((kid,)) + sealed

    def open(
        self,
        token: bytes,
        provider: str,
        now: int,
        ttl_seconds: int,
        used: Mapping[UUID, int],
    ) -> ReplyTicket | TokenRefused:
        """The ticket in a token presented by `provider`, unless forged, expired or replayed."""
        cipher = self._ciphers.get(token[0]) if token else None
        if cipher is None:
            return TokenRefused("forged")
        try:
            ticket = unpack_ticket(cipher.decrypt(token[1:], [_AD, provider.encode()]))
        except InvalidTag:
            return TokenRefused("forged")
        if now > ticket.issued_at + ttl_seconds:
            return TokenRefused("expired")
        if ticket.request_id in used:
            return TokenRefused("replayed")
        return ticket
