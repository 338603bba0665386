"""Figures read off a set of times, shared by the demo's report and the benchmarks, so that
every percentile and every achieved rate the project quotes means the same thing."""

from __future__ import annotations

import math
from collections.abc import Sequence

EDGE = 0.05
"""Share of the completions left out at each end when a rate is read off their times."""


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (the smallest value with at least q % of the values at or
    below it); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def completion_rate(times: Sequence[float], edge: float = EDGE) -> float | None:
    """Completions per unit of time over the central part of the completions: from the one
    `edge` of the way through them to the one `edge` from the end (times in seconds give a
    rate per second).

    Under a steady offered load, a system that keeps up completes at the offered rate across
    that span, and one that falls behind completes more slowly all through it. The first and
    last few are left out because over a short load the spread of their latencies, not the
    throughput, decides when they land: 1,000 requests sent in 5 s, answered after 150 to
    550 ms, end 0.3 s "late" whether or not anything fell behind, which reads as 94 % of the
    rate from the first completion to the last. None: fewer than two completions, or all at
    one time."""
    if len(times) < 2:
        return None
    ordered = sorted(times)
    first = int(len(ordered) * edge)
    last = len(ordered) - 1 - first
    if last <= first or ordered[last] == ordered[first]:
        return None
    return (last - first) / (ordered[last] - ordered[first])
