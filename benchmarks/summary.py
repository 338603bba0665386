"""One results file from the benchmarks' own: each headline figure with its baseline from the
same run, the ratio and the target (issue 15's, and issue 10's cost of TLS+SCRAM).

    python -m benchmarks.summary [--results DIR] [--out FILE]

Reads codec.json, decision.json, memory.json, hub.json, capacity.json, hub-within-capacity.json
and scaleout.json from the results directory (a missing one is reported missing, never
guessed), writes bench.json and bench.md there, and prints the table. `make bench` runs every
benchmark and then this.
"""

from __future__ import annotations

import argparse
import json
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, now_iso, write_results

Row = dict[str, Any]
AT_MOST, AT_LEAST = "<=", ">="
COMPARE: dict[str, Callable[[float, float], bool]] = {AT_MOST: operator.le, AT_LEAST: operator.ge}


def row(
    figure: str,
    value: Any,
    baseline: str,
    baseline_value: Any,
    ratio: Any,
    target: tuple[str, float] | None,
    source: str,
) -> Row:
    met = None
    if target is not None and isinstance(ratio, int | float):
        met = COMPARE[target[0]](ratio, target[1])
    return {
        "figure": figure,
        "value": value,
        "baseline": baseline,
        "baseline_value": baseline_value,
        "ratio": ratio,
        "target": None if target is None else f"{target[0]} {target[1]}",
        "met": met,
        "source": source,
    }


def median(figure: dict[str, Any] | None) -> Any:
    """The median of a min–median–max figure (a single run's value otherwise)."""
    if isinstance(figure, dict):
        return figure.get("median")
    return figure


def codec_rows(r: dict[str, Any]) -> list[Row]:
    return [
        row(f"codec encode+decode {name} (µs)", f["encode_plus_decode_us"],
            "raw fastavro, logical-typed schema (µs)", f["baseline_fastavro_logical_us"],
            f["to_raw_fastavro"], (AT_MOST, r.get("target_to_raw_fastavro", 0.5)), "codec.json")
        for name, f in r["results"].items()
    ]  # fmt: skip


def decision_rows(r: dict[str, Any]) -> list[Row]:
    return [
        row("decisions per second", r["decisions_per_second"],
            "codec decodes per second, same requests", r["codec_decodes_per_second_same_requests"],
            r["ratios"]["decisions_to_codec_decodes"], (AT_LEAST, 2.0), "decision.json")
    ]  # fmt: skip


def memory_rows(r: dict[str, Any]) -> list[Row]:
    mib = 1 << 20
    what = "measured" if r["measured_at_1m"] else f"projected from {r['persons']:,}"
    return [
        row(f"router RSS with 1,000,000 persons, MiB ({what})",
            round(r["rss_projected_for_1m_persons_bytes"] / mib),
            "1 GiB (MiB)", 1024, r["rss_for_1m_to_target"], (AT_MOST, 1.0), "memory.json")
    ]  # fmt: skip


