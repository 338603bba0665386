"""The hub's state as plain data, changed only by explicit, deterministic update functions.

`HubState` is what one partition of the hub-internal topic sees:
- partitioned (each entry lives in the partition of its key, in the shell's partition store):
  per person (`PersonRecord`, keyed by person id: events seen, consents, proxies, the agencies
  that hold the person, the blind index of the current number); per blind index (the person it
  points to, or its revocation); per request of the persons here (decided request ids, used
  reply tokens, rate budgets). Records are immutable and small; an update replaces a record.
- broadcast (the same in every partition, from the control topic): the agency registry,
  suspensions, the rate policy.

The planners (`decision`, `events`, `numbers`) never change state: they return values and
`Change`s. A change to apply in this partition is applied with `apply`; a change that belongs to
the partition of another key comes back as a `Forward` the shell sends there. Times are whole
seconds since the epoch (UTC), passed in.
"""

from __future__ import annotations

import heapq
import json
import sys
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from hub.core.outcomes import Decision, Route
from hub.core.tokens import ReplyTicket
from schemas.consent_token import CLOCK_SKEW, MAX_TOKEN_LIFETIME
from schemas.vocabulary import AgencyKind, DenialReason, EventType

ALL_SCOPES = "*"  # a legal proxy acts in every sector


@dataclass(frozen=True, slots=True)
class EventRecord:
    """A trigger event the hub saw about a person, and who was entitled to know of it."""

    event_id: bytes  # the event's message id, 16 bytes
    type: EventType
    at: int  # when it occurred
    publisher: str
    entitled: tuple[str, ...]  # the publisher and every agency it was delivered to
    counterpart: str | None = None  # the agency a request after it must address, if it names one
    procedure: str | None = None  # ApplicationReceived: the purpose applied for

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.event_id.hex(),
            "type": self.type.value,
            "at": self.at,
            "publisher": self.publisher,
            "entitled": list(self.entitled),
            "counterpart": self.counterpart,
            "procedure": self.procedure,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EventRecord:
        return cls(
            bytes.fromhex(d["id"]),
            EventType(d["type"]),
            int(d["at"]),
            sys_intern(d["publisher"]),
            tuple(sys_intern(a) for a in d["entitled"]),
            d["counterpart"],
            d["procedure"],
        )


