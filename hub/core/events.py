"""What an event published by an agency means for the hub: the state changes it makes and the
deliveries it fans out to (DOMAIN.md §3, §5, §9, §10). Planning is pure; the caller applies
the returned changes with `state.apply_all` and sends the deliveries.

Who may assert each fact is the trust table (`hub.core.trust`, checked by
`hub.core.entitlement` before anything changes). Beyond it, because a field alone proves nothing
about who vouches for it:
- legal proxies come from DependencyChanged facts published by a municipality;
- a voluntary (or legal) ProxyRegistered authorises only when the principal confirmed it
  (published by the portal or a municipality) or a municipality checked it at its counter;
  registered by the would-be proxy alone it is recorded and authorises nothing;
- a NumberChanged comes from a municipality, with a valid new number not used by anyone else
  (checked where the new number's index lives: `numbers.claim_number`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from hub.core.decision import kind_of
from hub.core.entitlement import Refused, assertion_refusal
from hub.core.fanout import TRIGGER_TYPES, Delivery, fan_out
from hub.core.keyring import Keyring
from hub.core.legal_basis import LegalBasisTable
from hub.core.outcomes import Deny
from hub.core.rollout import Rollout
from hub.core.state import (
    ALL_SCOPES,
    AddHolder,
    Change,
    Confirmation,
    Consent,
    EventRecord,
    Forward,
    GiveConsent,
    GrantProxy,
    HubState,
    MoveNumber,
    ProxyGrant,
    RecordEvent,
    RevokeNumber,
    RevokeProxy,
    WithdrawConsent,
)
from hub.core.trust import TrustTable
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
    changes: tuple[Change, ...]  # to apply in this partition (the person's)
    deliveries: tuple[Delivery, ...]
    forwards: tuple[Forward, ...] = ()  # for the partitions of other keys


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
    *,
    trust: TrustTable,
    now: datetime,
    new_number_index: bytes | None = None,
) -> EventPlan | Deny | Refused:
    """Decode the event's person codes under the publisher's key, derive its state changes and
    its fan-out. An unknown code is UNKNOWN_CODE; an event from the wrong kind of publisher or
    with an unusable number is MALFORMED (the shell dead-letters either).

    A NumberChanged reaches the person after its new number was reduced to its blind index
    (the number never enters a hub-internal topic) and claimed where that index lives
    (`numbers.claim_number`): pass the index as `new_number_index`.

    Before anything changes, the fact must count (`entitlement.assertion_refusal`, the trust
    table of DOMAIN.md §14): otherwise it is `Refused` and changes nothing. A trigger's window
    counts from the earlier of its stated time and `now`, the hub's first sight of it."""
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
    refused = assertion_refusal(event, publisher_kind, persons, state, trust, table, keys, now)
    if refused is not None:
        return refused
    subject = next(iter(persons.values()))
    if state.person(subject).event(event.metadata.message_id.bytes) is not None:
        # The same event again (a publisher retrying after a timeout): it changed the state
        # and was delivered the first time; nobody hears of it twice.
        return EventPlan(subject, (), ())
    changes: list[Change] = []
    forwards: list[Forward] = []
    match event:
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
            # The later of the stated time and first sight: a token issued before either
            # cannot give the consent again (`entitlement`), whoever's clock runs ahead.
            at = max(event.metadata.occurred_at.timestamp(), now.timestamp())
            changes.append(WithdrawConsent(subject, event.purpose, event.recipient, at))
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
            if publisher_kind is not AgencyKind.MUNICIPALITY:
                return Deny(R.MALFORMED, "a number change is published by a municipality")
            if new_number_index is None:
                return Deny(R.MALFORMED, "a number change needs a valid new individual number")
            changes.append(MoveNumber(subject, new_number_index))
            old = state.person(subject).number_index
            if old is not None and old != new_number_index:
                at = _seconds(event.metadata.occurred_at)
                forwards.append(Forward(old, RevokeNumber(old, at)))
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
            at=min(_seconds(event.metadata.occurred_at), int(now.timestamp())),
            publisher=publisher,
            entitled=(publisher, *(d.agency for d in deliveries)),
            counterpart=counterpart,
            procedure=event.procedure if isinstance(event, ApplicationReceived) else None,
        )
        changes.insert(0, RecordEvent(subject, record))
    return EventPlan(subject, tuple(changes), deliveries, tuple(forwards))
