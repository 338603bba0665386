"""Anomaly signals as a stream: every observation goes through every rule as it arrives.

`Watch` is the pure engine (no I/O): it feeds each observation to each rule at the time the
clock says, and returns the signals that fired. `message` turns a signal into the
`OversightSignal` published on the oversight topic; its id is derived from the rule, agency and
window, so a signal re-derived after a restart is recognised as already published.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from oversight.observations import Observation
from oversight.rules import Rule, Signal, default_rules
from schemas.models import Metadata, OversightSignal

OVERSIGHT_BODY = "ppc"
_SIGNAL_NAMESPACE = uuid.UUID("5d1c8f0e-3f7a-4e0b-9a51-7f3c2b6e9d10")

Clock = Callable[[datetime], datetime]


def _identity(at: datetime) -> datetime:
    return at


@dataclass
class Watch:
    rules: list[Rule] = field(default_factory=default_rules)
    clock: Clock = _identity

    def observe(self, observation: Observation) -> list[Signal]:
        at = self.clock(observation.at)
        return [s for rule in self.rules if (s := rule.observe(observation, at)) is not None]

    def observe_all(self, observations: Iterable[Observation]) -> list[Signal]:
        return [signal for o in observations for signal in self.observe(o)]


def signal_id(signal: Signal) -> uuid.UUID:
    window = int(signal.window_start.timestamp())
    return uuid.uuid5(_SIGNAL_NAMESPACE, f"{signal.rule}/{signal.agency}/{window}")


def message(signal: Signal, now: datetime | None = None) -> OversightSignal:
    return OversightSignal(
        metadata=Metadata(
            message_id=uuid.uuid4(), occurred_at=now or datetime.now(UTC), sender=OVERSIGHT_BODY
        ),
        signal_id=signal_id(signal),
        rule=signal.rule,
        agency=signal.agency,
        window_start=signal.window_start,
        window_seconds=signal.window_seconds,
        count=signal.count,
        threshold=signal.threshold,
        summary=signal.summary,
    )
