"""What an event published by an agency means for the hub: the state changes it makes and the
deliveries it fans out to (DOMAIN.md §3, §5, §9, §10). Planning is pure; the caller applies
the returned changes with `state.apply_all` and sends the deliveries.

Trust rules, because a field alone proves nothing about who vouches for it:
- a Relocation is reported by the destination municipality;
- legal proxies come from DependencyChanged facts published by a municipality;
- a voluntary (or legal) ProxyRegistered authorises only when the principal confirmed it
  (published by the portal or a municipality) or a municipality checked it at its counter;
  registered by the would-be proxy alone it is recorded and authorises nothing;
- a NumberChanged comes from a municipality, with a valid new number not used by anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from hub.core.decision import kind_of
from hub.core.fanout import TRIGGER_TYPES, Delivery, fan_out
from hub.core.keyring import Keyring
from hub.core.legal_basis import LegalBasisTable
from hub.core.outcomes import Deny
from hub.core.rollout import Rollout
from hub.core.state import (
    ALL_SCOPES,
    AddHolder,
    Change,
    ChangeNumber,
    Confirmation,
    Consent,
    EventRecord,
    GiveConsent,
    GrantProxy,
    HubState,
    ProxyGrant,
    RecordEvent,
    RevokeProxy,
    WithdrawConsent,
)
from schemas import individual_number
from schemas.models import (
    ApplicationReceived,
    ClinicalUpdate,
    ConsentGiven,
    ConsentWithdrawn,
    DependencyChanged,
    DependencyRelationship,
    Message,
    NumberChanged,
    ProxyKind,
    ProxyRegistered,
    ProxyRegistrant,
    ProxyRevoked,
    Relocation,
)
from schemas.models import Change as FactChange
from schemas.vocabulary import AgencyKind, DenialReason, EventType

R = DenialReason
_CODE_FIELDS = ("person_code", "principal_code", "related_person_code", "proxy_code")
_CONFIRMERS = {
    ProxyRegistrant.PRINCIPAL: (
        frozenset({AgencyKind.PORTAL, AgencyKind.MUNICIPALITY}),
        Confirmation.PRINCIPAL,
    ),
    ProxyRegistrant.MUNICIPAL_COUNTER_CHECK: (
        frozenset({AgencyKind.MUNICIPALITY}),
        Confirmation.MUNICIPAL_COUNTER_CHECK,
    ),
}


@dataclass(frozen=True, slots=True)
class EventPlan:
    person_id: bytes
    changes: tuple[Change, ...]
    deliveries: tuple[Delivery, ...]


def number_claim_refusal(
    publisher_kind: AgencyKind | None, index: bytes | None, person_id: bytes, state: HubState
) -> Deny | None:
    """Why a number change may not give `person_id` the number whose blind index is `index`
    (None: it may). `state` must hold that index's entries: the shell asks where they live."""
    if publisher_kind is not AgencyKind.MUNICIPALITY:
        return Deny(R.MALFORMED, "a number change is published by a municipality")
    if index is None:
        return Deny(R.MALFORMED, "a number change needs a valid new individual number")
    if index in state.revoked_numbers:
        return Deny(R.NUMBER_REVOKED, "the new individual number was itself revoked")
    if state.numbers.get(index, person_id) != person_id:
        return Deny(R.MALFORMED, "the new individual number belongs to another person")
    return None


def _seconds(moment: datetime | date) -> int:
    if isinstance(moment, datetime):
        return int(moment.timestamp())
    return int(datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp())