@dataclass(frozen=True, slots=True)
class Consent:
    """The person's consent to a purpose, for one recipient agency or any (None)."""

    purpose: str
    recipient: str | None
    expires_at: int | None

    def live(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    def to_dict(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "recipient": self.recipient, "expires": self.expires_at}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Consent:
        return cls(d["purpose"], d["recipient"], d["expires"])


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """When the person withdrew a consent to a purpose, for one recipient or any (None): a
    consent token issued before it no longer gives the consent again. Kept only while such a
    token could still be valid (`WITHDRAWAL_REMEMBERED_S`)."""

    purpose: str
    recipient: str | None
    at: float  # seconds; the later of the withdrawal's stated time and the hub's first sight

    def covers(self, purpose: str, recipient: str, issued_at: float) -> bool:
        """The withdrawal undoes a token for `purpose` and `recipient` issued at `issued_at`."""
        return (
            self.purpose == purpose and self.recipient in (None, recipient) and issued_at <= self.at
        )

    def to_dict(self) -> dict[str, Any]:
        return {"purpose": self.purpose, "recipient": self.recipient, "at": self.at}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Withdrawal:
        return cls(d["purpose"], d["recipient"], float(d["at"]))


# A token lives at most an hour, and is accepted from five minutes before its stated issue
# time: after that long no token issued before a withdrawal can be presented, so the
# withdrawal need not be remembered any longer.
WITHDRAWAL_REMEMBERED_S = int((MAX_TOKEN_LIFETIME + CLOCK_SKEW).total_seconds())


class Confirmation:
    """Who vouched for a proxy. Only the first three authorise anything."""

    PRINCIPAL = "PRINCIPAL"  # the principal confirmed (portal sign-in or at a counter)
    MUNICIPAL_COUNTER_CHECK = "MUNICIPAL_COUNTER_CHECK"  # a municipality checked at its counter
    DEPENDENCY = "DEPENDENCY"  # a legal proxy derived from a DependencyChanged fact
    UNCONFIRMED = "UNCONFIRMED"  # the would-be proxy alone: recorded, never authorising


_AUTHORISING = frozenset(
    {Confirmation.PRINCIPAL, Confirmation.MUNICIPAL_COUNTER_CHECK, Confirmation.DEPENDENCY}
)


@dataclass(frozen=True, slots=True)
class ProxyGrant:
    """A proxy (代理) for the person whose record holds it."""

    proxy_id: bytes
    legal: bool
    scope: frozenset[str]  # sectors or purpose ids, or ALL_SCOPES
    valid_from: int
    expires_at: int | None
    confirmation: str

    def authorises(self, now: int, sector: str, purpose: str) -> bool:
        return (
            self.confirmation in _AUTHORISING
            and self.valid_from <= now
            and (self.expires_at is None or now < self.expires_at)
            and (ALL_SCOPES in self.scope or sector in self.scope or purpose in self.scope)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "proxy": self.proxy_id.hex(),
            "legal": self.legal,
            "scope": sorted(self.scope),
            "from": self.valid_from,
            "expires": self.expires_at,
            "confirmation": self.confirmation,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ProxyGrant:
        return cls(
            bytes.fromhex(d["proxy"]),
            bool(d["legal"]),
            frozenset(d["scope"]),
            int(d["from"]),
            d["expires"],
            d["confirmation"],
        )


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """Everything the hub keeps about one person. Empty parts share the empty tuple."""

    holders: tuple[str, ...] = ()
    events: tuple[EventRecord, ...] = ()
    consents: tuple[Consent, ...] = ()
    proxies: tuple[ProxyGrant, ...] = ()
    number_index: bytes | None = None
    withdrawals: tuple[Withdrawal, ...] = ()

    def event(self, event_id: bytes) -> EventRecord | None:
        for e in self.events:
            if e.event_id == event_id:
                return e
        return None

    def proxy(self, proxy_id: bytes) -> ProxyGrant | None:
        for p in self.proxies:
            if p.proxy_id == proxy_id:
                return p
        return None

    def to_dict(self) -> dict[str, Any]:
        d = {
            "holders": list(self.holders),
            "events": [e.to_dict() for e in self.events],
            "consents": [c.to_dict() for c in self.consents],
            "proxies": [p.to_dict() for p in self.proxies],
            "number_index": None if self.number_index is None else self.number_index.hex(),
        }
        if self.withdrawals:  # rare and short-lived: absent from almost every record
            d["withdrawals"] = [w.to_dict() for w in self.withdrawals]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PersonRecord:
        index = d["number_index"]
        return cls(
            holders=tuple(sys_intern(h) for h in d["holders"]),
            events=tuple(EventRecord.from_dict(e) for e in d["events"]),
            consents=tuple(Consent.from_dict(c) for c in d["consents"]),
            proxies=tuple(ProxyGrant.from_dict(p) for p in d["proxies"]),
            number_index=None if index is None else bytes.fromhex(index),
            withdrawals=tuple(Withdrawal.from_dict(w) for w in d.get("withdrawals", ())),
        )

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> PersonRecord:
        return cls.from_dict(json.loads(data))


def sys_intern(text: str) -> str:
    """Agency ids repeat across millions of records; one copy each keeps records small."""
    return sys.intern(text)


EMPTY_PERSON = PersonRecord()


@dataclass(frozen=True, slots=True)
class AgencyEntry:
    """The registry's view of an agency (from AgencyRegistered)."""

    kind: AgencyKind
    key_id: str
    subscriptions: frozenset[EventType]


# The default budget, sized from the demo's load (renkei/demo): it offers at most 200 requests
# a second from one agency (its background load, were all of it one agency's) and at most 64
# awaiting an outcome at once. Headroom factor 2.5 on the rate; a burst of two seconds at that
# rate, so a sender that stalled and catches up is not refused. Anything beyond is a flood:
# 5,000 requests in half a second get at most 1,000 + 0.5 x 500 = 1,250 routed.
DEMO_PEAK_PER_SECOND = 200.0
BUDGET_HEADROOM = 2.5
DEFAULT_PER_SECOND = DEMO_PEAK_PER_SECOND * BUDGET_HEADROOM
DEFAULT_BURST = 2 * DEFAULT_PER_SECOND


@dataclass(frozen=True, slots=True)
class RatePolicy:
    """Token bucket per agency: `capacity` requests at once, refilled at `per_second`;
    `overrides` gives some agencies their own (capacity, per second)."""

    capacity: float = DEFAULT_BURST
    per_second: float = DEFAULT_PER_SECOND
    overrides: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def for_agency(self, agency: str) -> tuple[float, float]:
        return self.overrides.get(agency, (self.capacity, self.per_second))

    def with_budgets(self, specs: Iterable[str]) -> RatePolicy:
        """This policy with budgets set from `CAPACITY/PER_SECOND` (every agency's default)
        or `AGENCY=CAPACITY/PER_SECOND` (one agency's); ValueError names a malformed one."""
        capacity, per_second, overrides = self.capacity, self.per_second, dict(self.overrides)
        for spec in specs:
            agency, _, budget = spec.rpartition("=")
            burst, slash, rate = budget.partition("/")
            try:
                pair = (float(burst), float(rate))
            except ValueError:
                pair = (-1.0, -1.0)
            if not slash or pair[0] < 1 or pair[1] < 0:
                raise ValueError(
                    f"budget {spec!r}: expected CAPACITY/PER_SECOND or AGENCY=CAPACITY/PER_SECOND "
                    "(a capacity of at least 1, a refill rate of at least 0)"
                )
            if agency:
                overrides[agency] = pair
            else:
                capacity, per_second = pair
        return RatePolicy(capacity, per_second, overrides)


@dataclass(frozen=True, slots=True)
class Decided:
    """A request id the hub decided: when, and the reply its requester received (encoded, so
    a repeated request gets the same reply again), or None while the provider has not
    answered. A routed request keeps, while it waits, what its reply ticket says (for the
    provision record of its timeout, `hub.core.timeouts`)."""

    at: int
    reply: bytes | None = field(default=None, repr=False)
    ticket: ReplyTicket | None = field(default=None, repr=False)


@dataclass(slots=True)
class HubState:
    """One partition's view. The shell passes its store's tables as the partitioned mappings
    (so every change is written to the changelog) and shares the broadcast ones."""

    persons: MutableMapping[bytes, PersonRecord] = field(default_factory=dict)
    numbers: MutableMapping[bytes, bytes] = field(default_factory=dict)  # blind index -> person
    revoked_numbers: MutableMapping[bytes, int] = field(default_factory=dict)  # index -> when
    agencies: dict[str, AgencyEntry] = field(default_factory=dict)
    suspended: dict[str, str] = field(default_factory=dict)  # agency -> reason
    rate_policy: RatePolicy = field(default_factory=RatePolicy)
    budgets: MutableMapping[str, tuple[float, float]] = field(default_factory=dict)  # tokens, at
    # (requester, request id as int: hashing a UUID object calls Python code) -> decided
    processed: MutableMapping[tuple[str, int], Decided] = field(default_factory=dict)
    used_tokens: MutableMapping[UUID, int] = field(default_factory=dict)  # request id -> expiry
    budget_share: int = 1  # how many partitions share each agency's rate budget
    # Routed requests waiting for an answer, oldest first: a heap of (decided at, request id
    # as int, requester), an index of `processed` (hub.core.timeouts), rebuilt on restore.
    waiting: list[tuple[int, int, str]] = field(default_factory=list)
    # Budgets set on the control channel (agency, or EVERY_AGENCY -> burst, per second): they
    # take precedence over `rate_policy`, the replica's own configuration.
    budgets_set: dict[str, tuple[float, float]] = field(default_factory=dict)

    def person(self, person_id: bytes) -> PersonRecord:
        return self.persons.get(person_id, EMPTY_PERSON)


# --- rate budgets -------------------------------------------------------------------------


EVERY_AGENCY = "*"  # in `budgets_set`: the budget of every agency without one of its own


def set_budget(
    budgets_set: dict[str, tuple[float, float]], agency: str | None, burst: int, per_second: int
) -> None:
    """From RateBudgetSet: one agency's budget, or (agency None) every agency's default."""
    budgets_set[EVERY_AGENCY if agency is None else agency] = (float(burst), float(per_second))


def budget_of(state: HubState, agency: str) -> tuple[float, float]:
    """The agency's (burst, per second): its own budget set on the control channel, else every
    agency's set there, else the replica's configured policy (`--budget`)."""
    budgets_set = state.budgets_set
    return (
        budgets_set.get(agency)
        or budgets_set.get(EVERY_AGENCY)
        or state.rate_policy.for_agency(agency)
    )


def budget_available(state: HubState, agency: str, now: float) -> float:
    """Requests the agency may still make at `now` in this partition (a token bucket, time
    passed in: when the broker took the request, so a backlog is metered by when it was sent
    and a test is deterministic). Each of the `budget_share` partitions holds its share of the
    agency's budget, so together they never allow more than the budget (a share is at least
    one request). Time only refills going forward: a request stamped earlier than the last
    one counted (another source partition's clock) refills nothing."""
    # on every request's path: without the calls a compare does instead
    capacity, per_second = budget_of(state, agency)
    share = state.budget_share
    capacity = capacity / share
    if capacity < 1.0:
        capacity = 1.0
    bucket = state.budgets.get(agency)
    if bucket is None:
        return capacity
    tokens, at = bucket
    if now > at:
        tokens += (now - at) * (per_second / share)
    return capacity if tokens > capacity else tokens


def spend_budget(state: HubState, agency: str, now: float) -> None:
    """Count one request at `now`; the bucket's clock never goes back."""
    _tokens, at = state.budgets.get(agency, (0.0, now))
    state.budgets[agency] = (budget_available(state, agency, now) - 1.0, max(at, now))


# Denials that cost budget like a routed request: a flood of forged codes or malformed
# requests is throttled (and shows in the agency's metrics) instead of probing for free.
METERED_DENIALS = frozenset({DenialReason.UNKNOWN_CODE, DenialReason.MALFORMED})


# --- changes to persons -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexNumber:
    """An enrolment, where the blind index lives: the index points to the person (first one
    wins: an enrolment never moves an index)."""

    number_index: bytes
    person_id: bytes


@dataclass(frozen=True, slots=True)
class AddHolder:
    """`agency` holds the person (enrolled them, or was referred to them); from an enrolment,
    also the index of the number it enrolled with, if the person has none yet."""

    person_id: bytes
    agency: str
    number_index: bytes | None = None


@dataclass(frozen=True, slots=True)
class RecordEvent:
    person_id: bytes
    event: EventRecord


@dataclass(frozen=True, slots=True)
class GiveConsent:
    person_id: bytes
    consent: Consent


@dataclass(frozen=True, slots=True)
class WithdrawConsent:
    person_id: bytes
    purpose: str
    recipient: str | None
    at: float  # when it was withdrawn: a consent token issued before no longer counts


@dataclass(frozen=True, slots=True)
class GrantProxy:
    principal_id: bytes
    grant: ProxyGrant


@dataclass(frozen=True, slots=True)
class RevokeProxy:
    principal_id: bytes
    proxy_id: bytes


@dataclass(frozen=True, slots=True)
class ClaimNumber:
    """A number change, where the new number's index lives: it points to the person now."""

    number_index: bytes
    person_id: bytes


@dataclass(frozen=True, slots=True)
class MoveNumber:
    """A number change, where the person lives: the person's current number is the new one."""

    person_id: bytes
    new_index: bytes


@dataclass(frozen=True, slots=True)
class RevokeNumber:
    """A number change, where the old number's index lives: enrolment with it is refused."""

    number_index: bytes
    at: int


@dataclass(frozen=True, slots=True)
class ContinueNumberChange:
    """The new number is claimed: carry the number change on to the person's partition."""

    person_id: bytes
    new_index: bytes


Change = (
    IndexNumber
    | AddHolder
    | RecordEvent
    | GiveConsent
    | WithdrawConsent
    | GrantProxy
    | RevokeProxy
    | ClaimNumber
    | MoveNumber
    | RevokeNumber
)


@dataclass(frozen=True, slots=True)
class Forward:
    """What must happen in the partition that owns `key` (a person id or a blind index): the
    shell sends it there, and that partition applies it (or, for a number change, plans the
    event with the claimed index)."""

    key: bytes
    change: AddHolder | RevokeNumber | ContinueNumberChange


def _with_holder(record: PersonRecord, agency: str) -> PersonRecord:
    if agency in record.holders:
        return record
    return replace(record, holders=(*record.holders, sys_intern(agency)))


def apply(state: HubState, change: Change) -> None:
    """Apply one change. Deterministic: every replica applying the same changes agrees."""
    persons = state.persons
    match change:
        case IndexNumber(index, person_id):
            if index not in state.numbers:
                state.numbers[index] = person_id
        case AddHolder(person_id, agency, index):
            record = _with_holder(state.person(person_id), agency)
            if record.number_index is None and index is not None:
                record = replace(record, number_index=index)
            if record is not state.persons.get(person_id):
                persons[person_id] = record
        case RecordEvent(person_id, event):
            record = state.person(person_id)
            kept_events = tuple(e for e in record.events if e.event_id != event.event_id)
            persons[person_id] = replace(record, events=(*kept_events, event))
        case GiveConsent(person_id, consent):
            record = state.person(person_id)
            kept_consents = tuple(
                c
                for c in record.consents
                if (c.purpose, c.recipient) != (consent.purpose, consent.recipient)
            )
            persons[person_id] = replace(record, consents=(*kept_consents, consent))
        case WithdrawConsent(person_id, purpose, recipient, at):
            record = state.person(person_id)
            kept_consents = tuple(
                c for c in record.consents if (c.purpose, c.recipient) != (purpose, recipient)
            )
            kept_withdrawals = tuple(
                w for w in record.withdrawals if (w.purpose, w.recipient) != (purpose, recipient)
            )
            withdrawal = Withdrawal(purpose, recipient, at)
            persons[person_id] = replace(
                record, consents=kept_consents, withdrawals=(*kept_withdrawals, withdrawal)
            )
        case GrantProxy(principal_id, grant):
            record = state.person(principal_id)
            existing = record.proxy(grant.proxy_id)
            if (
                existing is not None
                and existing.confirmation in _AUTHORISING
                and grant.confirmation not in _AUTHORISING
            ):
                return  # the proxy alone cannot overwrite a grant the principal confirmed
            kept_proxies = tuple(p for p in record.proxies if p.proxy_id != grant.proxy_id)
            persons[principal_id] = replace(record, proxies=(*kept_proxies, grant))
        case RevokeProxy(principal_id, proxy_id):
            record = state.person(principal_id)
            kept_proxies = tuple(p for p in record.proxies if p.proxy_id != proxy_id)
            persons[principal_id] = replace(record, proxies=kept_proxies)
        case ClaimNumber(index, person_id):
            state.numbers[index] = person_id
        case MoveNumber(person_id, new_index):
            persons[person_id] = replace(state.person(person_id), number_index=new_index)
        case RevokeNumber(index, at):
            state.revoked_numbers[index] = at
            state.numbers.pop(index, None)


def apply_all(state: HubState, changes: Iterable[Change]) -> None:
    for change in changes:
        apply(state, change)


# --- global updates -----------------------------------------------------------------------


def register_agency(
    state: HubState, agency: str, kind: AgencyKind, key_id: str, subscriptions: Iterable[str]
) -> None:
    """From AgencyRegistered: the agency's kind, key id and event subscriptions."""
    state.agencies[agency] = AgencyEntry(
        kind, key_id, frozenset(EventType(s) for s in subscriptions)
    )


def set_suspension(state: HubState, agency: str, suspended: bool, reason: str) -> None:
    """From AgencySuspension (the oversight body's power, DOMAIN §11)."""
    if suspended:
        state.suspended[agency] = reason
    else:
        state.suspended.pop(agency, None)


def record_decision(
    state: HubState, requester: str, request_id: UUID, decision: Decision, now: datetime
) -> None:
    """After `decide`: remember the request id for idempotency (a routed request as waiting
    for its answer) and spend the rate budget (a routed request, or a metered denial)."""
    at = int(now.timestamp())
    key = (requester, request_id.int)
    if isinstance(decision, Route):  # the route is the ticket the answer will bring back
        state.processed[key] = Decided(at, None, decision)
        heapq.heappush(state.waiting, (at, request_id.int, requester))
        spend_budget(state, requester, now.timestamp())
        return
    state.processed[key] = Decided(at)
    if decision.reason in METERED_DENIALS:
        spend_budget(state, requester, now.timestamp())


def metered_as(decision: Decision) -> str | None:
    """How a decision shows in the requester's metered requests: `routed`, the reason of a
    denial that costs budget, or RATE_LIMITED (refused by the budget); None for the others."""
    if isinstance(decision, Route):
        return "routed"
    if decision.reason in METERED_DENIALS or decision.reason is DenialReason.RATE_LIMITED:
        return decision.reason.value
    return None


def record_reply(state: HubState, requester: str, request_id: int, reply: bytes, at: int) -> None:
    """The outcome its requester received, kept with the request id (decided at `at`, unless
    decided earlier), so a repeated request gets the same reply again; it waits no longer."""
    key = (requester, request_id)
    decided = state.processed.get(key)
    state.processed[key] = Decided(at if decided is None else decided.at, reply)


def mark_token_used(state: HubState, request_id: UUID, expires_at: int) -> None:
    """After an answer is accepted: its reply token may not be used again."""
    state.used_tokens[request_id] = expires_at


def prune(state: HubState, at: datetime, keep_events_for: int, keep_processed_for: int) -> None:
    """Forget what can no longer matter: events older than any trigger window (pass the
    table's max_window_seconds), expired consents and proxies, processed request ids older
    than `keep_processed_for` seconds, and used tokens past their expiry."""
    now = int(at.timestamp())
    cutoff = now - keep_events_for
    for person_id, record in list(state.persons.items()):
        pruned = replace(
            record,
            events=tuple(e for e in record.events if e.at >= cutoff),
            consents=tuple(c for c in record.consents if c.live(now)),
            proxies=tuple(p for p in record.proxies if p.expires_at is None or now < p.expires_at),
            withdrawals=tuple(
                w for w in record.withdrawals if w.at + WITHDRAWAL_REMEMBERED_S > now
            ),
        )
        if pruned != record:
            state.persons[person_id] = pruned
    old = now - keep_processed_for
    # A request still waiting for its answer is kept until it times out, however long that is.
    for key in [
        k for k, decided in state.processed.items() if decided.at < old and decided.ticket is None
    ]:
        del state.processed[key]
    for request_id in [k for k, expiry in state.used_tokens.items() if expiry <= now]:
        del state.used_tokens[request_id]
