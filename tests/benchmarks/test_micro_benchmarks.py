"""The benchmarks without a broker run at a tiny size and write their results files with the
ratios their targets are stated in; the summary gathers them and names what is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from benchmarks.hub import rate_of_capacity, summarise

from .commands import REPO, run_benchmark


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("results")


def test_codec_benchmark_states_encode_plus_decode_over_raw_fastavro(results: Path) -> None:
    result = run_benchmark("codec", results / "codec.json", "--number", "200", "--repeat", "1")
    for name in ("AttributeRequest", "ProvisionRecord"):
        figures = result["results"][name]
        expected = figures["encode_plus_decode_us"] / figures["baseline_fastavro_logical_us"]
        assert figures["to_raw_fastavro"] == pytest.approx(expected, abs=0.002)
        assert result["ratios"][f"{name}_encode_plus_decode_to_raw_fastavro"] > 0
    assert result["target_to_raw_fastavro"] == 0.5


def test_decision_benchmark_states_decisions_over_decodes_of_the_same_requests(
    results: Path,
) -> None:
    result = run_benchmark("decision", results / "decision.json", "--persons", "2000",
                           "--decisions", "2000", "--distinct-requests", "500")  # fmt: skip
    assert result["persons_in_state"] == 2000
    expected = result["decisions_per_second"] / result["codec_decodes_per_second_same_requests"]
    assert result["ratios"]["decisions_to_codec_decodes"] == pytest.approx(expected, rel=0.01)


def test_memory_benchmark_restores_the_persons_and_reports_resident_size(results: Path) -> None:
    result = run_benchmark("memory", results / "memory.json", "--persons", "5000",
                           "--partitions", "3", "--decided", "500")  # fmt: skip
    assert result["persons"] == 5000
    assert result["rss_after_bytes"] > result["rss_before_bytes"]
    assert result["state_bytes_per_person"] > 0
    assert result["measured_at_1m"] is False  # a projection, and the summary says so


def test_summary_puts_each_figure_beside_its_baseline_and_names_missing_files(
    results: Path,
) -> None:
    for name in ("codec", "decision", "memory"):
        assert (results / f"{name}.json").exists(), "the tests above write them first"
    subprocess.run([sys.executable, "-m", "benchmarks.summary", "--results", str(results)],
                   cwd=REPO, check=True, capture_output=True, timeout=60)  # fmt: skip
    summary = json.loads((results / "bench.json").read_text())
    sources = {row["source"] for row in summary["figures"]}
    assert sources == {"codec.json", "decision.json", "memory.json"}
    assert all(row["baseline_value"] is not None for row in summary["figures"])
    assert set(summary["missing"]) == {
        "hub.json", "capacity.json", "hub-within-capacity.json", "scaleout.json"}  # fmt: skip
    assert "| figure |" in (results / "bench.md").read_text()


def _broker_figures(hub: float, passthrough: float) -> dict[str, Any]:
    latency = {"p50": 10.0, "p99": 20.0, "samples": 1}
    side = {"throughput_per_s": hub, "latency_ms": latency, "exchange_latency_ms": latency}
    return {
        "passthrough": {"throughput_per_s": passthrough, "best_throughput_per_s": passthrough,
                        "latency_ms": latency},
        "passthrough_chain": {"latency_ms": latency},
        "hub": side,
        "hub_one_process_per_stage": side,
        "ratios": {"hub_to_passthrough_throughput": hub / passthrough},
    }  # fmt: skip


def test_cost_of_tls_and_scram_is_secured_over_plain_for_runs_measured_back_to_back() -> None:
    runs = {
        "secured": [_broker_figures(800, 4000), _broker_figures(900, 4500)],
        "plain": [_broker_figures(1000, 5000), _broker_figures(1000, 5000)],
    }
    summary = summarise(runs)
    assert summary["secured_to_plain"]["hub_per_s"] == {
        "min": 0.8, "median": 0.85, "max": 0.9, "runs": 2}  # fmt: skip
    assert summary["secured"]["hub_to_passthrough_throughput"]["median"] == 0.2


def test_a_load_within_capacity_is_a_fraction_of_the_capacity_finders_median(
    tmp_path: Path,
) -> None:
    capacity = tmp_path / "capacity.json"
    with pytest.raises(ValueError, match=r"run python -m benchmarks\.capacity first"):
        rate_of_capacity(0.5, capacity)
    capacity.write_text(json.dumps({"summary": {"sustained_per_s": {"median": 1141.0}}}))
    assert rate_of_capacity(0.66, capacity) == 753.1
    with pytest.raises(ValueError, match=r"a fraction in \(0, 1\]"):
        rate_of_capacity(1.5, capacity)
    capacity.write_text(json.dumps({"summary": {}}))  # an older version's file
    with pytest.raises(ValueError, match=r"rerun python -m benchmarks\.capacity"):
        rate_of_capacity(0.66, capacity)
