"""Capacity finder: the highest load the hub sustains, beside the passthrough's capacity.

    python -m benchmarks.capacity [--start-rate 100] [--factor 1.5] [--max-rate 20000]
                                  [--step-seconds 10] [--p99-bound-ms 1000] [--split]
                                  [--broker secured|plain] [--runs N] [--bootstrap HOST:PORT]

On a fresh local broker (secured by default): first the one-hop transactional passthrough's
capacity at the hub's transaction settings (as in benchmarks.hub), then the hub — one process,
or one per stage with --split — under full exchanges (request -> query -> answer -> response,
the provider answering) offered in steps: each step offers a rate for --step-seconds, waits for
every outcome, and passes if the exchange p99 stays within --p99-bound-ms and the achieved rate
is at least 95 % of the rate actually offered. Achieved is the completion rate over the central
90 % of the outcomes (`renkei.measures.completion_rate`: a hub that keeps up completes as fast
as it is fed; one that falls behind completes more slowly all through). The rate rises by
--factor until a step fails or --max-rate; the sustained rate is the highest passing step's
achieved rate. Writes results/capacity.json and prints the steps.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import (
    RESULTS,
    BenchmarkError,
    Children,
    fresh_broker,
    latency_ms,
    machine,
    now_iso,
    ratio,
    run_within,
    spread,
    write_results,
)
from benchmarks.hub import (
    HubUnderTest,
    Passthroughs,
    Settings,
    add_settings_options,
    say,
    settings_from,
)
from deploy.local.broker import KAFKA_VERSION
from renkei.measures import completion_rate

ACHIEVED_FRACTION = 0.95


@dataclass(frozen=True)
class Steps:
    start_rate: float = 100.0
    factor: float = 1.5
    max_rate: float = 20_000.0
    step_seconds: float = 10.0
    p99_bound_ms: float = 1000.0
    split: bool = False

    def rates(self) -> list[float]:
        rates, rate = [], self.start_rate
        while rate <= self.max_rate:
            rates.append(round(rate, 1))
            rate *= self.factor
        return rates


async def find_capacity(bootstrap: str, s: Settings, steps: Steps, workdir: Path) -> dict[str, Any]:
    children = Children(workdir)
    try:
        async with Passthroughs(bootstrap, s, children) as pt:
            passthrough, _process = await pt.throughput("hub-settings", s.batch_max)
            children.stop_all()
        commands = [["--stage", "ingress"], ["--stage", "router"]] if steps.split else [[]]
        measured: list[dict[str, Any]] = []
        async with HubUnderTest(bootstrap, s, children, workdir, commands) as hub:
            for rate in steps.rates():
                say(f"  offering {rate:.0f} exchanges/s for {steps.step_seconds} s")
                began, ended = await hub.exchanges(rate, steps.step_seconds)
                o = hub.workload.observed
                sent = len(hub.workload.request_ids)
                offered = sent / (ended - began) if ended > began else rate
                achieved = completion_rate(o.outcome_times)
                latency = latency_ms(o.latencies)
                step = {
                    "rate_per_s": rate,
                    "offered_per_s": round(offered, 1),
                    "achieved_per_s": None if achieved is None else round(achieved, 1),
                    "exchange_latency_ms": latency,
                }
                step["within_p99_bound"] = latency["p99"] <= steps.p99_bound_ms
                step["kept_up"] = achieved is not None and achieved >= ACHIEVED_FRACTION * offered
                measured.append(step)
                say(f"    achieved {step['achieved_per_s']}/s, p99 {latency['p99']} ms")
                if not (step["within_p99_bound"] and step["kept_up"]):
                    break
    finally:
        children.stop_all()
    passing = [m for m in measured if m["within_p99_bound"] and m["kept_up"]]
    sustained = passing[-1]["achieved_per_s"] if passing else None
    return {
        "passthrough_capacity_per_s": round(passthrough, 1),
        "hub_processes": len(commands),
        "steps": measured,
        "sustained_per_s": sustained,
        "stopped_by": stopped_by(measured, passing),
        "sustained_to_passthrough_capacity": ratio(sustained, passthrough),
    }


def stopped_by(measured: list[dict[str, Any]], passing: list[dict[str, Any]]) -> str:
    if len(passing) == len(measured):
        return "max rate reached"
    if not measured[-1]["within_p99_bound"]:
        return "p99 bound"
    return "achieved below 95 % of offered"


def on_local_broker(secured: bool, s: Settings, steps: Steps) -> dict[str, Any]:
    with fresh_broker(secured=secured) as (bootstrap, workdir):
        return run_within(
            find_capacity(bootstrap, s, steps, workdir), s.timeout_seconds, "the capacity finder"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d, st = Settings(), Steps()
    parser.add_argument("--bootstrap", help="an existing broker (credentials: RENKEI_KAFKA_*)")
    parser.add_argument("--broker", choices=("secured", "plain"), default="secured")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--requests", type=int, default=d.requests,
                        help="records for the passthrough's capacity")  # fmt: skip
    parser.add_argument("--start-rate", type=float, default=st.start_rate)
    parser.add_argument("--factor", type=float, default=st.factor)
    parser.add_argument("--max-rate", type=float, default=st.max_rate)
    parser.add_argument("--step-seconds", type=float, default=st.step_seconds)
    parser.add_argument("--p99-bound-ms", type=float, default=st.p99_bound_ms)
    parser.add_argument("--split", action="store_true", help="one hub process per stage")
    add_settings_options(
        parser,
        timeout_covers="one run",
        min_transactions_help="per partition in the passthrough's measurement",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "capacity.json")
    a = parser.parse_args(argv)
    if a.factor <= 1 or a.start_rate <= 0:
        parser.error("--factor must exceed 1 and --start-rate be positive")
    s = settings_from(a, requests=a.requests)
    steps = Steps(a.start_rate, a.factor, a.max_rate, a.step_seconds, a.p99_bound_ms, a.split)
    runs: list[dict[str, Any]] = []
    try:
        for run in range(a.runs):
            say(f"run {run + 1}/{a.runs}")
            if a.bootstrap:
                with tempfile.TemporaryDirectory(prefix="renkei-bench-") as tmp:
                    work = find_capacity(a.bootstrap, s, steps, Path(tmp))
                    runs.append(run_within(work, s.timeout_seconds, "the capacity finder"))
            else:
                runs.append(on_local_broker(a.broker == "secured", s, steps))
    except (BenchmarkError, TimeoutError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    result = {
        "benchmark": "hub capacity (full exchanges, stepped load) beside the passthrough",
        "when": now_iso(),
        "machine": machine() | {"kafka": KAFKA_VERSION},
        "broker": a.bootstrap or a.broker,
        "settings": asdict(s) | asdict(steps),
        "runs": runs,
        "summary": {
            "sustained_per_s": spread(r["sustained_per_s"] for r in runs),
            "passthrough_capacity_per_s": spread(r["passthrough_capacity_per_s"] for r in runs),
            "sustained_to_passthrough_capacity": spread(
                r["sustained_to_passthrough_capacity"] for r in runs
            ),
        },
    }
    write_results(a.out, result)
    for i, r in enumerate(runs, 1):
        print(f"run {i}: passthrough capacity {r['passthrough_capacity_per_s']}/s")
        for step in r["steps"]:
            e = step["exchange_latency_ms"]
            print(f"  offered {step['offered_per_s']:>9}/s  "
                  f"achieved {step['achieved_per_s']!s:>9}/s  "
                  f"p50 {e['p50']:>8} ms  p99 {e['p99']:>8} ms")  # fmt: skip
        print(f"  sustained {r['sustained_per_s']}/s (stopped by {r['stopped_by']}); "
              f"÷ passthrough {r['sustained_to_passthrough_capacity']}")  # fmt: skip
    print(f"written to {a.out}")
    return result


if __name__ == "__main__":
    main()
