"""Provision records (情報提供等記録) as anyone may check them: the hash chain and the hub's
signature, verified with public keys only.

Each record is chained to the one before it in its partition: `record_hash` is SHA-256 over the
previous record's hash and the record's own encoding with `record_hash` and `signature` empty
(the first record of a chain follows 32 zero bytes). The hub then signs, with an Ed25519 key only
it holds, the chain partition, the chain sequence and `record_hash`. A hash chain alone proves
nothing against someone who can append to the topic: they can chain a record of their own
correctly. The signature is what they cannot make.

The portal and the oversight body call `verify_record` for each record they show ("signature
and chain position verify"), with the hub's public record keys (`renkei keys public`, parsed
by `parse_verify_keys`); `hub audit verify` walks whole chains with the same function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.codec import current_schema, encode
from schemas.fastpath import long_bytes
from schemas.models import ProvisionRecord

GENESIS = bytes(32)
_SIGNED_DOMAIN = b"renkei provision record v1\x00"


class VerifyKeyError(ValueError):
    """Record verification keys are not `<key id>:<64 hex digits>[,...]` (the caller's fault)."""


def parse_verify_keys(text: str) -> dict[int, Ed25519PublicKey]:
    """The hub's public record keys from `1:<hex>,2:<hex>` (RENKEI_RECORD_VERIFY_KEYS)."""
    keys: dict[int, Ed25519PublicKey] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, _, hex_key = item.partition(":")
        if not key_id.isdigit() or not 1 <= int(key_id) <= 255:
            raise VerifyKeyError("a record verification key starts with its key id (1-255)")
        try:
            keys[int(key_id)] = Ed25519PublicKey.from_public_bytes(bytes.fromhex(hex_key))
        except ValueError as exc:
            raise VerifyKeyError("a record verification key is 32 bytes in hexadecimal") from exc
    if not keys:
        raise VerifyKeyError("no record verification key given")
    return keys


def _hashed(unsealed: ProvisionRecord) -> tuple[bytes, bytes]:
    """(the encoding of a record with `record_hash` and `signature` empty, its record hash):
    SHA-256 over the previous record's hash and that encoding."""
    body = encode(unsealed)
    return body, hashlib.sha256(unsealed.previous_hash + body).digest()


def record_hash(record: ProvisionRecord) -> bytes:
    """What `record_hash` must be for this record's content and `previous_hash`."""
    return _hashed(record.model_copy(update={"record_hash": b"", "signature": b""}))[1]


def _signed(partition: int, sequence: int, digest: bytes) -> bytes:
    return _SIGNED_DOMAIN + partition.to_bytes(4, "big") + sequence.to_bytes(8, "big") + digest


def _hashed_and_signed(
    unsealed: ProvisionRecord, key: Ed25519PrivateKey
) -> tuple[bytes, bytes, bytes]:
    """(the unsealed encoding, its record hash, the hub's signature of partition, sequence and
    hash): sealing, for both the model (`sign_record`) and the bytes (`sealed_encoding`)."""
    body, digest = _hashed(unsealed)
    signature = key.sign(_signed(unsealed.chain_partition, unsealed.chain_sequence, digest))
    return body, digest, signature


# The sealed record's last fields, in the current schema's order: what `sealed_encoding`
# writes after the unsealed encoding's prefix. Checked once here; if the schema ever orders
# them otherwise, `sealed_encoding` encodes the sealed record whole instead.
_SEALED_TAIL = [f["name"] for f in current_schema("ProvisionRecord")["fields"][-3:]] == [
    "record_hash",
    "signing_key_id",
    "signature",
]


def sealed_encoding(unsealed: ProvisionRecord, key: Ed25519PrivateKey) -> tuple[bytes, bytes]:
    """The encoding of `unsealed` with its record hash and the hub's signature filled in, and
    that hash (hub side). `unsealed`: chain fields and `signing_key_id` set, `record_hash` and
    `signature` empty.

    The same bytes as `encode(sign_record(...))`, from one encoding instead of two and no more
    models: the hash is taken over the unsealed encoding anyway, and the sealed one differs
    from it only in its last three fields (`record_hash`, `signing_key_id`, `signature`)."""
    body, digest, signature = _hashed_and_signed(unsealed, key)
    key_id = long_bytes(unsealed.signing_key_id)
    empty_tail = b"\x00" + key_id + b"\x00"
    if _SEALED_TAIL and body.endswith(empty_tail):
        hash_field = long_bytes(len(digest)) + digest
        signature_field = long_bytes(len(signature)) + signature
        return body[: -len(empty_tail)] + hash_field + key_id + signature_field, digest
    sealed = unsealed.model_copy(update={"record_hash": digest, "signature": signature})
    return encode(sealed), digest


def sign_record(record: ProvisionRecord, key_id: int, key: Ed25519PrivateKey) -> ProvisionRecord:
    """The record with its hash and the hub's signature filled in (hub side: the chain fields
    must already be set)."""
    unsealed = record.model_copy(
        update={"signing_key_id": key_id, "record_hash": b"", "signature": b""}
    )
    _, digest, signature = _hashed_and_signed(unsealed, key)
    return unsealed.model_copy(update={"record_hash": digest, "signature": signature})


@dataclass(frozen=True, slots=True)
class RecordVerdict:
    """What one record's check found."""

    content_matches_hash: bool  # record_hash is the hash of what the record says
    signature_verifies: bool  # the hub signed this partition, sequence and hash
    chain_position_verifies: bool | None  # follows the given previous record (None: not asked)

    @property
    def genuine(self) -> bool:
        """Written by the hub and not altered since."""
        return self.content_matches_hash and self.signature_verifies

    @property
    def verifies(self) -> bool:
        """Genuine, and where it says it is in its chain (when that was checked)."""
        return self.genuine and self.chain_position_verifies is not False


def signature_verifies(record: ProvisionRecord, keys: Mapping[int, Ed25519PublicKey]) -> bool:
    """The hub signed this record's partition, sequence and (claimed) record_hash."""
    key = keys.get(record.signing_key_id)
    if key is None:
        return False
    signed = _signed(record.chain_partition, record.chain_sequence, record.record_hash)
    try:
        key.verify(record.signature, signed)
    except InvalidSignature:
        return False
    return True


def verify_record(
    record: ProvisionRecord,
    keys: Mapping[int, Ed25519PublicKey],
    previous: ProvisionRecord | None = None,
) -> RecordVerdict:
    """Check one record: its content against its hash, the hub's signature, and, when
    `previous` (the record before it in its chain) is given, its position after it. The first
    record of a chain (sequence 1) is checked against the chain's start without `previous`."""
    position: bool | None = None
    if previous is not None:
        position = (
            record.chain_partition == previous.chain_partition
            and record.chain_sequence == previous.chain_sequence + 1
            and record.previous_hash == previous.record_hash
        )
    elif record.chain_sequence == 1:
        position = record.previous_hash == GENESIS
    return RecordVerdict(
        content_matches_hash=record_hash(record) == record.record_hash,
        signature_verifies=signature_verifies(record, keys),
        chain_position_verifies=position,
    )
