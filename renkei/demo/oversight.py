"""The oversight body (第三者機関) in the demo: its anomaly rules watch the whole run, and with
`--abuse` a municipality browses at night until the oversight body suspends it.

The rules judge time by a scenario clock: the rollout phases are played as a weekday morning in
Tokyo whatever the real hour, and the abuse as 02:00 the night after, so neither depends on when
the demo runs. The abuse: `mun-14100` publishes one child-allowance application and, at night,
asks for the income and household of some 250 other people citing it (a trigger concerns one
person: the hub denies each NO_TRIGGER_EVENT). The rules fire; the oversight body suspends the
municipality through the control channel, as `renkei hub suspend` does; its further requests
are denied AGENCY_SUSPENDED; then it is reinstated, so a broker used again starts clean.
Everything in the report's oversight section is read back from Kafka.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from agencies import Person
from hub.control import operator_metadata, publish_control
from oversight.clock import ScenarioClock
from oversight.feed import Feed, connection
from oversight.observations import ControlAct, Provision
from oversight.rules import JAPAN
from oversight.signals import OVERSIGHT_BODY, Watch
from oversight.watcher import SignalWatcher, read_signals
from renkei.demo.scenario import PROVIDED, Check, Scenario
from schemas.models import AgencySuspension

BROWSER = "mun-14100"  # Yokohama: a large municipality, in scope from phase 2
BROWSING_REQUESTS = 250
AFTER_SUSPENSION = 10
IN_FLIGHT = 64  # requests awaiting their outcome at once
ROW, PROCEDURE = "we-01", "child_allowance"
ELSEWHERE = "mun-13101"  # asked about residents of the browser's own (denied before it matters)


def morning_of(now: datetime) -> datetime:
    """10:00 in Tokyo on the day `now` is in Tokyo: office hours."""
    local = now.astimezone(JAPAN)
    return local.replace(hour=10, minute=0, second=0, microsecond=0)


def night_after(now: datetime) -> datetime:
    """02:00 in Tokyo the night after."""
    return morning_of(now) + timedelta(hours=16)


class DemoOversight:
    """The oversight body's watcher for one demo run, on a scenario clock."""

    def __init__(self, bootstrap: str, since_ms: int) -> None:
        self.bootstrap = bootstrap
        self.since_ms = since_ms
        self.clock = ScenarioClock()
        self.clock.set(reads=morning_of(datetime.now(UTC)))
        self.watcher = SignalWatcher(
            connection(bootstrap),
            Watch(clock=self.clock),
            since_ms=since_ms,
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> DemoOversight:
        self._task = asyncio.create_task(self.watcher.run(self._stop), name="oversight")
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 60)

    async def settled(self) -> None:
        if self._task is not None and self._task.done():
            self._task.result()  # raises what stopped the watcher
        await self.watcher.settled()

    async def abuse(
        self, scenario: Scenario, suspended: Callable[[str], Awaitable[None]]
    ) -> datetime:
        """Play the abuse; `suspended(agency)` returns once the hub has applied the agency's
        suspension. Returns when the night began (the report reads the rest from Kafka)."""
        tracker = scenario.tracker
        # The applicant moved in: their former municipality holds their income (PROVIDED).
        movers = [
            p
            for p in scenario.persons
            if scenario.holds(BROWSER, p) and scenario.tax_municipality(p) != BROWSER
        ]
        if not movers:
            raise ValueError(f"the population is too small: nobody moved into {BROWSER}")
        applicant = movers[0]
        others = [p for p in scenario.persons if scenario.holds(BROWSER, p) and p != applicant]
        tracker.step = f"night: {BROWSER} starts browsing under one application"
        night_from = datetime.now(UTC)
        self.clock.set(reads=night_after(night_from), now=night_from)
        trigger = await scenario.application(BROWSER, applicant, PROCEDURE)

        row = scenario.table.rows[ROW]
        in_flight = asyncio.Semaphore(IN_FLIGHT)

        def check(person: Person, expected: str) -> Check:
            provider = scenario.tax_municipality(person)
            return Check(
                requester=BROWSER,
                provider=provider if provider != BROWSER else ELSEWHERE,
                row=ROW,
                purpose=row.purpose,
                attributes=tuple(sorted(row.attributes)),
                person_code=scenario.code(BROWSER, person),
                trigger=trigger,
                expected=expected,
            )

        async def send(person: Person, expected: str, case: str | None) -> None:
            async with in_flight:
                await scenario.send(check(person, expected), case=case, routine=False)

        await send(applicant, PROVIDED, None)  # the one request the application justifies
        browsed = list(itertools.islice(itertools.cycle(others), BROWSING_REQUESTS - 1))
        await asyncio.gather(
            *(
                send(p, "NO_TRIGGER_EVENT", "abuse: browsing under another's application"
                     if i == 0 else None)
                for i, p in enumerate(browsed)
            )
        )  # fmt: skip
        tracker.step = "the oversight body's rules judge the night"
        await self.settled()
        rules = sorted({s.rule for s in self.watcher.fired if s.agency == BROWSER})
        if not rules:
            return night_from  # nothing fired: the report shows no suspension
        tracker.step = f"the oversight body suspends {BROWSER}"
        reason = "anomaly signals: " + ", ".join(rules)
        await publish_control(self.bootstrap, _suspension(BROWSER, True, reason))
        await suspended(BROWSER)
        tracker.step = f"{BROWSER} tries again, suspended"
        await asyncio.gather(
            *(
                send(applicant, "AGENCY_SUSPENDED",
                     "abuse: a request after the suspension" if i == 0 else None)
                for i in range(AFTER_SUSPENSION)
            )
        )  # fmt: skip
        await publish_control(
            self.bootstrap, _suspension(BROWSER, False, "investigation closed (demo ends)")
        )
        return night_from


