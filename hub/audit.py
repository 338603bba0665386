"""Tamper-evident provision records (情報提供等記録), hash-chained per hub partition.

Each record's hash is SHA-256 over the previous record's hash and the record's own Avro
encoding with `record_hash` empty; the first record of a chain follows 32 zero bytes. Changing,
removing, inserting or reordering any committed record breaks the chain at that point, which
`verify` reports ("this, and nothing more, was done": これ以上はやっていない).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from schemas.codec import DecodeError, decode_as, encode
from schemas.models import ProvisionRecord

GENESIS = bytes(32)
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


def record_hash(record: ProvisionRecord) -> bytes:
    unsealed = record.model_copy(update={"record_hash": b""})
    return hashlib.sha256(record.previous_hash + encode(unsealed)).digest()


def seal(record: ProvisionRecord, partition: int, head: ChainHead) -> tuple[bytes, ChainHead]:
    """Chain `record` after `head`: (the encoded sealed record, the new head)."""
    linked = record.model_copy(
        update={
            "chain_partition": partition,
            "chain_sequence": head.sequence + 1,
            "previous_hash": head.hash,
            "record_hash": b"",
        }
    )
    digest = hashlib.sha256(head.hash + encode(linked)).digest()
    sealed = linked.model_copy(update={"record_hash": digest})
    return encode(sealed), ChainHead(head.sequence + 1, digest)


@dataclass(frozen=True, slots=True)
class ChainBreak:
    partition: int
    offset: int
    sequence: int | None
    what: str


@dataclass
class ChainReport:
    records: int = 0
    partitions: int = 0
    first_break: ChainBreak | None = None

    @property
    def intact(self) -> bool:
        return self.first_break is None


def verify_partition(
    partition: int, records: Iterable[tuple[int, bytes]], report: ChainReport
) -> None:
    """Check one partition's chain; `records` are (offset, value) in offset order."""
    head = ChainHead()
    report.partitions += 1
    for offset, value in records:
        report.records += 1

        def broken(what: str, sequence: int | None = None, offset: int = offset) -> None:
            if report.first_break is None:
                report.first_break = ChainBreak(partition, offset, sequence, what)

        try:
            record = decode_as(value, ProvisionRecord)
        except DecodeError as exc:
            broken(f"not a provision record ({exc.reason.value})")
            return
        seq = record.chain_sequence
        if record.chain_partition != partition:
            broken(f"record says chain partition {record.chain_partition}", seq)
            return
        if seq != head.sequence + 1:
            broken(f"sequence {seq} follows {head.sequence}: a record is missing or extra", seq)
            return
        if record.previous_hash != head.hash:
            broken("previous_hash does not match the preceding record's hash", seq)
            return
        if record_hash(record) != record.record_hash:
            broken("record_hash does not match the record's content: it was altered", seq)
            return
        head = ChainHead(seq, record.record_hash)
