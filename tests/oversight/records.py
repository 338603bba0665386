"""Records as the oversight body reads them from Kafka, built without a broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hub.deadletters import DeadLetterReason, dead_letter
from oversight.observations import Observation, observe
from schemas.codec import encode
from schemas.models import (
    AgencySuspension,
    Metadata,
    Notice,
    NoticeAcknowledged,
    NumberChanged,
    Outcome,
    ProvisionRecord,
)
from schemas.topics import CONTROL, DEAD_LETTERS, PROVISION_RECORDS, outbound
from schemas.vocabulary import DenialReason, Sector

NOON = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo


def meta(sender: str, at: datetime = NOON) -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=at, sender=sender)


def provision_record(
    requester: str = "mun-27100",
    provider: str | None = "mun-13101",
    *,
    at: datetime = NOON,
    reason: DenialReason | None = None,
    purpose: str | None = "resident_tax_assessment",
    row: str | None = "tx-01",
    sector: Sector | None = Sector.TAX,
    over_provided: tuple[str, ...] = (),
    trigger: uuid.UUID | None = None,
    subject: bytes = b"\x01" * 33,
    request_id: uuid.UUID | None = None,
) -> bytes:
    return encode(
        ProvisionRecord(
            metadata=meta("hub", at),
            record_id=uuid.uuid4(),
            request_id=request_id or uuid.uuid4(),
            requester=requester,
            provider=provider,
            purpose=purpose,
            sector=sector,
            legal_basis_row=row,
            table_version="2026.1",
            attributes=["taxable_income"],
            trigger_event_id=trigger,
            subject_code=subject,
            outcome=Outcome.PROVIDED if reason is None else Outcome.DENIED,
            reason=reason,
            over_provided=list(over_provided),
            chain_partition=0,
            chain_sequence=1,
            previous_hash=bytes(32),
            record_hash=bytes(32),
        )
    )


def provision(requester: str = "mun-27100", **kwargs: object) -> Observation:
    observation = observe(PROVISION_RECORDS, provision_record(requester, **kwargs), (), 0)  # type: ignore[arg-type]
    assert observation is not None
    return observation


def refused(
    agency: str,
    reason: DeadLetterReason = DeadLetterReason.INVALID,
    detail: str = "NOT_ENTITLED: a relocation is asserted by the destination municipality",
    at: datetime = NOON,
) -> Observation:
    letter = dead_letter(
        b"original bytes", reason=reason, detail=detail, topic=outbound(agency), partition=0,
        offset=7, now=at,
    )  # fmt: skip
    observation = observe(DEAD_LETTERS, letter.value, letter.headers, 0)
    assert observation is not None
    return observation


def number_change(municipality: str, at: datetime = NOON) -> Observation:
    value = encode(NumberChanged(metadata=meta(municipality, at), person_code=b"\x02" * 33))
    observation = observe(outbound(municipality), value, (), int(at.timestamp() * 1000))
    assert observation is not None
    return observation


def notice(sender: str, at: datetime = NOON) -> Observation:
    value = encode(
        Notice(
            metadata=meta(sender, at), notice_id=uuid.uuid4(), person_code=b"\x02" * 33,
            category="pension_statement", title="t", body="b",
        )
    )  # fmt: skip
    observation = observe(outbound(sender), value, (), int(at.timestamp() * 1000))
    assert observation is not None
    return observation


def acknowledgement(notice_sender: str, at: datetime = NOON) -> Observation:
    value = encode(
        NoticeAcknowledged(
            metadata=meta("portal", at), notice_id=uuid.uuid4(), delivered_at=at,
            notice_sender=notice_sender,
        )
    )  # fmt: skip
    observation = observe(outbound("portal"), value, (), int(at.timestamp() * 1000))
    assert observation is not None
    return observation


def suspension(agency: str, suspended: bool = True, at: datetime = NOON) -> Observation:
    value = encode(
        AgencySuspension(metadata=meta("ppc", at), agency=agency, suspended=suspended, reason="x")
    )
    observation = observe(CONTROL, value, (), int(at.timestamp() * 1000))
    assert observation is not None
    return observation
