"""Hub benchmark: the hub beside a raw transactional passthrough, same broker, same run.

Throughput: N requests are loaded first; then the process under test is started and the rate
is read off the produce timestamps of its first and last output (one output per input for
both: the passthrough copies a record, the hub routes a request to its provider as a query).
Both use the same stage machinery, batch size and linger; the hub adds decoding, the ingress
re-keying hop, the decision and encoding.

Latency, at a fixed offered load below both saturations: send -> output for the passthrough,
send -> query at the provider for the hub, and the full exchange (request -> query -> answer ->
response) for the hub.

    python -m benchmarks.hub [--bootstrap HOST:PORT] [--requests N] [--rate R] [--seconds T]
                             [--broker both|secured|plain]

Without --bootstrap it starts local brokers: by default the secured one (SASL/SCRAM over TLS,
ACLs) and then a plaintext one, so results/hub.json holds both and the cost of TLS+SCRAM as a
ratio measured in the same run. Writes results/hub.json and prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.structs import TopicPartition

from benchmarks.workload import PROVIDER, REQUESTER, Workload
from deploy.local.broker import KAFKA_VERSION, KafkaCluster
from hub.control_signatures import generate_control_keys
from hub.core import Keyring
from hub.core.keys import generate_key_set, parse_key_set
from hub.onboarding import change_rollout, onboard_agency
from hub.readers import committed_reader
from hub.topics import ensure_topics
from producers.connection import kafka_options
from schemas.codec import encode, message_type
from schemas.models import RolloutOperation
from schemas.topics import inbound

RESULTS = Path(__file__).resolve().parent.parent / "results" / "hub.json"
BENCH_IN, BENCH_OUT = "bench.passthrough.in", "bench.passthrough.out"
PARTITIONS = 3
BATCH_MAX = 500  # records per transaction at most, the same for both (--batch-max)


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def rate_from_timestamps(stamps: list[int]) -> float:
    if len(stamps) < 2:
        return float("nan")
    span = (max(stamps) - min(stamps)) / 1000
    return (len(stamps) - 1) / span if span > 0 else float("inf")


def spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A child process; its output is appended to $RENKEI_BENCH_LOG if set (else dropped)."""
    log_path = os.environ.get("RENKEI_BENCH_LOG")
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=os.environ | (env or {}),
        )
    finally:
        if log_path:
            out.close()  # type: ignore[union-attr]


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def _read_out(
    bootstrap: str, topic: str, want: int, timeout: float, only: str | None = None
) -> list[Any]:
    """(record, arrival time) of the first `want` records (of message type `only`, read from
    the header alone), committed ones only."""
    consumer = committed_reader(bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(got) < want and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            now = time.monotonic()
            got.extend(
                (r, now)
                for rs in batch.values()
                for r in rs
                if only is None or message_type(r.value or b"") == only
            )
        return got
    finally:
        await consumer.stop()


async def passthrough(bootstrap: str, requests: int, rate: float, seconds: float) -> dict[str, Any]:
    await ensure_topics(bootstrap, [NewTopic(BENCH_IN, PARTITIONS, 1),
                                    NewTopic(BENCH_OUT, PARTITIONS, 1)])  # fmt: skip
    sample = encode(Workload(bootstrap).request_template())
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(BENCH_IN, sample, key=str(i).encode())
                   for i in range(requests)]  # fmt: skip
        await asyncio.gather(*futures)
        process = spawn(["benchmarks.passthrough", "--bootstrap", bootstrap,
                         "--batch-max", str(BATCH_MAX), BENCH_IN, BENCH_OUT])  # fmt: skip
        try:
            out = await _read_out(bootstrap, BENCH_OUT, requests, timeout=600)
            throughput = rate_from_timestamps([r.timestamp for r, _ in out])
            # Latency at the offered rate: keys are send times' indexes.
            sent: dict[bytes, float] = {}
            reader = asyncio.create_task(
                _read_out(
                    bootstrap, BENCH_OUT, requests + int(rate * seconds), timeout=seconds + 60
                )
            )
            began = time.monotonic()
            for i in range(int(rate * seconds)):
                key = f"lat-{i}".encode()
                sent[key] = time.monotonic()
                await producer.send(BENCH_IN, sample, key=key)
                delay = began + (i + 1) / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            arrived = await reader
        finally:
            stop(process)
    finally:
        await producer.stop()
    latencies = [t - sent[r.key] for r, t in arrived if r.key in sent]
    return {
        "throughput_per_s": round(throughput, 1),
        "latency_ms": {
            "p50": round(percentile(latencies, 50) * 1000, 1),
            "p99": round(percentile(latencies, 99) * 1000, 1),
            "samples": len(latencies),
        },
    }


