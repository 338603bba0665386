"""`python -m benchmarks.hub` on a real broker at a tiny size: every figure and ratio present,
each latency measured over every request offered. (About a minute and a half.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from .commands import run_benchmark

pytestmark = pytest.mark.kafka


def test_hub_benchmark_writes_hub_and_baselines_from_one_run(
    isolated_kafka: str, tmp_path: Path
) -> None:
    result = run_benchmark("hub", tmp_path / "hub.json", "--bootstrap", isolated_kafka,
                           "--requests", "1500", "--seconds", "2", "--rate", "50",
                           "--best-batches", "1000", "--persons", "40",
                           "--librdkafka-batches", "1000", "--min-transactions", "1")  # fmt: skip
    measured = result["measured"]["given"][0]
    passthrough = measured["passthrough"]
    assert set(passthrough["throughput_per_s_by_batch_max"]) == {"500", "1000"}
    assert passthrough["librdkafka_throughput_per_s_by_batch_max"]["1000"] > 0
    assert passthrough["best_client"] in ("aiokafka", "librdkafka")
    assert measured["passthrough_chain"]["latency_ms"]["samples"] == 100
    for hub in ("hub", "hub_one_process_per_stage"):
        assert measured[hub]["throughput_per_s"] > 0
        assert measured[hub]["exchange_latency_ms"]["samples"] == 100
    assert all(value is not None for value in measured["ratios"].values()), measured["ratios"]
    assert result["summary"]["given"]["hub_to_passthrough_throughput"]["runs"] == 1
