"""What one consumed message means for the read model: pure, no I/O.

`project` turns a decoded message into row changes; the projector (`portal.projector`) applies
them in the transaction that also stores the consumed offset. Chain position: a provision
record verifies when it follows the previous record of its hub partition's chain (sequence and
previous hash) and its own hash matches its content (`schemas.provision_records`, whose
`verify_record` also checks the hub's signature).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.models import (
    Change,
    ConsentGiven,
    ConsentWithdrawn,
    DependencyChanged,
    DependencyRelationship,
    Message,
    Notice,
    ProvisionRecord,
    ProxyRegistered,
    ProxyRevoked,
)
from schemas.provision_records import GENESIS, record_hash, signature_verifies

ALL_SCOPES = "*"


@dataclass(frozen=True, slots=True)
class ChainHead:
    sequence: int = 0
    record_hash: bytes = GENESIS


@dataclass(frozen=True, slots=True)
class Insert:
    table: str
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Update:
    """Set `values` on the rows of `table` matching every `where` column (a tuple: any of its
    values) and, for each `unset` column, only where it is still null."""

    table: str
    where: dict[str, Any]
    values: dict[str, Any]
    unset: tuple[str, ...] = ()


RowChange = Insert | Update


def chain_position_verifies(record: ProvisionRecord, head: ChainHead) -> bool:
    return (
        record.chain_sequence == head.sequence + 1
        and record.previous_hash == head.record_hash
        and record_hash(record) == record.record_hash
    )


def project_record(
    record: ProvisionRecord,
    encoded: bytes,
    head: ChainHead,
    verify_keys: Mapping[int, Ed25519PublicKey] | None = None,
) -> tuple[Insert, ChainHead]:
    """The record's row, with whether its chain position verifies and, given the hub's public
    record keys, whether the hub's signature does (None: no key to check it with)."""
    verified = chain_position_verifies(record, head)
    signed = None if not verify_keys else signature_verifies(record, verify_keys)
    row = {
        "record_id": str(record.record_id),
        "subject_code": record.subject_code,
        "request_id": str(record.request_id),
        "occurred_at": record.metadata.occurred_at,
        "requester": record.requester,
        "provider": record.provider,
        "purpose": record.purpose,
        "sector": None if record.sector is None else record.sector.value,
        "legal_basis_row": record.legal_basis_row,
        "table_version": record.table_version,
        "attributes": list(record.attributes),
        "trigger_event_id": None
        if record.trigger_event_id is None
        else str(record.trigger_event_id),
        "proxy_code": record.proxy_code,
        "outcome": record.outcome.value,
        "reason": record.reason_code,
        "over_provided": list(record.over_provided),
        "chain_partition": record.chain_partition,
        "chain_sequence": record.chain_sequence,
        "chain_verified": verified,
        "signature_verified": signed,
        "encoded": encoded,
    }
    return Insert("provision_records", row), ChainHead(record.chain_sequence, record.record_hash)


def project(message: Message, encoded: bytes, received_at: datetime) -> list[RowChange]:
    """Row changes for a message delivered to the portal's inbox (not provision records)."""
    sender = message.metadata.sender
    at = message.metadata.occurred_at
    match message:
        case Notice():
            return [
                Insert(
                    "notices",
                    {
                        "notice_id": str(message.notice_id),
                        "person_code": message.person_code,
                        "sender": sender,
                        "category": message.category,
                        "title": message.title,
                        "body": message.body,
                        "received_at": received_at,
                        "opened_at": None,
                        "encoded": encoded,
                    },
                )
            ]
        case ConsentGiven():
            return [
                Insert(
                    "consents",
                    {
                        "consent_id": str(message.metadata.message_id),
                        "person_code": message.person_code,
                        "purpose": message.purpose,
                        "recipient": message.recipient,
                        "given_at": at,
                        "expires_at": message.expires_at,
                        "withdrawn_at": None,
                        "given_by": sender,
                    },
                )
            ]
        case ConsentWithdrawn():
            return [
                Update(
                    "consents",
                    {
                        "person_code": message.person_code,
                        "purpose": message.purpose,
                        "recipient": message.recipient,
                    },
                    {"withdrawn_at": at},
                    unset=("withdrawn_at",),
                )
            ]
        case ProxyRegistered():
            confirmed = message.registered_by.value != "PROXY"
            return [
                Insert(
                    "proxies",
                    {
                        "proxy_id": str(message.metadata.message_id),
                        "principal_code": message.principal_code,
                        "proxy_code": message.proxy_code,
                        "kind": message.kind.value,
                        "scope": list(message.scope),
                        "expires_at": message.expires_at,
                        "status": "CONFIRMED" if confirmed else "PENDING_PRINCIPAL",
                        "proposed_by": "MUNICIPALITY",
                        "created_at": at,
                        "decided_at": at if confirmed else None,
                    },
                )
            ]
        case ProxyRevoked():
            return [_revoke(message.principal_code, message.proxy_code, at)]
        case DependencyChanged() if message.relationship is not DependencyRelationship.DEPENDANT:
            # A parent of a minor or a guardian: a legal proxy (法定代理) for everything.
            if message.change is Change.REMOVED:
                return [_revoke(message.person_code, message.related_person_code, at)]
            return [
                Insert(
                    "proxies",
                    {
                        "proxy_id": str(message.metadata.message_id),
                        "principal_code": message.person_code,
                        "proxy_code": message.related_person_code,
                        "kind": "LEGAL",
                        "scope": [ALL_SCOPES],
                        "expires_at": None,
                        "status": "CONFIRMED",
                        "proposed_by": "MUNICIPALITY",
                        "created_at": at,
                        "decided_at": at,
                    },
                )
            ]
    return []


def _revoke(principal_code: bytes, proxy_code: bytes, at: datetime) -> Update:
    return Update(
        "proxies",
        {
            "principal_code": principal_code,
            "proxy_code": proxy_code,
            "status": ("CONFIRMED", "PENDING_PRINCIPAL", "PENDING_PROXY"),
        },
        {"status": "REVOKED", "decided_at": at},
    )