async def hub(
    bootstrap: str,
    requests: int,
    rate: float,
    seconds: float,
    *,
    split: bool,
    requester: str = REQUESTER,
    provider: str = PROVIDER,
) -> dict[str, Any]:
    """Measure the hub as one process running both stages, or (split) one process a stage."""
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys.json"
        document = generate_key_set(os.urandom)
        keys.write_text(json.dumps(document))
        hub_key = Keyring.from_key_set(parse_key_set(document)).public_sealing_key
        env = {"RENKEI_KEYS_FILE": str(keys)}
        base = ["renkei", "hub", "run", "--bootstrap", bootstrap, "--partitions", str(PARTITIONS),
                "--replication", "1", "--batch-max", str(BATCH_MAX)]  # fmt: skip
        commands = (
            [[*base, "--stage", "ingress"], [*base, "--stage", "router"]] if split else [base]
        )
        for agency in (requester, provider):
            await onboard_agency(bootstrap, agency)
        await change_rollout(bootstrap, RolloutOperation.ADVANCE)
        workload = Workload(
            bootstrap,
            persons=200,
            requester=requester,
            provider=provider,
            answering=False,
            hub_key=hub_key,
        )
        await workload.start()
        processes = [spawn(c, env) for c in commands]
        try:
            await workload.enrol_everyone()
            await asyncio.sleep(2)  # relocations processed
            for process in processes:
                stop(process)
            # Nothing but the hub decodes during the throughput run: read its output raw.
            await workload.stop_collectors()
            await workload.send_requests(requests)  # loaded while the hub is down
            processes = [spawn(c, env) for c in commands]
            out = await _read_out(
                bootstrap, inbound(provider), requests, timeout=600, only="AttributeQuery"
            )
            if len(out) < requests:
                raise TimeoutError("the hub did not route the load in time")
            throughput = rate_from_timestamps([r.timestamp for r, _ in out])
            # Latency at the offered rate, provider answering: the full exchange.
            workload.answering = True
            workload.request_ids.clear()
            workload.start_collectors(from_end=True)
            await asyncio.sleep(2)
            await workload.send_requests(int(rate * seconds), rate=rate)
            await workload.wait_done(timeout=120)
        finally:
            for process in processes:
                stop(process)
            await workload.stop()
    o = workload.observed
    return {
        "throughput_per_s": round(throughput, 1),
        "latency_ms": {
            "p50": round(percentile(o.query_latencies, 50) * 1000, 1),
            "p99": round(percentile(o.query_latencies, 99) * 1000, 1),
            "samples": len(o.query_latencies),
        },
        "exchange_latency_ms": {
            "p50": round(percentile(o.latencies, 50) * 1000, 1),
            "p99": round(percentile(o.latencies, 99) * 1000, 1),
            "samples": len(o.latencies),
        },
    }


