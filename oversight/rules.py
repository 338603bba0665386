"""The anomaly rules of the oversight body (第三者機関, DOMAIN.md §11), each with its threshold.

Every rule sees one observation at a time (a stream, not a nightly batch), counts it into
tumbling windows per agency (aligned to the epoch: a 10-minute window starts at :00, :10, …),
and fires at most once per agency and window, the moment its count reaches the threshold. A
signal names the agency, the rule, the window and the counts; never a person.

The thresholds are set for a national fabric whose agencies work by procedure, person by person,
in office hours: each is far beyond what the scripted demo's busiest agency does legitimately
(its normal run fires no signal), and well inside what an insider browsing would do.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

from oversight.observations import PROVIDER_TIMEOUT, AgencyAct, Observation, Provision, Refusal

JAPAN = timezone(timedelta(hours=9), "JST")  # no daylight saving time


@dataclass(frozen=True, slots=True)
class Signal:
    rule: str
    agency: str
    window_start: datetime
    window_seconds: int
    count: int
    threshold: int
    summary: str  # agency ids, reasons and numbers of records only


class Windows:
    """Counts per (agency, window start) for one window length, keeping the newest few."""

    def __init__(self, seconds: int, keep: int = 2) -> None:
        self.seconds = seconds
        self.keep = keep  # windows kept per agency, the current one included
        self.counts: dict[str, dict[int, int]] = {}

    def start_of(self, at: datetime) -> int:
        return int(at.timestamp()) // self.seconds * self.seconds

    def add(self, agency: str, at: datetime, n: int = 1) -> tuple[int, int]:
        """Count `n` at `at`; (the window's start in epoch seconds, its count now)."""
        start = self.start_of(at)
        windows = self.counts.setdefault(agency, {})
        windows[start] = windows.get(start, 0) + n
        if len(windows) > self.keep:
            for old in sorted(windows)[: len(windows) - self.keep]:
                del windows[old]
        return start, windows[start]

    def count(self, agency: str, start: int) -> int:
        return self.counts.get(agency, {}).get(start, 0)


def _request(observation: Observation) -> Provision | None:
    """The provision record of a request (provided or denied); None for anything else,
    a disclosed trigger event included: receiving one is no act of the agency's."""
    if isinstance(observation, Provision) and not observation.disclosure:
        return observation
    return None


@dataclass
class Rule:
    """Base of the rules: the once-per-window bookkeeping and the signal value."""

    name: str = ""
    window_seconds: int = 60
    minimum: int = 1  # the threshold (for a relative rule: its floor)
    fired: set[tuple[str, int]] = field(default_factory=set)

    def observe(self, observation: Observation, at: datetime) -> Signal | None:
        raise NotImplementedError

    def _fire(
        self, agency: str, start: int, count: int, threshold: int, summary: str
    ) -> Signal | None:
        if count < threshold or (agency, start) in self.fired:
            return None
        self.fired.add((agency, start))
        if len(self.fired) > 10_000:  # only recent windows can fire again
            horizon = start - 10 * self.window_seconds
            self.fired = {(a, s) for a, s in self.fired if s >= horizon}
        return Signal(
            self.name,
            agency,
            datetime.fromtimestamp(start, UTC),
            self.window_seconds,
            count,
            threshold,
            summary,
        )


@dataclass
class VolumeAboveBaseline(Rule):
    """VOLUME_ABOVE_BASELINE: an agency's requests in a 10-minute window reach five times its
    own baseline, and at least 200. The baseline is its mean per window over the 12 windows
    (two hours) before; an agency is judged only once it has been seen for those two hours, so a
    newly onboarded agency or a newly live sector sets its baseline first."""

    name: str = "VOLUME_ABOVE_BASELINE"
    window_seconds: int = 600
    factor: float = 5.0
    minimum: int = 200
    history: int = 12
    first_seen: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.windows = Windows(self.window_seconds, keep=self.history + 1)

    def observe(self, observation: Observation, at: datetime) -> Signal | None:
        request = _request(observation)
        if request is None:
            return None
        agency = request.requester
        start, count = self.windows.add(agency, at)
        first = self.first_seen.setdefault(agency, start)
        if start - first < self.history * self.window_seconds:
            return None  # still learning this agency's baseline
        past = [
            self.windows.count(agency, start - i * self.window_seconds)
            for i in range(1, self.history + 1)
        ]
        baseline = sum(past) / self.history
        threshold = max(self.minimum, math.ceil(self.factor * baseline))
        return self._fire(
            agency,
            start,
            count,
            threshold,
            f"{count} requests in {self.window_seconds // 60} min; baseline "
            f"{baseline:.1f} per window over the {self.history} windows before",
        )


@dataclass
class DenialBurst(Rule):
    """DENIAL_BURST: 30 or more of an agency's requests denied within one minute, and at least
    half of its requests in that minute (a provider's timeout is not the requester's denial)."""

    name: str = "DENIAL_BURST"
    window_seconds: int = 60
    minimum: int = 30
    share: float = 0.5

    def __post_init__(self) -> None:
        self.requests = Windows(self.window_seconds)
        self.denials = Windows(self.window_seconds)
        self.reasons: dict[tuple[str, int], Counter[str]] = {}

    def observe(self, observation: Observation, at: datetime) -> Signal | None:
        request = _request(observation)
        if request is None or request.reason == PROVIDER_TIMEOUT:
            return None
        agency = request.requester
        start, requests = self.requests.add(agency, at)
        denied = request.reason is not None
        _, denials = self.denials.add(agency, at, 1 if denied else 0)
        reasons = self.reasons.setdefault((agency, start), Counter())
        if request.reason is not None:
            reasons[request.reason] += 1
        if len(self.reasons) > 10_000:
            self.reasons = {k: v for k, v in self.reasons.items() if k[1] >= start - 600}
        if denials < self.share * requests:
            return None
        mix = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common())
        return self._fire(
            agency, start, denials, self.minimum, f"{denials} of {requests} requests denied: {mix}"
        )