def plan_event(
    event: Message,
    state: HubState,
    table: LegalBasisTable,
    rollout: Rollout,
    keys: Keyring,
    new_number_index: bytes | None = None,
) -> EventPlan | Deny:
    """Decode the event's person codes under the publisher's key, derive its state changes and
    its fan-out. An unknown code is UNKNOWN_CODE; an event from the wrong kind of publisher or
    with an unusable number is MALFORMED (the shell dead-letters either).

    For a NumberChanged whose number the shell already reduced to its blind index (so that the
    number never enters a hub-internal topic), pass that index as `new_number_index`."""
    publisher = event.metadata.sender
    publisher_kind = kind_of(state, publisher)
    if publisher_kind is None:
        return Deny(R.MALFORMED, "events are published by agencies")
    persons: dict[str, bytes] = {}
    for field in _CODE_FIELDS:
        code = getattr(event, field, None)
        if code is not None:
            person_id = keys.codes.decode(publisher, code)
            if person_id is None:
                return Deny(R.UNKNOWN_CODE, f"{field} is not a code the hub issued to {publisher}")
            persons[field] = person_id
    subject = next(iter(persons.values()))
    if state.person(subject).event(event.metadata.message_id.bytes) is not None:
        # The same event again (a publisher retrying after a timeout): it changed the state
        # and was delivered the first time; nobody hears of it twice.
        return EventPlan(subject, (), ())
    changes: list[Change] = []
    match event:
        case Relocation() if publisher != event.to_municipality:
            return Deny(R.MALFORMED, "a relocation is reported by the destination municipality")
        case DependencyChanged() if (
            publisher_kind is AgencyKind.MUNICIPALITY
            and event.relationship is not DependencyRelationship.DEPENDANT
        ):
            guardian = persons["related_person_code"]
            if event.change is FactChange.ADDED:
                until = None if event.until is None else _seconds(event.until)
                grant = ProxyGrant(
                    guardian,
                    True,
                    frozenset({ALL_SCOPES}),
                    _seconds(event.effective_on),
                    until,
                    Confirmation.DEPENDENCY,
                )
                changes.append(GrantProxy(subject, grant))
            else:
                changes.append(RevokeProxy(subject, guardian))
        case ConsentGiven():
            expires = None if event.expires_at is None else _seconds(event.expires_at)
            changes.append(GiveConsent(subject, Consent(event.purpose, event.recipient, expires)))
        case ConsentWithdrawn():
            changes.append(WithdrawConsent(subject, event.purpose, event.recipient))
        case ProxyRegistered():
            allowed, confirmation = _CONFIRMERS.get(
                event.registered_by, (frozenset(), Confirmation.UNCONFIRMED)
            )
            grant = ProxyGrant(
                persons["proxy_code"],
                event.kind is ProxyKind.LEGAL,
                frozenset(event.scope),
                _seconds(event.metadata.occurred_at),
                None if event.expires_at is None else _seconds(event.expires_at),
                confirmation if publisher_kind in allowed else Confirmation.UNCONFIRMED,
            )
            changes.append(GrantProxy(subject, grant))
        case ProxyRevoked():
            changes.append(RevokeProxy(subject, persons["proxy_code"]))
        case NumberChanged():
            number = event.new_number
            index = new_number_index
            if index is None and number is not None and individual_number.is_valid(number):
                index = keys.number_index(number)
            refused = number_claim_refusal(publisher_kind, index, subject, state)
            if refused is not None:
                return refused
            assert index is not None
            changes.append(ChangeNumber(subject, index))
    deliveries = fan_out(event, persons, state, table, rollout, keys)
    event_type = EventType(event.MESSAGE_TYPE)
    if event_type in TRIGGER_TYPES:
        counterpart = None
        if isinstance(event, Relocation):
            counterpart = event.from_municipality
        elif isinstance(event, ClinicalUpdate):
            counterpart = publisher
            changes.extend(AddHolder(subject, d.agency) for d in deliveries)
        record = EventRecord(
            event_id=event.metadata.message_id.bytes,
            type=event_type,
            at=_seconds(event.metadata.occurred_at),
            publisher=publisher,
            entitled=(publisher, *(d.agency for d in deliveries)),
            counterpart=counterpart,
            procedure=event.procedure if isinstance(event, ApplicationReceived) else None,
        )
        changes.insert(0, RecordEvent(subject, record))
    return EventPlan(subject, tuple(changes), deliveries)
