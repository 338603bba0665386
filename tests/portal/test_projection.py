"""What a consumed message means for the read model, as pure functions (no broker)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.audit import ChainHead as HubHead
from hub.audit import RecordSigner, seal
from portal.projection import ChainHead, Insert, Update, project, project_record
from schemas.codec import decode_as
from schemas.models import (
    Change,
    ConsentWithdrawn,
    DependencyChanged,
    DependencyRelationship,
    Metadata,
    Outcome,
    ProvisionRecord,
)

AT = datetime(2026, 6, 1, 9, tzinfo=UTC)
SIGNER_KEY = Ed25519PrivateKey.generate()
SIGNER = RecordSigner(1, SIGNER_KEY)


def meta(sender: str) -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=AT, sender=sender)


def sealed_chain(count: int) -> list[tuple[ProvisionRecord, bytes]]:
    head, chain = HubHead(), []
    for _ in range(count):
        record = ProvisionRecord(
            metadata=meta("hub"), record_id=uuid.uuid4(), request_id=uuid.uuid4(),
            requester="jps", attributes=["taxable_income"], subject_code=b"p",
            outcome=Outcome.PROVIDED, chain_partition=0, chain_sequence=0,
            previous_hash=b"", record_hash=b"",
        )  # fmt: skip
        value, head = seal(record, 0, head, SIGNER)
        chain.append((decode_as(value, ProvisionRecord), value))
    return chain


def test_records_in_chain_order_verify_their_position() -> None:
    head = ChainHead()
    for record, value in sealed_chain(3):
        row, head = project_record(record, value, head)
        assert row.values["chain_verified"] is True
    assert head.sequence == 3


def test_an_altered_record_does_not_verify() -> None:
    ((record, value),) = sealed_chain(1)
    altered = record.model_copy(update={"attributes": ["taxable_income", "household_members"]})
    row, _ = project_record(altered, value, ChainHead())
    assert row.values["chain_verified"] is False


def test_a_missing_record_breaks_the_position_of_the_next() -> None:
    chain = sealed_chain(3)
    row, head = project_record(chain[0][0], chain[0][1], ChainHead())
    row, _ = project_record(chain[2][0], chain[2][1], head)  # the second never arrived
    assert row.values["chain_verified"] is False


def test_withdrawing_consent_ends_only_the_live_consent_for_that_purpose_and_recipient() -> None:
    withdrawn = ConsentWithdrawn(metadata=meta("portal"), person_code=b"p",
                                 purpose="continuity_of_care", recipient="med-0002")  # fmt: skip
    (change,) = project(withdrawn, b"", AT)
    assert isinstance(change, Update)
    assert change.where == {"person_code": b"p", "purpose": "continuity_of_care",
                            "recipient": "med-0002"}  # fmt: skip
    assert change.unset == ("withdrawn_at",)


def test_a_guardianship_becomes_a_legal_proxy_for_everything_and_its_end_revokes_it() -> None:
    def fact(change: Change, relationship: DependencyRelationship) -> DependencyChanged:
        return DependencyChanged(
            metadata=meta("mun-13101"), person_code=b"ward", related_person_code=b"guardian",
            relationship=relationship, change=change, effective_on=date(2026, 1, 1),
        )  # fmt: skip

    (added,) = project(fact(Change.ADDED, DependencyRelationship.GUARDIAN), b"", AT)
    assert isinstance(added, Insert)
    assert added.values["kind"] == "LEGAL"
    assert added.values["scope"] == ["*"]
    assert added.values["status"] == "CONFIRMED"
    (ended,) = project(fact(Change.REMOVED, DependencyRelationship.GUARDIAN), b"", AT)
    assert isinstance(ended, Update)
    assert ended.values["status"] == "REVOKED"
    assert project(fact(Change.ADDED, DependencyRelationship.DEPENDANT), b"", AT) == []


def test_a_record_verifies_its_hub_signature_with_the_hubs_public_key_only() -> None:
    ((record, value),) = sealed_chain(1)
    public = {1: SIGNER_KEY.public_key()}
    row, _ = project_record(record, value, ChainHead(), public)
    assert row.values["signature_verified"] is True
    stranger = {1: Ed25519PrivateKey.generate().public_key()}
    row, _ = project_record(record, value, ChainHead(), stranger)
    assert row.values["signature_verified"] is False
    row, _ = project_record(record, value, ChainHead())
    assert row.values["signature_verified"] is None  # no key: not checked, never "verified"


def test_a_record_rechained_by_someone_without_the_hubs_key_fails_its_signature() -> None:
    ((record, _),) = sealed_chain(1)
    forged_chain = seal(record.model_copy(update={"attributes": ["household_members"]}), 0,
                        HubHead(), RecordSigner(1, Ed25519PrivateKey.generate()))  # fmt: skip
    forged = decode_as(forged_chain[0], ProvisionRecord)
    row, _ = project_record(forged, forged_chain[0], ChainHead(), {1: SIGNER_KEY.public_key()})
    assert row.values["chain_verified"] is True  # a correct chain proves nothing alone
    assert row.values["signature_verified"] is False