@dataclass
class OffHoursBulk(Rule):
    """OFF_HOURS_BULK: 50 or more requests by one agency within a 10-minute window outside
    office hours, 07:00 to 21:00 Japan time (linkage is done by procedure, in office hours)."""

    name: str = "OFF_HOURS_BULK"
    window_seconds: int = 600
    minimum: int = 50
    opens: int = 7  # hour of day, Japan time
    closes: int = 21

    def __post_init__(self) -> None:
        self.windows = Windows(self.window_seconds)

    def off_hours(self, at: datetime) -> bool:
        return not self.opens <= at.astimezone(JAPAN).hour < self.closes

    def observe(self, observation: Observation, at: datetime) -> Signal | None:
        request = _request(observation)
        if request is None or not self.off_hours(at):
            return None
        start, count = self.windows.add(request.requester, at)
        local = datetime.fromtimestamp(start, UTC).astimezone(JAPAN).strftime("%H:%M")
        return self._fire(
            request.requester,
            start,
            count,
            self.minimum,
            f"{count} requests from {local} Japan time, outside office hours "
            f"{self.opens:02d}:00-{self.closes:02d}:00",
        )


@dataclass
class ManyPersonsOneTrigger(Rule):
    """MANY_PERSONS_ONE_TRIGGER: requests by one agency about 5 or more different persons
    citing the same trigger event (an application, a relocation, …) within one hour. A trigger
    concerns one person; a request about someone else citing it is browsing under its cover."""

    name: str = "MANY_PERSONS_ONE_TRIGGER"
    window_seconds: int = 3_600
    minimum: int = 5

    def __post_init__(self) -> None:
        self.persons: dict[tuple[str, int, UUID], set[bytes]] = {}

    def observe(self, observation: Observation, at: datetime) -> Signal | None:
        request = _request(observation)
        if request is None or request.trigger_event is None:
            return None
        start = int(at.timestamp()) // self.window_seconds * self.window_seconds
        key = (request.requester, start, request.trigger_event)
        persons = self.persons.setdefault(key, set())
        if len(persons) < self.minimum:  # more than the threshold need not be remembered
            persons.add(request.subject)
        if len(self.persons) > 100_000:
            self.persons = {k: v for k, v in self.persons.items() if k[1] >= start}
        return self._fire(
            request.requester,
            start,
            len(persons),
            self.minimum,
            f"requests about {len(persons)} or more different persons citing one trigger event",
        )


@dataclass
class NumberChangeSurge(Rule):
    """NUMBER_CHANGE_SURGE: 20 or more number changes (番号変更) published by one municipality
    within one hour (a number is changed after a verified leak: rare, person by person)."""

    name: str = "NUMBER_CHANGE_SURGE"
    window_seconds: int = 3_600
    minimum: int = 20

    def __post_init__(self) -> None:
        self.windows = Windows(self.window_seconds)

    def observe(self, observation: Observation, at: datetime) -> Signal | None:
        if not isinstance(observation, AgencyAct) or observation.message_type != "NumberChanged":
            return None
        start, count = self.windows.add(observation.agency, at)
        return self._fire(
            observation.agency, start, count, self.minimum, f"{count} number changes in one hour"
        )


@dataclass
class RefusedAssertions(Rule):
    """REFUSED_ASSERTIONS: 3 or more assertions by one agency refused within one hour because
    it is not entitled to make them (NOT_ENTITLED: a consent, an acknowledgement or an event
    only another party may assert, DOMAIN.md §14). One may be a misconfiguration; three are a
    pattern."""

    name: str = "REFUSED_ASSERTIONS"
    window_seconds: int = 3_600
    minimum: int = 3
    reasons: frozenset[str] = frozenset({"NOT_ENTITLED"})

    def __post_init__(self) -> None:
        self.windows = Windows(self.window_seconds)

    def observe(self, observation: Observation, at: datetime) -> Signal | None:
        if (
            not isinstance(observation, Refusal)
            or observation.agency is None
            or observation.reason not in self.reasons
        ):
            return None
        start, count = self.windows.add(observation.agency, at)
        return self._fire(
            observation.agency,
            start,
            count,
            self.minimum,
            f"{count} assertions refused as {observation.reason} in one hour",
        )


@dataclass
class RepeatedOverProvision(Rule):
    """REPEATED_OVER_PROVISION: a provider's answers carried attributes beyond the authorised
    set (dropped by the hub) in 5 or more provisions within one day."""

    name: str = "REPEATED_OVER_PROVISION"
    window_seconds: int = 86_400
    minimum: int = 5

    def __post_init__(self) -> None:
        self.windows = Windows(self.window_seconds)

    def observe(self, observation: Observation, at: datetime) -> Signal | None:
        if (
            not isinstance(observation, Provision)
            or not observation.over_provided
            or observation.provider is None
        ):
            return None
        start, count = self.windows.add(observation.provider, at)
        return self._fire(
            observation.provider,
            start,
            count,
            self.minimum,
            f"{count} provisions with attributes beyond the authorised set in one day",
        )


def default_rules() -> list[Rule]:
    return [
        VolumeAboveBaseline(),
        DenialBurst(),
        OffHoursBulk(),
        ManyPersonsOneTrigger(),
        NumberChangeSurge(),
        RefusedAssertions(),
        RepeatedOverProvision(),
    ]
