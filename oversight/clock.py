"""The time the anomaly rules judge by, which a scenario can set.

Rules judge an observation by the time it happened (the hub's time on a provision record). A
`ScenarioClock` shifts that time from a given moment on: the demo says "from now, it is 02:00 in
Tokyo" and every observation made after that moment is judged as if it were then, while those
made before keep their shift. Outside scenarios the clock is the identity.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class ScenarioClock:
    """Piecewise shifts: from each `since` on, times are moved by its offset."""

    _since: list[datetime] = field(default_factory=list)
    _offsets: list[timedelta] = field(default_factory=list)

    def set(self, reads: datetime, now: datetime | None = None) -> None:
        """From `now` (default: the real time) on, the clock reads `reads` (and runs on)."""
        now = now or datetime.now(UTC)
        if self._since and now < self._since[-1]:
            raise ValueError("a scenario clock is set forward in real time only")
        self._since.append(now)
        self._offsets.append(reads - now)

    def __call__(self, at: datetime) -> datetime:
        i = bisect.bisect_right(self._since, at)
        return at if i == 0 else at + self._offsets[i - 1]
