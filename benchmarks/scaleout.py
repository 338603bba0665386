"""Scale-out: the hub's throughput with one router process and with two, on the same box.

    python -m benchmarks.scaleout [--counts 1,2] [--layout routers|replicas] [--partitions 6]
                                  [--requests N] [--runs N] [--broker secured|plain]

Layouts: `routers` (default) runs one ingress process and N router processes (`renkei hub run
--stage …`); `replicas` runs N whole replicas (both stages each, as deployed). For each count,
on a fresh local broker: the hub is started, persons enrolled, and once every consumer group is
stable with its N members (each holding partitions), N pre-encoded requests are written as fast
as the producer goes; the rate is read off the queries' produce timestamps. The ratio two ÷ one
is the scale-out on this box, bounded by its cores (N processes share them with the broker and
the load). The per-process rate is the input of the national-load model in the README.
Writes results/scaleout.json.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from benchmarks.common import (
    RESULTS,
    BenchmarkError,
    Children,
    fresh_broker,
    groups_settled,
    machine,
    now_iso,
    rate_from_timestamps,
    ratio,
    run_within,
    spread,
    write_results,
)
from benchmarks.hub import HubUnderTest, Settings, add_settings_options, say, settings_from
from benchmarks.workload import PROVIDER, REQUESTER
from deploy.local.broker import KAFKA_VERSION
from hub.service import INGRESS_GROUP, ROUTER_GROUP
from producers.connection import kafka_options
from schemas.codec import encode
from schemas.topics import outbound


def layout_commands(layout: str, count: int) -> tuple[list[list[str]], dict[str, int]]:
    """The processes' extra `hub run` arguments and the members each group should settle on."""
    if layout == "replicas":
        return [[] for _ in range(count)], {INGRESS_GROUP: count, ROUTER_GROUP: count}
    router = ["--stage", "router"]
    return [["--stage", "ingress"]] + [router] * count, {INGRESS_GROUP: 1, ROUTER_GROUP: count}


# On a given broker (--bootstrap) each count needs agencies of its own, live after one more
# rollout phase each (the hub's state of the earlier count stays on that broker).
AGENCY_PAIRS = [(REQUESTER, PROVIDER), ("mun-01100", "mun-13102")]


async def measure(
    bootstrap: str, s: Settings, layout: str, count: int, workdir: Path, pair: int = 0
) -> dict[str, Any]:
    children = Children(workdir)
    commands, members = layout_commands(layout, count)
    requester, provider = AGENCY_PAIRS[pair]
    try:
        async with HubUnderTest(
            bootstrap, s, children, workdir, commands, requester, provider
        ) as hub:
            await groups_settled(bootstrap, members, timeout=10 * s.stall_seconds,
                                 watch=children.check)  # fmt: skip
            await asyncio.sleep(3)  # partitions made ready after assignment
            await hub.workload.stop_collectors()
            total = s.backlog(s.batch_max)
            requests = [hub.workload.request(i) for i in range(total)]
            encoded = [(encode(r), r.person_code) for r in requests]
            say(f"  {layout}: {count}, {total} requests written as fast as possible")
            producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", linger_ms=5)
            await producer.start()
            try:
                topic = outbound(hub.requester)
                futures = [await producer.send(topic, value, key=key) for value, key in encoded]
                await asyncio.gather(*futures)
            finally:
                await producer.stop()
            out = await hub.queries(total)
            rate = rate_from_timestamps([r.timestamp for r, _ in out])
    finally:
        children.stop_all()
    return {"layout": layout, "count": count, "processes": len(commands),
            "throughput_per_s": round(rate, 1)}  # fmt: skip


def on_local_broker(secured: bool, s: Settings, layout: str, count: int) -> dict[str, Any]:
    with fresh_broker(secured=secured) as (bootstrap, workdir):
        return run_within(
            measure(bootstrap, s, layout, count, workdir), s.timeout_seconds, "the measurement"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bootstrap", help="an existing broker (credentials: RENKEI_KAFKA_*)")
    parser.add_argument("--counts", default="1,2", help="processes to compare, e.g. 1,2")
    parser.add_argument("--layout", choices=("routers", "replicas"), default="routers")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--broker", choices=("secured", "plain"), default="secured")
    add_settings_options(parser, timeout_covers="one measurement")
    parser.add_argument("--out", type=Path, default=RESULTS / "scaleout.json")
    a = parser.parse_args(argv)
    counts = [int(c) for c in a.counts.split(",") if c]
    if not counts or min(counts) < 1:
        parser.error("--counts: positive numbers of processes, e.g. 1,2")
    if a.bootstrap and (a.runs * len(counts) > len(AGENCY_PAIRS)):
        parser.error(f"on a given broker at most {len(AGENCY_PAIRS)} measurements (runs × counts)")
    s = settings_from(a, requests=a.requests, partitions=a.partitions)
    runs: list[dict[str, float]] = []
    try:
        for run in range(a.runs):
            figures: dict[str, float] = {}
            for i, count in enumerate(counts):
                if a.bootstrap:
                    say(f"run {run + 1}/{a.runs}: {count} {a.layout} on {a.bootstrap}")
                    with tempfile.TemporaryDirectory(prefix="renkei-bench-") as tmp:
                        pair = run * len(counts) + i
                        work = measure(a.bootstrap, s, a.layout, count, Path(tmp), pair)
                        measured = run_within(work, s.timeout_seconds, "the measurement")
                else:
                    say(f"run {run + 1}/{a.runs}: {count} {a.layout} on a fresh {a.broker} broker")
                    measured = on_local_broker(a.broker == "secured", s, a.layout, count)
                figures[str(count)] = measured["throughput_per_s"]
            runs.append(figures)
    except (BenchmarkError, TimeoutError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    summary: dict[str, Any] = {
        f"throughput_per_s_with_{c}": spread(r[str(c)] for r in runs) for c in counts
    }
    first = counts[0]
    for c in counts[1:]:
        summary[f"{c}_to_{first}"] = spread(ratio(r[str(c)], r[str(first)]) for r in runs)
    result = {
        "benchmark": f"scale-out: hub throughput by number of {a.layout} processes, one box",
        "when": now_iso(),
        "machine": machine() | {"kafka": KAFKA_VERSION},
        "broker": a.bootstrap or a.broker,
        "layout": a.layout,
        "settings": asdict(s),
        "runs": runs,
        "summary": summary,
    }
    write_results(a.out, result)
    for name, f in summary.items():
        print(f"{name:32}{f['min']!s:>10}{f['median']!s:>10}{f['max']!s:>10}")
    print(f"written to {a.out}")
    return result


if __name__ == "__main__":
    main()
