"""Event fan-out (DOMAIN.md §5): who hears about an event, each under its own code.

An event goes only to agencies that subscribed to its type, are entitled to it by a live
legal-basis row that accepts it as a trigger for their kind, and already hold every person it
names. Nobody learns about people they do not serve. Narrower still: an ApplicationReceived is
the applicant agency's own trigger and goes to nobody (that someone applied for public
assistance is nobody else's business); a ClinicalUpdate goes only to the institution it refers
the person to (which thereby comes to hold the person). A NumberChanged goes to every agency
holding the person, without the new number, so they update their records.
Consent, proxy and dependency events go to the portal only (the person's own view).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.core.keyring import Keyring
from hub.core.legal_basis import LegalBasisTable, Row
from hub.core.rollout import Rollout
from hub.core.state import HubState
from schemas.models import ApplicationReceived, ClinicalUpdate, Message, NumberChanged
from schemas.vocabulary import AgencyKind, EventType

TRIGGER_TYPES = frozenset(
    {
        EventType.RELOCATION,
        EventType.INCOME_DETERMINED,
        EventType.CLINICAL_UPDATE,
        EventType.APPLICATION_RECEIVED,
    }
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """The event as `agency` receives it: same record, the agency's own codes. `row` is the
    legal-basis row that entitles the agency to it, when one does (a disclosure the person's
    provision records show); None for the person's own portal and number-change notices."""

    agency: str
    event: Message
    row: Row | None = None


def _entitling_row(
    event_type: EventType,
    agency: str,
    kind: AgencyKind,
    table: LegalBasisTable,
    rollout: Rollout,
) -> Row | None:
    """The live row that entitles `agency`, in the rollout's scope, to a trigger event."""
    if not rollout.in_scope(agency, kind):
        return None
    for row in table.by_trigger.get((event_type, kind), ()):
        if row.sector in rollout.live_sectors:
            return row
    return None


def fan_out(
    event: Message,
    persons: Mapping[str, bytes],
    state: HubState,
    table: LegalBasisTable,
    rollout: Rollout,
    keys: Keyring,
) -> tuple[Delivery, ...]:
    """The deliveries of `event`. `persons` maps each person-code field of the event to the
    person id it decoded to; the first is the person the event is about."""
    publisher = event.metadata.sender
    event_type = EventType(event.MESSAGE_TYPE)
    subject = next(iter(persons.values()))
    holders = state.person(subject).holders
    strip: dict[str, object] = {}
    if isinstance(event, NumberChanged):
        candidates = tuple(a for a in holders if a != publisher)
        strip = {"new_number": None, "sealed_new_number": None}
    elif isinstance(event, ApplicationReceived):
        candidates = ()
    elif isinstance(event, ClinicalUpdate):
        referred = event.referred_to
        candidates = () if referred is None or referred == publisher else (referred,)
    else:
        others = [state.person(pid).holders for pid in list(persons.values())[1:]]
        candidates = tuple(
            a for a in holders if a != publisher and all(a in held for held in others)
        )
    deliveries = []
    for agency in candidates:
        if agency in state.suspended:  # a suspended agency gets nothing (DOMAIN.md §11)
            continue
        row = None
        if not isinstance(event, NumberChanged):
            entry = state.agencies.get(agency)
            if entry is None or event_type not in entry.subscriptions:
                continue
            if event_type in TRIGGER_TYPES:
                row = _entitling_row(event_type, agency, entry.kind, table, rollout)
                if row is None:
                    continue
            elif entry.kind is not AgencyKind.PORTAL:  # the person's own view only
                continue
        codes = {field: keys.codes.encode(agency, pid) for field, pid in persons.items()}
        deliveries.append(Delivery(agency, event.model_copy(update=codes | strip), row))
    return tuple(deliveries)
