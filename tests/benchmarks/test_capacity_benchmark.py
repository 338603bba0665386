"""`python -m benchmarks.capacity` on a real broker at a tiny size: stepped load, each step's
offered and achieved rate and latency, the passthrough's capacity from the same run."""

from __future__ import annotations

from pathlib import Path

import pytest

from .commands import run_benchmark

pytestmark = pytest.mark.kafka


def test_capacity_finder_steps_the_load_and_reports_the_passthrough_beside_it(
    isolated_kafka: str, tmp_path: Path
) -> None:
    result = run_benchmark("capacity", tmp_path / "capacity.json", "--bootstrap", isolated_kafka,
                           "--requests", "1500", "--start-rate", "20", "--factor", "2",
                           "--max-rate", "40", "--step-seconds", "2", "--persons", "40",
                           "--p99-bound-ms", "600000", "--min-transactions", "1")  # fmt: skip
    run = result["runs"][0]
    assert run["passthrough_capacity_per_s"] > 0
    assert [step["rate_per_s"] for step in run["steps"]][:1] == [20.0]
    for step in run["steps"]:
        assert step["exchange_latency_ms"]["samples"] == int(step["rate_per_s"] * 2)
    passing = [s for s in run["steps"] if s["within_p99_bound"] and s["kept_up"]]
    assert run["sustained_per_s"] == (passing[-1]["achieved_per_s"] if passing else None)
