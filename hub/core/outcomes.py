"""What the decision core returns: a route, a denial, an enrolment — values, not exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from schemas.vocabulary import DenialReason, Sector


@dataclass(frozen=True, slots=True)
class Deny:
    """A refused message. `message` is plain text for people and never holds personal data.

    The context fields (when known at the step that refused) are for the provision record.
    """

    reason: DenialReason
    message: str
    person_id: bytes | None = None
    proxy_person_id: bytes | None = None
    row: str | None = None
    sector: Sector | None = None
    table_version: str | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """An authorised request: forward an AttributeQuery to `provider`."""

    request_id: UUID
    requester: str
    provider: str
    provider_code: bytes
    purpose: str
    attributes: tuple[str, ...]  # the authorised names, in the order requested
    reply_token: bytes
    row: str
    sector: Sector
    table_version: str
    trigger_event_id: UUID
    person_id: bytes
    proxy_person_id: bytes | None


@dataclass(frozen=True, slots=True)
class Enrolled:
    """An accepted enrolment: `code` goes back to the agency in EnrolmentConfirmed."""

    request_id: UUID
    agency: str
    person_id: bytes
    code: bytes
    number_index: bytes
    new_person: bool


Decision = Route | Deny