async def run(bootstrap: str, requests: int, rate: float, seconds: float) -> dict[str, Any]:
    base = await passthrough(bootstrap, requests, rate, seconds)
    measured = await hub(bootstrap, requests, rate, seconds, split=False)
    # Second variant on the same broker: other municipalities (phase 2 makes them live).
    split = await hub(
        bootstrap, requests, rate, seconds, split=True, requester="mun-01100", provider="mun-13102"
    )
    return {
        "what": "hub (ingress + router) vs raw transactional passthrough, same broker, same run",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "kafka": KAFKA_VERSION,
        },
        "requests": requests,
        "offered_rate_per_s": rate,
        "offered_seconds": seconds,
        "partitions": PARTITIONS,
        "batch_max": BATCH_MAX,
        "passthrough": base,
        "hub": measured,
        "hub_one_process_per_stage": split,
        "hub_to_passthrough_throughput": round(
            measured["throughput_per_s"] / base["throughput_per_s"], 3
        ),
        "hub_one_process_per_stage_to_passthrough_throughput": round(
            split["throughput_per_s"] / base["throughput_per_s"], 3
        ),
    }


def on_local_broker(secured: bool, requests: int, rate: float, seconds: float) -> dict[str, Any]:
    """The benchmark on a fresh local broker; every client here and in the spawned hub and
    passthrough processes connects as that broker's admin (settings in the environment)."""
    with KafkaCluster(1, secured=secured) as cluster, tempfile.TemporaryDirectory() as keys:
        saved = dict(os.environ)
        os.environ.update(cluster.admin_environment())
        os.environ.update(generate_control_keys(Path(keys)))  # signed control, as in production
        try:
            return asyncio.run(run(cluster.bootstrap, requests, rate, seconds))
        finally:
            os.environ.clear()
            os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-max", type=int, default=BATCH_MAX)
    parser.add_argument("--broker", choices=("both", "secured", "plain"), default="both")
    a = parser.parse_args()
    globals()["BATCH_MAX"] = a.batch_max
    if a.bootstrap:  # credentials from RENKEI_KAFKA_*
        result = asyncio.run(run(a.bootstrap, a.requests, a.rate, a.seconds))
    else:
        runs = {
            label: on_local_broker(secured, a.requests, a.rate, a.seconds)
            for label, secured in (("secured", True), ("plain", False))
            if a.broker in ("both", label)
        }
        result = runs.get("secured") or runs["plain"]
        result["broker"] = "secured (SASL/SCRAM-SHA-512 over TLS, ACLs)" if "secured" in runs \
            else "plain"  # fmt: skip
        if len(runs) == 2:
            plain = runs["plain"]
            measured = ("passthrough", "hub", "hub_one_process_per_stage")
            result["plain_broker"] = {k: plain[k] for k in measured}
            result["secured_to_plain_hub_throughput"] = round(
                result["hub"]["throughput_per_s"] / plain["hub"]["throughput_per_s"], 3
            )
            result["secured_to_plain_passthrough_throughput"] = round(
                result["passthrough"]["throughput_per_s"]
                / plain["passthrough"]["throughput_per_s"],
                3,
            )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    p, h = result["passthrough"], result["hub"]
    print(f"{'':24}{'throughput/s':>14}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'passthrough':24}{p['throughput_per_s']:>14}{p['latency_ms']['p50']:>10}"
          f"{p['latency_ms']['p99']:>10}")  # fmt: skip
    print(f"{'hub (request->query)':24}{h['throughput_per_s']:>14}{h['latency_ms']['p50']:>10}"
          f"{h['latency_ms']['p99']:>10}")  # fmt: skip
    e = h["exchange_latency_ms"]
    print(f"{'hub full exchange':24}{'':>14}{e['p50']:>10}{e['p99']:>10}")
    s = result["hub_one_process_per_stage"]
    print(f"{'hub, process per stage':24}{s['throughput_per_s']:>14}{s['latency_ms']['p50']:>10}"
          f"{s['latency_ms']['p99']:>10}")  # fmt: skip
    print(
        f"hub / passthrough throughput: {result['hub_to_passthrough_throughput']}; "
        f"process per stage: {result['hub_one_process_per_stage_to_passthrough_throughput']}"
    )
    if "secured_to_plain_hub_throughput" in result:
        print(
            f"secured / plain broker throughput: hub {result['secured_to_plain_hub_throughput']}"
            f", passthrough {result['secured_to_plain_passthrough_throughput']}"
        )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
