"""Provision records: chained and signed by the hub; verification names every break, tells a
forged insertion from a genuine record, and checks each chain's end against the hub's head."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit import BreakKind, ChainHead, ChainReport, RecordSigner, seal, verify_partition
from schemas import provision_records
from schemas.codec import decode_as, encode
from schemas.models import Metadata, Outcome, ProvisionRecord
from schemas.provision_records import parse_verify_keys, record_hash, sign_record, verify_record

HUB_KEY = Ed25519PrivateKey.generate()
SIGNER = RecordSigner(1, HUB_KEY)
KEYS = {1: HUB_KEY.public_key()}


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


def chain(n: int, partition: int = 4) -> tuple[list[tuple[int, bytes]], ChainHead]:
    head, out = ChainHead(), []
    for i in range(n):
        value, head = seal(record(i), partition, head, SIGNER)
        out.append((100 + i, value))
    return out, head


def verify(
    records: list[tuple[int, bytes]], partition: int = 4, head: ChainHead | None = None
) -> ChainReport:
    report = ChainReport()
    verify_partition(partition, records, report, KEYS, head)
    return report


def forged_after(value: bytes, partition: int = 4) -> bytes:
    """What anyone able to append could write: a 'provided' record, correctly chained after
    `value` with a correct hash, signed with a key of their own."""
    last = decode_as(value, ProvisionRecord)
    fake = record(99).model_copy(
        update={
            "requester": "med-0009",
            "chain_partition": partition,
            "chain_sequence": last.chain_sequence + 1,
            "previous_hash": last.record_hash,
            "signing_key_id": 1,
        }
    )
    digest = record_hash(fake)
    signature = Ed25519PrivateKey.generate().sign(digest)
    return encode(fake.model_copy(update={"record_hash": digest, "signature": signature}))


def test_an_untouched_chain_verifies_to_the_hubs_head() -> None:
    records, head = chain(5)
    report = verify(records, head=head)
    assert report.intact
    assert (report.records, report.genuine) == (5, 5)


def test_a_forged_but_correctly_chained_record_is_named_and_the_next_genuine_one_is_not_blamed():
    records, head = chain(4)
    records.insert(2, (150, forged_after(records[1][1])))
    report = verify(records, head=head)
    assert [(b.kind, b.offset) for b in report.breaks] == [(BreakKind.FORGED, 150)]
    assert report.genuine == 4
    assert len(report.forged()) == 1


def test_an_altered_record_is_named_with_what_is_wrong() -> None:
    records, head = chain(5)
    altered = decode_as(records[2][1], ProvisionRecord).model_copy(
        update={"attributes": ["taxable_income", "household_members"]}
    )
    records[2] = (records[2][0], encode(altered))
    report = verify(records, head=head)
    assert [(b.kind, b.offset, b.sequence) for b in report.breaks] == [(BreakKind.ALTERED, 102, 3)]


def test_every_break_is_reported_not_only_the_first() -> None:
    records, head = chain(8)
    del records[1]  # missing
    records.insert(4, (170, forged_after(records[3][1])))  # forged
    report = verify(records, head=head)
    assert [b.kind for b in report.breaks] == [BreakKind.OUT_OF_PLACE, BreakKind.FORGED]
    assert "does not follow" in report.breaks[0].what


def test_records_swapped_between_positions_break_the_chain() -> None:
    records, head = chain(4)
    records[1], records[2] = records[2], records[1]
    assert not verify(records, head=head).intact


def test_records_cut_off_the_end_are_found_by_the_hubs_chain_head() -> None:
    records, head = chain(5)
    assert verify(records[:3]).intact  # without the head, a shortened chain looks whole
    report = verify(records[:3], head=head)
    assert [(b.kind, b.offset) for b in report.breaks] == [(BreakKind.CUT, None)]
    assert "ends at sequence 3" in report.breaks[0].what


def test_a_record_from_another_partitions_chain_is_refused() -> None:
    records, _ = chain(2, partition=1)
    assert not verify(records, partition=4).intact


def test_the_portal_checks_one_record_with_the_public_key_only() -> None:
    records, _ = chain(3)
    first, second, third = (decode_as(v, ProvisionRecord) for _, v in records)
    keys = parse_verify_keys(f"1:{HUB_KEY.public_key().public_bytes_raw().hex()}")
    assert verify_record(first, keys).verifies  # the first follows the chain's start
    assert verify_record(third, keys, previous=second).verifies
    assert verify_record(third, keys, previous=first).chain_position_verifies is False
    forged = decode_as(forged_after(records[2][1]), ProvisionRecord)
    verdict = verify_record(forged, keys, previous=third)
    assert verdict.content_matches_hash
    assert verdict.chain_position_verifies
    assert not verdict.signature_verifies
    assert not verdict.verifies


def test_the_hub_writes_exactly_the_sealed_record_it_would_build_as_a_model() -> None:
    # seal() splices the hash and signature into the unsealed encoding instead of encoding
    # the sealed record again; the bytes must be the model's own, for any key id and record
    assert provision_records._SEALED_TAIL  # the splice is what runs, not the fallback
    for key_id in (1, 63, 64, 200, 255):
        signer = RecordSigner(key_id, HUB_KEY)
        for base in (
            record(1),
            record(2).model_copy(
                update={"outcome": Outcome.DENIED, "provider_timeout": True, "provider": None}
            ),
        ):
            value, head = seal(base, 7, ChainHead(41, bytes(range(32))), signer)
            linked = base.model_copy(
                update={
                    "chain_partition": 7,
                    "chain_sequence": 42,
                    "previous_hash": bytes(range(32)),
                }
            )
            model = sign_record(linked, key_id, HUB_KEY)
            assert value == encode(model)
            assert head == ChainHead(42, model.record_hash)
            assert verify_record(decode_as(value, ProvisionRecord), {key_id: KEYS[1]}).genuine
