"""What a provision record (情報提供等記録, DOMAIN.md §8) says about one request's outcome: one
value, built from the denial, the checked answer or the disclosed event alike. The shell adds
what is not the core's (record id, time, codes, the hash chain)."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from hub.core.answers import CheckedAnswer
from hub.core.legal_basis import Row
from hub.core.outcomes import Deny
from hub.core.tokens import ReplyTicket
from schemas.models import AttributeRequest, Message
from schemas.vocabulary import DenialReason, Sector


@dataclass(frozen=True, slots=True)
class Provision:
    """A provided, denied, withheld or timed-out request, or a disclosed event, as its record
    names it.
    `reason` None is provided; person ids are for the shell to turn into the portal's codes."""

    request_id: UUID
    requester: str
    provider: str | None
    purpose: str | None
    sector: Sector | None
    row: str | None
    table_version: str | None
    attributes: tuple[str, ...]  # names only, never values
    trigger_event_id: UUID | None
    person_id: bytes | None = field(repr=False)
    proxy_person_id: bytes | None = field(repr=False)
    reason: DenialReason | None = None
    over_provided: tuple[str, ...] = ()
    provider_timeout: bool = False  # the provider did not answer in time (PROVIDER_TIMEOUT)

    @classmethod
    def denied(cls, request: AttributeRequest, deny: Deny) -> Provision:
        """A refused request: what it asked for, with the context the refusing step knew."""
        return cls(
            request.request_id,
            request.metadata.sender,
            request.provider,
            request.purpose if deny.row is not None else None,  # unchecked words otherwise
            deny.sector,
            deny.row,
            deny.table_version,
            tuple(dict.fromkeys(request.attributes)),
            request.trigger_event_id,
            deny.person_id,
            deny.proxy_person_id,
            deny.reason,
        )

    @classmethod
    def enrolment_denied(cls, request_id: UUID, agency: str, deny: Deny) -> Provision:
        """A refused enrolment: nobody was asked and no person is known."""
        return cls(
            request_id, agency, None, None, None, None, None, (), None, None, None, deny.reason
        )

    @classmethod
    def disclosed(
        cls, event: Message, agency: str, row: Row, person_id: bytes, table_version: str
    ) -> Provision:
        """A trigger event delivered to an agency because a legal-basis row entitles it (a
        referral reaching a hospital): the receiving agency learnt of the event about the
        person from its publisher. The event's id stands for the request id."""
        event_id = event.metadata.message_id
        return cls(
            event_id,
            agency,
            event.metadata.sender,
            row.purpose,
            row.sector,
            row.id,
            table_version,
            (event.MESSAGE_TYPE,),
            event_id,
            person_id,
            None,
        )

    @classmethod
    def withheld(cls, checked: CheckedAnswer, reason: DenialReason) -> Provision:
        """An answer that arrived once its provider or requester was suspended: nothing was
        delivered, and the record says why."""
        return cls._answered(checked.ticket, checked.ticket.attributes, reason, ())

    @classmethod
    def timed_out(cls, ticket: ReplyTicket) -> Provision:
        """PROVIDER_TIMEOUT: the provider did not answer before the deadline; nothing was
        provided. The attributes are those the query asked for."""
        return cls._answered(ticket, ticket.attributes, None, (), provider_timeout=True)

    @classmethod
    def provided(cls, checked: CheckedAnswer) -> Provision:
        """A delivered answer: the names provided, and what the provider sent beyond them."""
        names = tuple(v.name for v in checked.values)
        return cls._answered(
            checked.ticket, names, None, (*checked.over_provided, *checked.ill_typed)
        )

    @classmethod
    def _answered(
        cls,
        ticket: ReplyTicket,
        attributes: tuple[str, ...],
        reason: DenialReason | None,
        over_provided: tuple[str, ...],
        provider_timeout: bool = False,
    ) -> Provision:
        """A routed request's outcome, in the context its reply ticket kept from the request."""
        return cls(
            ticket.request_id,
            ticket.requester,
            ticket.provider,
            ticket.purpose,
            ticket.sector,
            ticket.row,
            ticket.table_version,
            attributes,
            ticket.trigger_event_id,
            ticket.person_id,
            ticket.proxy_person_id,
            reason,
            over_provided,
            provider_timeout,
        )
