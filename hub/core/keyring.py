"""The key set made ready for use: link-code and reply-token ciphers, the blind-index key, the
keys that open sealed numbers and sign provision records, and the trusted consent-token issuers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from hub.core.blind_index import number_index
from hub.core.keys import KeySet
from hub.core.linkcodes import LinkCodes
from hub.core.notice_receipts import NoticeReceipts
from hub.core.tokens import ReplyTicket, ReplyTokens
from schemas.models import SealedNumber
from schemas.sealed_number import HubSealingKey, open_sealed_number, public_key_of

DEFAULT_TOKEN_TTL_SECONDS = 7 * 86_400  # providers answering from nightly batches still make it


class SealedRoute(NamedTuple):
    """What a routed request's query carries that only the hub can make."""

    provider_code: bytes  # the person's code at the provider
    reply_token: bytes

    def __repr__(self) -> str:  # a logged one leaks neither
        return f"SealedRoute(provider_code=<{len(self.provider_code)} bytes>, reply_token=<...>)"


@dataclass(frozen=True, slots=True)
class Keyring:
    codes: LinkCodes
    tokens: ReplyTokens
    blind_index_key: bytes
    sealing_keys: Mapping[int, bytes]  # key id -> X25519 private key
    sealing_key_id: int  # the one agencies are told to seal to
    record_signing_key: Ed25519PrivateKey
    record_signing_key_id: int
    record_verify_keys: Mapping[int, Ed25519PublicKey]  # every generation, old ones included
    consent_token_issuers: Mapping[str, Ed25519PublicKey]
    notice_receipts: NoticeReceipts
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS

    @classmethod
    def from_key_set(
        cls, key_set: KeySet, token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    ) -> Keyring:
        signing = {
            key_id: Ed25519PrivateKey.from_private_bytes(key)
            for key_id, key in key_set.record_signing.keys.items()
        }
        return cls(
            LinkCodes(key_set.link_codes),
            ReplyTokens(key_set.reply_tokens),
            key_set.blind_index,
            dict(key_set.sealing.keys),
            key_set.sealing.current,
            signing[key_set.record_signing.current],
            key_set.record_signing.current,
            {key_id: key.public_key() for key_id, key in signing.items()},
            {
                key_id: Ed25519PublicKey.from_public_bytes(key)
                for key_id, key in key_set.consent_token_issuers.items()
            },
            NoticeReceipts(key_set.reply_tokens),
            token_ttl_seconds,
        )

    def seal_route(self, route: ReplyTicket) -> SealedRoute:
        """The cryptography of routing, done by the shell after `decide`: the person's code at
        the provider, and the route sealed into the query's reply token."""
        provider_code = self.codes.encode(route.provider, route.person_id)
        return SealedRoute(provider_code, self.tokens.issue(route))

    def number_index(self, number: str) -> bytes:
        return number_index(self.blind_index_key, number)

    def open_number(self, sealed: SealedNumber, context: bytes) -> str | None:
        """The number sealed to one of the hub's keys, or None if it does not open."""
        return open_sealed_number(sealed, self.sealing_keys, context)

    @property
    def public_sealing_key(self) -> HubSealingKey:
        """What agencies are configured with to seal numbers (`renkei keys public`)."""
        current = self.sealing_keys[self.sealing_key_id]
        return HubSealingKey(self.sealing_key_id, public_key_of(current))
