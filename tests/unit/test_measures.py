"""The achieved rate the demo and the capacity benchmark quote: it tells a system that keeps up
from one that falls behind, whatever the spread of the latencies at the edges of a short load."""

import random

import pytest

from renkei.measures import completion_rate, percentile


def outcomes(
    rate: float, seconds: float, latency: tuple[float, float], served: float
) -> list[float]:
    """Times of the outcomes of requests sent at `rate` for `seconds`, each reaching the
    system after a latency drawn from `latency`, which completes at most `served` a second
    (first come, first served)."""
    rng = random.Random(7)
    arrivals = sorted(i / rate + rng.uniform(*latency) for i in range(int(rate * seconds)))
    done, times = 0.0, []
    for arrives in arrivals:
        done = max(done + 1 / served, arrives)
        times.append(done)
    return times


def test_a_system_that_keeps_up_achieves_the_offered_rate_despite_its_latency_spread() -> None:
    times = outcomes(200, 5, (0.1, 0.8), served=1e9)
    assert completion_rate(times) == pytest.approx(200, rel=0.02)
    # read from the first outcome to the last, the same run looks like a hub falling behind
    first_to_last = completion_rate(times, edge=0)
    assert first_to_last is not None
    assert first_to_last < 0.95 * 200


def test_a_system_that_falls_behind_achieves_its_own_rate() -> None:
    times = outcomes(200, 5, (0.1, 0.8), served=150)
    assert completion_rate(times) == pytest.approx(150, rel=0.02)


def test_no_rate_without_two_distinct_times() -> None:
    assert completion_rate([]) is None
    assert completion_rate([1.0]) is None
    assert completion_rate([2.0, 2.0, 2.0]) is None


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([3.0], 99) == 3.0
    assert percentile([], 50) is None
