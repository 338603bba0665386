"""Gap detection on the hub's delivery sequence (pure; no Kafka).

Every message the hub writes to `agency.<id>.in` carries `renkei-seq: <stream>:<n>`, with n
counting 1, 2, 3 … per stream without gaps. `GapDetector.observe` returns a `Gap` when n jumps
ahead of the next expected number. A number at or below the last one seen is a redelivery
(at-least-once after a rebalance or restart), not a gap, and is reported as such.

The first number seen on a stream: when the agency read the stream's partition from its very
first offset (`from_start=True`), anything above 1 is a gap; otherwise (resuming from
committed offsets) it becomes the baseline, since what came before was handled by an earlier
run. A gap that spans a restart is therefore not detected; the hub's provision records remain
the complete account. Each stream is assumed to be delivered through one partition of the
agency's inbound topic (the hub keys a stream's messages to one partition).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Observation(StrEnum):
    IN_ORDER = "IN_ORDER"
    BASELINE = "BASELINE"  # first number seen on a stream when resuming
    GAP = "GAP"
    REDELIVERED = "REDELIVERED"


@dataclass(frozen=True, slots=True)
class Gap:
    """Messages `expected` .. `received - 1` of `stream` never arrived."""

    stream: int
    expected: int
    received: int

    @property
    def missing(self) -> int:
        return self.received - self.expected


class GapDetector:
    """The last sequence number seen per stream."""

    def __init__(self) -> None:
        self._last: dict[int, int] = {}

    def last(self, stream: int) -> int | None:
        return self._last.get(stream)

    def observe(
        self, stream: int, n: int, *, from_start: bool = False
    ) -> tuple[Observation, Gap | None]:
        """Classify the arrival of number `n` on `stream`; the Gap when numbers were skipped."""
        last = self._last.get(stream)
        if last is None:
            self._last[stream] = n
            if n == 1:
                return Observation.IN_ORDER, None
            if from_start:
                return Observation.GAP, Gap(stream, 1, n)
            return Observation.BASELINE, None
        if n <= last:
            return Observation.REDELIVERED, None
        self._last[stream] = n
        if n == last + 1:
            return Observation.IN_ORDER, None
        return Observation.GAP, Gap(stream, last + 1, n)