def hub_rows(r: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for broker, f in r["summary"].items():
        if broker == "secured_to_plain":
            continue
        rows += [
            row(f"hub throughput/s, one process ({broker})", median(f["hub_per_s"]),
                "passthrough/s at the hub's settings", median(f["passthrough_per_s"]),
                median(f["hub_to_passthrough_throughput"]), (AT_LEAST, 0.7), "hub.json"),
            row(f"hub throughput/s, process per stage ({broker})",
                median(f["hub_process_per_stage_per_s"]),
                "passthrough/s at the hub's settings", median(f["passthrough_per_s"]),
                median(f["hub_one_process_per_stage_to_passthrough_throughput"]),
                (AT_LEAST, 0.7), "hub.json"),
            row(f"hub throughput/s, process per stage ({broker})",
                median(f["hub_process_per_stage_per_s"]),
                "passthrough/s at its best transaction size", median(f["best_passthrough_per_s"]),
                median(f["hub_one_process_per_stage_to_best_passthrough_throughput"]),
                None, "hub.json"),
            row(f"hub full-exchange p99 ms ({broker})", median(f["hub_exchange_p99_ms"]),
                "4-hop passthrough chain p99 ms, same load", median(f["chain_p99_ms"]),
                median(f["hub_exchange_p99_to_chain_p99"]), (AT_MOST, 1.5), "hub.json"),
        ]  # fmt: skip
    cost = r["summary"].get("secured_to_plain")
    if cost:
        secured, plain = r["summary"]["secured"], r["summary"]["plain"]
        rows += [
            row("hub throughput/s, secured broker (TLS+SCRAM)", median(secured["hub_per_s"]),
                "the same on a plain broker", median(plain["hub_per_s"]),
                median(cost["hub_per_s"]), None, "hub.json"),
            row("passthrough/s, secured broker (TLS+SCRAM)", median(secured["passthrough_per_s"]),
                "the same on a plain broker", median(plain["passthrough_per_s"]),
                median(cost["passthrough_per_s"]), None, "hub.json"),
        ]  # fmt: skip
    return rows


def within_capacity_rows(r: dict[str, Any]) -> list[Row]:
    """The hub benchmark again at a load the hub sustains (`--rate-of-capacity`): its latency
    beside the chain's when the hub is not queueing (the target's load is a quarter of the
    passthrough's capacity, past the hub's own; this is for comparison, without a target)."""
    rows: list[Row] = []
    for broker, f in r["summary"].items():
        if broker == "secured_to_plain":
            continue
        rate = r["settings"]["rate"]
        rows.append(
            row(f"hub full-exchange p99 ms at {rate:g}/s, within its capacity ({broker})",
                median(f["hub_exchange_p99_ms"]),
                "4-hop passthrough chain p99 ms, same load", median(f["chain_p99_ms"]),
                median(f["hub_exchange_p99_to_chain_p99"]), None, "hub-within-capacity.json")
        )  # fmt: skip
    return rows


def capacity_rows(r: dict[str, Any]) -> list[Row]:
    s = r["summary"]
    return [
        row("hub sustained full exchanges/s (capacity finder)", median(s["sustained_per_s"]),
            "passthrough capacity/s, same run", median(s["passthrough_capacity_per_s"]),
            median(s["sustained_to_passthrough_capacity"]), None, "capacity.json")
    ]  # fmt: skip


def scaleout_rows(r: dict[str, Any]) -> list[Row]:
    s, rows = r["summary"], []
    counts = sorted(int(k.rsplit("_", 1)[1]) for k in s if k.startswith("throughput_per_s_with_"))
    for c in counts[1:]:
        rows.append(
            row(f"hub throughput/s with {c} {r['layout']}", median(s[f"throughput_per_s_with_{c}"]),
                f"with {counts[0]}", median(s[f"throughput_per_s_with_{counts[0]}"]),
                median(s[f"{c}_to_{counts[0]}"]), None, "scaleout.json")
        )  # fmt: skip
    return rows


SOURCES: dict[str, Callable[[dict[str, Any]], list[Row]]] = {
    "codec.json": codec_rows,
    "decision.json": decision_rows,
    "memory.json": memory_rows,
    "hub.json": hub_rows,
    "capacity.json": capacity_rows,
    "hub-within-capacity.json": within_capacity_rows,
    "scaleout.json": scaleout_rows,
}


def collect(results: Path) -> tuple[list[Row], list[str], dict[str, Any]]:
    rows: list[Row] = []
    missing: list[str] = []
    when: dict[str, Any] = {}
    for name, rows_of in SOURCES.items():
        path = results / name
        if not path.exists():
            missing.append(name)
            continue
        document = json.loads(path.read_text("utf-8"))
        when[name] = document.get("when")
        try:
            rows += rows_of(document)
        except KeyError as exc:  # written by an older version of the benchmark
            missing.append(f"{name} (no {exc}: rerun it)")
    return rows, missing, when


def markdown(rows: list[Row], missing: list[str]) -> str:
    lines = [
        "| figure | value | baseline (same run) | value | ratio | target | met |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(
            f"| {r['figure']} | {r['value']} | {r['baseline']} | {r['baseline_value']} "
            f"| {r['ratio']} | {r['target'] or ''} | {met} |"
        )
    if missing:
        lines.append("")
        lines.append("Missing: " + ", ".join(missing))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--out", type=Path, help="default: RESULTS/bench.json")
    a = parser.parse_args(argv)
    rows, missing, when = collect(a.results)
    out = a.out or a.results / "bench.json"
    result = {"when": now_iso(), "written": when, "figures": rows, "missing": missing}
    write_results(out, result)
    table = markdown(rows, missing)
    out.with_suffix(".md").write_text(table, "utf-8")
    print(table, end="")
    print(f"written to {out} and {out.with_suffix('.md')}")
    return result


if __name__ == "__main__":
    main()