def _suspension(agency: str, suspended: bool, reason: str) -> AgencySuspension:
    return AgencySuspension(
        metadata=operator_metadata(OVERSIGHT_BODY),
        agency=agency,
        suspended=suspended,
        reason=reason,
    )


async def oversight_report(
    bootstrap: str, since_ms: int, night_from: datetime | None
) -> dict[str, Any]:
    """The oversight section of the demo report, read back from Kafka: the signals published
    during the run, and for the abuse the suspension and the browser's traffic around it."""
    ppc = connection(bootstrap)
    since = datetime.fromtimestamp(since_ms / 1000, UTC)
    signals = [s for s in await read_signals(ppc) if s.metadata.occurred_at >= since]
    suspensions: list[ControlAct] = []
    browser: list[Provision] = []
    async with Feed(ppc, since_ms) as feed:
        async for seen in feed.read_to_end():
            o = seen.observation
            if isinstance(o, ControlAct) and o.agency == BROWSER:
                suspensions.append(o)
            elif isinstance(o, Provision) and o.requester == BROWSER:
                browser.append(o)
    suspended_at = next((s.at for s in suspensions if s.suspended), None)
    lifted_at = next((s.at for s in suspensions if s.suspended is False), None)
    abuse = night_from is not None
    night = [p for p in browser if night_from is not None and p.at >= night_from]
    before = [p for p in night if suspended_at is None or p.at < suspended_at]
    after = [p for p in night if suspended_at is not None and p.at >= suspended_at]
    on_browser = [s for s in signals if s.agency == BROWSER] if abuse else []
    section: dict[str, Any] = {
        "signals": [
            {
                "rule": s.rule,
                "agency": s.agency,
                "window_start": s.window_start.isoformat(),
                "window_seconds": s.window_seconds,
                "count": s.count,
                "threshold": s.threshold,
                "summary": s.summary,
            }
            for s in signals
        ],
        "false_positives": len(signals) - len(on_browser),
    }
    if abuse:
        section["abuse"] = {
            "agency": BROWSER,
            "rules_fired": sorted({s.rule for s in on_browser}),
            "suspended_by": next((s.sender for s in suspensions if s.suspended), None),
            "requests_before_suspension": len(before),
            "before_suspension_by_outcome": dict(_outcomes(before)),
            "requests_after_suspension": len(after),
            "after_suspension_by_outcome": dict(_outcomes(after)),
            "reinstated": lifted_at is not None,
        }
    section["ok"] = section["false_positives"] == 0 and (
        not abuse
        or (
            bool(section["abuse"]["rules_fired"])
            and section["abuse"]["after_suspension_by_outcome"] == {"AGENCY_SUSPENDED": len(after)}
            and len(after) > 0
        )
    )
    return section


def _outcomes(records: list[Provision]) -> Counter[str]:
    return Counter(p.reason or PROVIDED for p in records)
