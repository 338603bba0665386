"""`python -m benchmarks.scaleout` on a real broker at a tiny size: one router process and two,
the ratio between them."""

from __future__ import annotations

from pathlib import Path

import pytest

from .commands import run_benchmark

pytestmark = pytest.mark.kafka


def test_scaleout_compares_one_router_process_with_two(isolated_kafka: str, tmp_path: Path) -> None:
    result = run_benchmark("scaleout", tmp_path / "scaleout.json", "--bootstrap", isolated_kafka,
                           "--counts", "1,2", "--requests", "1500", "--partitions", "4",
                           "--min-transactions", "1",
                           "--persons", "40")  # fmt: skip
    figures = result["runs"][0]
    assert figures["1"] > 0
    assert figures["2"] > 0
    assert result["summary"]["2_to_1"]["median"] == pytest.approx(
        figures["2"] / figures["1"], abs=0.002)  # fmt: skip
