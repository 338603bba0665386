"""The provision-record hash chain: intact when untouched, and the first break is named."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hub.audit import ChainHead, ChainReport, seal, verify_partition
from schemas.codec import decode_as, encode
from schemas.models import Metadata, Outcome, ProvisionRecord


def record(i: int) -> ProvisionRecord:
    return ProvisionRecord(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="hub"),
        record_id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        requester="mun-27100",
        provider="mun-13101",
        purpose="resident_tax_assessment",
        legal_basis_row="tx-01",
        table_version="2026.1",
        attributes=["taxable_income"],
        subject_code=bytes([i]) * 33,
        outcome=Outcome.PROVIDED,
        chain_partition=0,
        chain_sequence=0,
        previous_hash=b"",
        record_hash=b"",
    )


def chain(n: int, partition: int = 4) -> list[tuple[int, bytes]]:
    head, out = ChainHead(), []
    for i in range(n):
        value, head = seal(record(i), partition, head)
        out.append((100 + i, value))
    return out


def verify(records: list[tuple[int, bytes]], partition: int = 4) -> ChainReport:
    report = ChainReport()
    verify_partition(partition, records, report)
    return report


def test_an_untouched_chain_verifies() -> None:
    report = verify(chain(5))
    assert report.intact
    assert report.records == 5


def test_an_altered_record_is_named_with_what_is_wrong() -> None:
    records = chain(5)
    altered = decode_as(records[2][1], ProvisionRecord).model_copy(
        update={"attributes": ["taxable_income", "household_members"]}
    )
    records[2] = (records[2][0], encode(altered))
    report = verify(records)
    assert report.first_break is not None
    assert (report.first_break.offset, report.first_break.sequence) == (102, 3)
    assert "altered" in report.first_break.what


def test_a_removed_record_breaks_the_sequence() -> None:
    records = chain(5)
    del records[1]
    report = verify(records)
    assert report.first_break is not None
    assert report.first_break.offset == 102
    assert "missing" in report.first_break.what


def test_records_swapped_between_positions_break_the_chain() -> None:
    records = chain(4)
    records[1], records[2] = records[2], records[1]
    assert not verify(records).intact


def test_a_record_from_another_partitions_chain_is_refused() -> None:
    assert not verify(chain(2, partition=1), partition=4).intact
