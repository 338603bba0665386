"""What the oversight body (第三者機関) observes: one small value per Kafka record it reads.

The oversight body reads provision records (情報提供等記録), dead letters, the control topic and
the agencies' outbound topics (read-only), and turns each record into an observation here,
without I/O. An observation keeps only what statistics and anomaly rules count: agency ids,
purposes, legal-basis rows, sectors, reason codes and times. The one thing about a person it
keeps is a digest of the provision record's subject code, so a rule can count *how many*
persons one trigger event reached; the digest never leaves the oversight process.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from hub.deadletters import HEADER_DETAIL, HEADER_REASON, HEADER_TIME, HEADER_TOPIC
from hub.topics import owner_of
from schemas.codec import DecodeError, decode, decode_as, message_type
from schemas.models import AgencySuspension, Message, NoticeAcknowledged, ProvisionRecord
from schemas.topics import CONTROL, DEAD_LETTERS, PROVISION_RECORDS

PROVIDER_TIMEOUT = "PROVIDER_TIMEOUT"  # the reason code of a timeout, counted on its own
OTHER_REASON = "OTHER"  # what an unreadable reason is counted as
# A reason code is an upper-case word; anything else is not trusted as a label.
_REASON = re.compile(r"[A-Z][A-Z0-9_]{1,39}")
# A dead letter of reason INVALID (decodes, but breaks a rule) names the rule's reason first in
# its detail: "NOT_ENTITLED: …", "FUTURE_DATED: …".
INVALID = "INVALID"
_DETAIL_REASON = re.compile(r"([A-Z][A-Z0-9_]{1,39}):")


@dataclass(frozen=True, slots=True)
class Provision:
    """A provision record: a provision (reason None) or a denial with its reason."""

    at: datetime
    requester: str
    provider: str | None
    purpose: str | None
    legal_basis_row: str | None
    sector: str | None
    reason: str | None
    over_provided: int  # attributes the provider sent beyond the authorised set
    trigger_event: UUID | None
    subject: bytes  # a digest of the subject's portal code: for counting persons only
    # A trigger event the hub delivered because a legal-basis row entitles the receiving agency
    # (recorded with the event's id as request id): a disclosure, not the agency's request.
    disclosure: bool = False

    @property
    def provided(self) -> bool:
        return self.reason is None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A dead letter: an agency's input the hub refused, by reason (NOT_ENTITLED, …)."""

    at: datetime
    agency: str | None  # the owner of the topic it came from; None for hub-internal input
    reason: str


@dataclass(frozen=True, slots=True)
class AgencyAct:
    """A message an agency published on its outbound topic that statistics or rules count:
    a number change, a notice, or (with `agency` the notice's sender) an acknowledgement."""

    at: datetime
    agency: str
    message_type: str


@dataclass(frozen=True, slots=True)
class ControlAct:
    """A control message: a suspension or its lifting, a table, a rollout change, …"""

    at: datetime
    sender: str
    message_type: str
    agency: str | None = None  # the agency a suspension concerns
    suspended: bool | None = None


Observation = Provision | Refusal | AgencyAct | ControlAct

# Outbound messages the oversight body counts; every other agency message is left unread.
COUNTED_AGENCY_MESSAGES = frozenset({"NumberChanged", "Notice", "NoticeAcknowledged"})


def reason_label(text: str) -> str:
    """A reason code as a label: itself when it reads like one, else OTHER (so a malformed or
    future reason can neither break the oversight body nor grow its metrics without bound)."""
    return text if _REASON.fullmatch(text) else OTHER_REASON


def subject_digest(code: bytes) -> bytes:
    return hashlib.blake2b(code, digest_size=8, person=b"renkei-ppc").digest()


def _from_ms(timestamp_ms: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC)


def provision(record: ProvisionRecord) -> Provision:
    return Provision(
        at=record.metadata.occurred_at.astimezone(UTC),
        requester=record.requester,
        provider=record.provider,
        purpose=record.purpose,
        legal_basis_row=record.legal_basis_row,
        sector=None if record.sector is None else record.sector.value,
        reason=record.reason_code,
        over_provided=len(record.over_provided),
        trigger_event=record.trigger_event_id,
        subject=subject_digest(record.subject_code),
        disclosure=record.trigger_event_id == record.request_id,
    )


def refusal(headers: Sequence[tuple[str, bytes]], timestamp_ms: int) -> Refusal:
    """A dead letter from its headers alone (its value is the refused input: never read)."""
    h = dict(headers)
    reason = reason_label(h.get(HEADER_REASON, b"").decode(errors="replace"))
    if reason == INVALID:  # e.g. "NOT_ENTITLED: …": the domain reason it names counts
        detailed = _DETAIL_REASON.match(h.get(HEADER_DETAIL, b"").decode(errors="replace"))
        if detailed is not None:
            reason = detailed[1]
    try:
        at = datetime.fromisoformat(h[HEADER_TIME].decode()).astimezone(UTC)
    except (KeyError, ValueError):
        at = _from_ms(timestamp_ms)
    return Refusal(at, owner_of(h.get(HEADER_TOPIC, b"").decode(errors="replace")), reason)


def control_act(message: Message, timestamp_ms: int) -> ControlAct:
    at = _from_ms(timestamp_ms)
    if isinstance(message, AgencySuspension):
        return ControlAct(
            at, message.metadata.sender, message.MESSAGE_TYPE, message.agency, message.suspended
        )
    return ControlAct(at, message.metadata.sender, message.MESSAGE_TYPE)


def agency_act(agency: str, value: bytes, timestamp_ms: int) -> AgencyAct | None:
    """A counted message of `agency`'s outbound topic; None for any other (or undecodable)."""
    try:
        kind = message_type(value)
    except DecodeError:
        return None  # the hub dead-letters it; counted from there
    if kind not in COUNTED_AGENCY_MESSAGES:
        return None
    at = _from_ms(timestamp_ms)
    if kind != "NoticeAcknowledged":
        return AgencyAct(at, agency, kind)
    try:
        acknowledgement = decode(value)
    except DecodeError:
        return None
    assert isinstance(acknowledgement, NoticeAcknowledged)
    if acknowledgement.notice_sender is None:
        return None  # the hub dead-letters it: it names no agency to credit
    return AgencyAct(at, acknowledgement.notice_sender, kind)


def observe(
    topic: str, value: bytes | None, headers: Sequence[tuple[str, bytes]], timestamp_ms: int
) -> Observation | None:
    """The observation a record of `topic` makes, or None when there is nothing to count."""
    if topic == DEAD_LETTERS:
        return refusal(headers, timestamp_ms)
    if value is None:
        return None
    if topic == PROVISION_RECORDS:
        try:
            return provision(decode_as(value, ProvisionRecord))
        except DecodeError:
            return None  # `renkei hub audit verify` reports a broken chain
    if topic == CONTROL:
        try:
            return control_act(decode(value), timestamp_ms)
        except DecodeError:
            return None
    agency = owner_of(topic)
    return None if agency is None else agency_act(agency, value, timestamp_ms)
