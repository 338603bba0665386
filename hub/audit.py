"""Provision records (情報提供等記録) the hub chains, signs and verifies, per hub partition.

Each record is hash-chained to the one before it and signed with the hub's Ed25519 record key
(`schemas.provision_records` holds the construction, so the portal and the oversight body
check records with the same code and the public key only). Changing, removing, inserting or
reordering any record shows when its chain is verified ("this, and nothing more, was done":
これ以上はやっていない):

- a record whose signature does not verify was not written by the hub: a *forged insertion*.
  It is reported and skipped, so the genuine record after it still chains to the one before;
- a genuine record whose content no longer matches its hash was *altered*;
- a genuine record out of sequence or not linked to its predecessor shows records *missing,
  repeated or reordered*;
- a chain that ends before the chain head the hub keeps has lost records *from its end*.

`verify_partition` reports every break and carries on past it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas.codec import DecodeError, decode_as
from schemas.models import ProvisionRecord
from schemas.provision_records import GENESIS, sealed_encoding, verify_record

UNKNOWN_SUBJECT = b"\x00"  # subject_code when the request named no person the hub knows


@dataclass(frozen=True, slots=True)
class ChainHead:
    """Where a partition's chain stands: the last sequence number and hash."""

    sequence: int = 0
    hash: bytes = GENESIS

    def to_bytes(self) -> bytes:
        return self.sequence.to_bytes(8, "big") + self.hash

    @classmethod
    def from_bytes(cls, data: bytes) -> ChainHead:
        return cls(int.from_bytes(data[:8], "big"), data[8:40])


@dataclass(frozen=True, slots=True)
class RecordSigner:
    """The hub's current record-signing key and its id."""

    key_id: int
    key: Ed25519PrivateKey


def seal(
    record: ProvisionRecord, partition: int, head: ChainHead, signer: RecordSigner
) -> tuple[bytes, ChainHead]:
    """Chain `record` after `head` and sign it: (the encoded sealed record, the new head)."""
    unsealed = record.model_copy(
        update={
            "chain_partition": partition,
            "chain_sequence": head.sequence + 1,
            "previous_hash": head.hash,
            "signing_key_id": signer.key_id,
            "record_hash": b"",
            "signature": b"",
        }
    )
    value, digest = sealed_encoding(unsealed, signer.key)
    return value, ChainHead(head.sequence + 1, digest)


class BreakKind:
    FORGED = "forged insertion"
    ALTERED = "altered"
    OUT_OF_PLACE = "missing, repeated or reordered records"
    CUT = "records cut off the end"
    UNREADABLE = "not a provision record"


@dataclass(frozen=True, slots=True)
class ChainBreak:
    partition: int
    offset: int | None  # None for a break at the chain's end
    sequence: int | None
    kind: str
    what: str


@dataclass
class ChainReport:
    records: int = 0
    partitions: int = 0
    genuine: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def first_break(self) -> ChainBreak | None:
        return self.breaks[0] if self.breaks else None

    @property
    def intact(self) -> bool:
        return not self.breaks

    def forged(self) -> list[ChainBreak]:
        return [b for b in self.breaks if b.kind == BreakKind.FORGED]


def verify_partition(
    partition: int,
    records: Iterable[tuple[int, bytes]],
    report: ChainReport,
    keys: Mapping[int, Ed25519PublicKey],
    expected_head: ChainHead | None = None,
) -> None:
    """Check one partition's chain; `records` are (offset, value) in offset order. With
    `expected_head` (the hub's own chain head for this partition) the chain's end is checked
    too."""
    report.partitions += 1
    head: ProvisionRecord | None = None
    for offset, value in records:
        report.records += 1

        def broken(kind: str, what: str, sequence: int | None, offset: int = offset) -> None:
            report.breaks.append(ChainBreak(partition, offset, sequence, kind, what))

        try:
            record = decode_as(value, ProvisionRecord)
        except DecodeError as exc:
            broken(BreakKind.UNREADABLE, f"cannot be decoded ({exc.reason.value})", None)
            continue
        seq = record.chain_sequence
        verdict = verify_record(record, keys, head)
        if not verdict.signature_verifies:
            broken(BreakKind.FORGED, "the hub's signature does not verify: not written by it", seq)
            continue  # the next genuine record still follows the one before this
        report.genuine += 1
        if not verdict.content_matches_hash:
            broken(BreakKind.ALTERED, "its content does not match its signed hash", seq)
        if record.chain_partition != partition:
            broken(BreakKind.OUT_OF_PLACE, f"it belongs to chain {record.chain_partition}", seq)
        elif verdict.chain_position_verifies is False or (
            head is None and verdict.chain_position_verifies is None
        ):
            after = 0 if head is None else head.chain_sequence
            broken(BreakKind.OUT_OF_PLACE, f"sequence {seq} does not follow {after}", seq)
        head = record  # carry on from the last genuine record
    if expected_head is None:
        return
    sequence, digest = (0, GENESIS) if head is None else (head.chain_sequence, head.record_hash)
    if (sequence, digest) != (expected_head.sequence, expected_head.hash):
        report.breaks.append(
            ChainBreak(
                partition,
                None,
                sequence,
                BreakKind.CUT if sequence < expected_head.sequence else BreakKind.OUT_OF_PLACE,
                f"the chain ends at sequence {sequence} but the hub's chain head is at "
                f"{expected_head.sequence}",
            )
        )
