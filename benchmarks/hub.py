"""Hub benchmark: the hub beside raw transactional passthroughs, same broker, same run.

    python -m benchmarks.hub [--broker both|secured|plain] [--runs N] [--requests N]
                             [--seconds T] [--rate R | --rate-of-capacity F] [--batch-max N]
                             [--best-batches 5000]
                             [--bootstrap HOST:PORT] [--out FILE]

Per broker (without --bootstrap: a fresh local secured broker — SASL/SCRAM over TLS, ACLs —
and a fresh plain one, each run), in this order:

1. Throughput baselines: N records are loaded, then a one-hop transactional passthrough
   (consume -> produce -> commit, the hub's own stage machinery, no logic) is started and the
   rate read off its output's produce timestamps: at the hub's transaction settings
   (--batch-max, --linger-ms) and at larger transactions (--best-batches), and the same on
   confluent-kafka (librdkafka, KIP-447 offsets; --librdkafka-batches); the best is kept.
2. Latency baselines at a load of a quarter of the passthrough's capacity at the hub's
   settings (or --rate, or --rate-of-capacity: a fraction of the hub's own sustained rate from
   results/capacity.json, a load the hub keeps up with): the one-hop passthrough, and a chain
   of as many transactional hops as the full exchange takes — request -> ingress -> router ->
   query, a plain relay as the provider's answer, answer -> ingress -> router -> response:
   four hops and a relay.
3. The hub, as one process running both stages, then as one process per stage: the same N
   requests loaded while it is down (rate from its queries' produce timestamps), then the same
   offered load for latency: request -> query and the full exchange.

Ratios in the results: hub ÷ passthrough throughput (both settings), full-exchange p99 ÷ the
chain's p99, and secured ÷ plain (the cost of TLS+SCRAM). A stage that stops making progress
for --stall-seconds, or a child process that exits, fails the benchmark with what it saw and
the child's log; nothing waits forever. Writes results/hub.json and prints a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable
from contextlib import suppress
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic
from aiokafka.structs import TopicPartition

from benchmarks.common import (
    RESULTS,
    BenchmarkError,
    Children,
    fresh_broker,
    latency_ms,
    machine,
    now_iso,
    rate_from_timestamps,
    ratio,
    read_topic,
    run_within,
    spread,
    write_hub_keys,
    write_results,
)
from benchmarks.workload import PROVIDER, REQUESTER, Observed, Workload
from deploy.local.broker import KAFKA_VERSION
from hub.onboarding import change_rollout, onboard_agency
from hub.readers import committed_reader, partitions_of
from hub.topics import ensure_topics
from producers.connection import kafka_options
from schemas.codec import decode, encode, message_type
from schemas.models import RequestDenied, RolloutOperation
from schemas.topics import inbound

T = TypeVar("T")
# A rate budget no benchmark load reaches: the benchmark measures routing, not refusals.
UNBOUNDED_BUDGET = "100000000/100000000"
SECURED = "secured (SASL/SCRAM-SHA-512 over TLS, ACLs)"


@dataclass(frozen=True)
class Settings:
    requests: int = 10_000
    seconds: float = 8.0
    rate: float | None = None  # offered load for latency; None: a quarter of the capacity
    batch_max: int = 500  # the hub's transaction settings, given to the hub and passthrough
    linger_ms: int = 20
    best_batches: tuple[int, ...] = (5_000,)
    librdkafka_batches: tuple[int, ...] = (5_000,)  # the other client, KIP-447 offsets
    partitions: int = 3
    persons: int = 200
    stall_seconds: float = 60.0
    min_transactions: int = 10  # per partition, at the least, in a throughput measurement
    timeout_seconds: float = 1800.0  # one broker's measurements, all told

    def backlog(self, batch_max: int) -> int:
        """Records for a throughput measurement at `batch_max` records per transaction: at
        least `requests`, and enough for `min_transactions` full transactions per partition
        (a rate read off a handful of commit timestamps is noise)."""
        return max(self.requests, self.min_transactions * batch_max * self.partitions)


def add_settings_options(
    parser: argparse.ArgumentParser,
    *,
    timeout_covers: str,
    min_transactions_help: str = "per partition, in a throughput measurement",
) -> None:
    """The options every Kafka benchmark takes for its Settings (read with `settings_from`)."""
    d = Settings()
    parser.add_argument("--batch-max", type=int, default=d.batch_max)
    parser.add_argument("--linger-ms", type=int, default=d.linger_ms)
    parser.add_argument("--persons", type=int, default=d.persons)
    parser.add_argument("--stall-seconds", type=float, default=d.stall_seconds)
    parser.add_argument(
        "--min-transactions", type=int, default=d.min_transactions, help=min_transactions_help
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=d.timeout_seconds,
        help=f"seconds for {timeout_covers} before giving up",
    )


def settings_from(a: argparse.Namespace, **others: Any) -> Settings:
    """Settings from the options of `add_settings_options`, and `others` as given."""
    return Settings(
        batch_max=a.batch_max,
        linger_ms=a.linger_ms,
        persons=a.persons,
        stall_seconds=a.stall_seconds,
        min_transactions=a.min_transactions,
        timeout_seconds=a.timeout,
        **others,
    )


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


async def watched(work: Awaitable[T], children: Children, timeout: float, what: str) -> T:
    """`work`, failing at once if a child exits, or after `timeout` seconds saying what."""
    task = asyncio.ensure_future(work)
    deadline = time.monotonic() + timeout
    try:
        while not task.done():
            children.check()
            if time.monotonic() > deadline:
                raise BenchmarkError(f"{what}: not done after {timeout:.0f} s")
            await asyncio.wait({task}, timeout=0.5)
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await task


class Arrivals:
    """Follows one topic from its current end, noting when each keyed record arrives; with
    `relay_to`, copies every record there (a plain consumer -> producer, as an answering
    provider is: no transaction)."""

    def __init__(self, bootstrap: str, topic: str, relay_to: str | None = None) -> None:
        self.bootstrap, self.topic, self.relay_to = bootstrap, topic, relay_to
        self.at: dict[bytes, float] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        parts = await partitions_of(self.bootstrap, self.topic)
        consumer = committed_reader(self.bootstrap)
        await consumer.start()
        tps = [TopicPartition(self.topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_end(*tps)
        for tp in tps:
            await consumer.position(tp)  # fixed now, before anything is sent
        producer = None
        if self.relay_to is not None:
            producer = AIOKafkaProducer(**kafka_options(self.bootstrap), acks="all", linger_ms=5)
            await producer.start()
        self._task = asyncio.create_task(self._follow(consumer, producer))

    async def _follow(self, consumer: Any, producer: AIOKafkaProducer | None) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                now = time.monotonic()
                pending = []
                for records in batch.values():
                    for r in records:
                        self.at.setdefault(r.key, now)
                        if producer is not None and self.relay_to is not None:
                            pending.append(await producer.send(self.relay_to, r.value, key=r.key))
                if pending:
                    await asyncio.gather(*pending)
        finally:
            await consumer.stop()
            if producer is not None:
                await producer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task

    async def wait_for(
        self, keys: list[bytes], stall_seconds: float, children: Children, what: str
    ) -> None:
        progress, seen = time.monotonic(), -1
        while True:
            arrived = sum(1 for k in keys if k in self.at)
            if arrived == len(keys):
                return
            if arrived != seen:
                progress, seen = time.monotonic(), arrived
            elif time.monotonic() - progress > stall_seconds:
                raise BenchmarkError(
                    f"{what}: {arrived} of {len(keys)} arrived on {self.topic}, then nothing "
                    f"for {stall_seconds:.0f} s"
                )
            children.check()
            if self._task is not None and self._task.done():
                self._task.result()  # its exception, if it failed
            await asyncio.sleep(0.1)


class Passthroughs:
    """Raw transactional passthroughs on one broker: throughput at a transaction size, and
    latency of a path of hops at an offered load."""

    def __init__(self, bootstrap: str, settings: Settings, children: Children) -> None:
        self.bootstrap, self.s, self.children = bootstrap, settings, children
        self.sample = encode(Workload(bootstrap).request_template())
        self._producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> Passthroughs:
        self._producer = AIOKafkaProducer(**kafka_options(self.bootstrap), acks="all", linger_ms=5)
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            await self._producer.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None
        return self._producer

    async def topics(self, *names: str) -> None:
        await ensure_topics(self.bootstrap, [NewTopic(n, self.s.partitions, 1) for n in names])

    def spawn(self, label: str, batch_max: int, *stages: str) -> Any:
        command = ["benchmarks.passthrough", "--bootstrap", self.bootstrap,
                   "--group", f"bench-{label}", "--batch-max", str(batch_max),
                   "--linger-ms", str(self.s.linger_ms)]  # fmt: skip
        return self.children.spawn(command + [a for stage in stages for a in ("--stage", stage)])

    async def throughput(
        self, label: str, batch_max: int, client: str = "aiokafka"
    ) -> tuple[float, Any]:
        """Records/s of a one-hop passthrough over a preloaded backlog; the process is left
        running (for a latency measurement), stopped with the children. `client` aiokafka:
        the hub's stage machinery; librdkafka: benchmarks.passthrough_librdkafka."""
        source, target = f"bench.{label}.in", f"bench.{label}.out"
        await self.topics(source, target)
        count = self.s.backlog(batch_max)
        say(f"  {client} passthrough, {batch_max} records per transaction: {count} records")
        futures = [await self.producer.send(source, self.sample, key=str(i).encode())
                   for i in range(count)]  # fmt: skip
        await asyncio.gather(*futures)
        if client == "librdkafka":
            command = ["benchmarks.passthrough_librdkafka", "--bootstrap", self.bootstrap,
                       "--batch-max", str(batch_max), "--linger-ms", str(self.s.linger_ms),
                       source, target]  # fmt: skip
            process = self.children.spawn(command)
        else:
            process = self.spawn(label, batch_max, f"{source}={target}")
        out = await read_topic(self.bootstrap, target, count,
                               stall_seconds=self.s.stall_seconds, watch=self.children.check,
                               what=f"passthrough copies ({batch_max}/transaction)")  # fmt: skip
        return rate_from_timestamps([r.timestamp for r, _ in out]), process

    async def latency(
        self, source: str, target: str, rate: float, midway: Arrivals | None = None
    ) -> dict[str, Any]:
        """Send keyed records into `source` at `rate` for the set seconds; send -> arrival at
        `target` (and at `midway`, if given)."""
        arrivals = Arrivals(self.bootstrap, target)
        await arrivals.start()
        try:
            warm = f"warm-{time.monotonic_ns()}".encode()  # the path is up before timing
            await (await self.producer.send(source, self.sample, key=warm))
            await arrivals.wait_for([warm], self.s.stall_seconds, self.children, "warm-up")
            sent: dict[bytes, float] = {}
            began = time.monotonic()
            for i in range(max(1, int(rate * self.s.seconds))):
                key = f"lat-{i}-{began}".encode()
                sent[key] = time.monotonic()
                await self.producer.send(source, self.sample, key=key)
                delay = began + (i + 1) / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await arrivals.wait_for(list(sent), self.s.stall_seconds, self.children,
                                    f"latency load on {source}")  # fmt: skip
        finally:
            await arrivals.stop()
        result = {"end_to_end_ms": latency_ms([arrivals.at[k] - t for k, t in sent.items()])}
        if midway is not None:
            result["midway_ms"] = latency_ms([midway.at[k] - t for k, t in sent.items()
                                              if k in midway.at])  # fmt: skip
        return result

    async def chain_latency(self, rate: float) -> dict[str, Any]:
        """The full exchange's path without the hub's logic, in the hub's shape: two stages in
        one process and one internal topic between them; the first stage takes requests and
        answers into it, the second takes them out as queries and responses (four
        transactional hops), and a plain relay stands for the provider answering."""
        names = ("request", "internal", "query", "answer", "response")
        req, mid, query, answer, resp = (f"bench.chain.{n}" for n in names)
        await self.topics(req, mid, query, answer, resp)
        self.spawn("chain", self.s.batch_max, f"{req}={mid}>{query},{answer}={mid}>{resp}",
                   f"{mid}=*")  # fmt: skip
        relay = Arrivals(self.bootstrap, query, relay_to=answer)
        await relay.start()
        try:
            say(f"  chain of 4 transactional hops + relay at {rate:.0f}/s for {self.s.seconds} s")
            measured = await self.latency(req, resp, rate, midway=relay)
        finally:
            await relay.stop()
        return {
            "hops": "4 transactional (2 stages, one process, one internal topic) + a plain relay",
            "latency_ms": measured["end_to_end_ms"],
            "two_hop_latency_ms": measured["midway_ms"],
        }


async def denials_on(bootstrap: str, requester: str) -> dict[str, int]:
    """RequestDenied reasons on the requester's inbox so far (for an error message)."""
    consumer = committed_reader(bootstrap)
    await consumer.start()
    reasons: dict[str, int] = {}
    try:
        tps = [TopicPartition(inbound(requester), p)
               for p in await partitions_of(bootstrap, inbound(requester))]  # fmt: skip
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        while True:
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if not batch:
                return reasons
            for records in batch.values():
                for r in records:
                    if message_type(r.value or b"") == "RequestDenied":
                        denied = decode(r.value or b"")
                        assert isinstance(denied, RequestDenied)
                        reasons[denied.reason.value] = reasons.get(denied.reason.value, 0) + 1
    finally:
        await consumer.stop()


class HubUnderTest:
    """The hub run as `commands` (extra arguments to `renkei hub run`, one process each) for a
    requester and a provider onboarded and made live, with `persons` enrolled through it."""

    def __init__(
        self,
        bootstrap: str,
        s: Settings,
        children: Children,
        workdir: Path,
        commands: list[list[str]],
        requester: str = REQUESTER,
        provider: str = PROVIDER,
    ) -> None:
        self.bootstrap, self.s, self.children, self.commands = bootstrap, s, children, commands
        self.requester, self.provider = requester, provider
        keys = workdir / f"keys-{requester}.json"
        self.hub_key = write_hub_keys(keys).public_sealing_key
        self.env = {"RENKEI_KEYS_FILE": str(keys)}
        self.base = ["renkei", "hub", "run", "--bootstrap", bootstrap, "--partitions",
                     str(s.partitions), "--replication", "1", "--batch-max", str(s.batch_max),
                     "--linger-ms", str(s.linger_ms), "--budget", UNBOUNDED_BUDGET]  # fmt: skip
        self.processes: list[Any] = []
        self.workload = Workload(
            bootstrap, s.persons, requester, provider, answering=False, hub_key=self.hub_key
        )

    def start_processes(self) -> None:
        self.processes = [self.children.spawn([*self.base, *c], self.env) for c in self.commands]

    def stop_processes(self) -> None:
        for process in self.processes:
            self.children.stop_one(process)
        self.processes = []

    async def __aenter__(self) -> HubUnderTest:
        for agency in (self.requester, self.provider):
            await onboard_agency(self.bootstrap, agency)
        await change_rollout(self.bootstrap, RolloutOperation.ADVANCE)
        await self.workload.start()
        self.start_processes()
        say(f"  hub ({len(self.commands)} process(es)): enrolling {self.s.persons} persons")
        wait = 10 * self.s.stall_seconds
        await watched(self.workload.enrol_everyone(timeout=wait), self.children, wait,
                      "enrolment through the hub")  # fmt: skip
        await asyncio.sleep(2)  # relocations processed
        self.children.check()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop_processes()
        await self.workload.stop()

    async def queries(self, count: int) -> list[tuple[Any, float]]:
        """The first `count` queries at the provider (decoding nothing but their header)."""
        try:
            return await read_topic(self.bootstrap, inbound(self.provider), count,
                                    stall_seconds=self.s.stall_seconds, only="AttributeQuery",
                                    watch=self.children.check, what="queries")  # fmt: skip
        except BenchmarkError as exc:
            denied = await denials_on(self.bootstrap, self.requester)
            raise BenchmarkError(f"{exc}; the hub denied {denied or 'none'}") from exc

    async def exchanges(self, rate: float, seconds: float) -> tuple[float, float]:
        """Full exchanges at `rate` for `seconds`, the provider answering; waits for every
        outcome and provision record. (send start, send end) in monotonic time."""
        workload = self.workload
        if not workload.answering:
            workload.answering = True
            workload.start_collectors(from_end=True)
            await asyncio.sleep(2)
        workload.request_ids.clear()
        workload.observed = Observed()
        began = time.monotonic()
        await workload.send_requests(max(1, int(rate * seconds)), rate=rate, prepared=True)
        ended = time.monotonic()
        wait = 10 * self.s.stall_seconds
        await watched(workload.wait_done(timeout=wait), self.children, wait,
                      f"the hub's answers at {rate:.0f} requests/s")  # fmt: skip
        return began, ended


async def measure_hub(
    bootstrap: str,
    s: Settings,
    children: Children,
    rate: float,
    commands: list[list[str]],
    requester: str,
    provider: str,
    workdir: Path,
) -> dict[str, Any]:
    """Throughput over a preloaded backlog (loaded while the hub is down, timed from its
    queries' produce timestamps), then latency at `rate`."""
    async with HubUnderTest(bootstrap, s, children, workdir, commands, requester, provider) as h:
        h.stop_processes()
        # Nothing but the hub decodes during the throughput run: read its output raw.
        await h.workload.stop_collectors()
        count = s.backlog(s.batch_max)
        say(f"  hub: {count} requests loaded while it is down, then timed")
        await h.workload.send_requests(count)
        h.start_processes()
        throughput = rate_from_timestamps([r.timestamp for r, _ in await h.queries(count)])
        say(f"  hub: {rate:.0f} requests/s for {s.seconds} s, provider answering")
        await h.exchanges(rate, s.seconds)
    o = h.workload.observed
    return {
        "processes": len(commands),
        "throughput_per_s": round(throughput, 1),
        "throughput_records": count,
        "latency_ms": latency_ms(o.query_latencies),
        "exchange_latency_ms": latency_ms(o.latencies),
    }


async def measure(bootstrap: str, s: Settings, workdir: Path) -> dict[str, Any]:
    """Every figure on one broker."""
    children = Children(workdir)
    try:
        async with Passthroughs(bootstrap, s, children) as pt:
            at_hub, process = await pt.throughput("hub-settings", s.batch_max)
            rate = s.rate or round(at_hub / 4, 1)
            say(f"  one-hop passthrough latency at {rate:.0f}/s for {s.seconds} s")
            one_hop = await pt.latency("bench.hub-settings.in", "bench.hub-settings.out", rate)
            children.stop_one(process)
            best: dict[str, float] = {str(s.batch_max): round(at_hub, 1)}
            for size in s.best_batches:
                figure, process = await pt.throughput(f"batch-{size}", size)
                children.stop_one(process)
                best[str(size)] = round(figure, 1)
            other: dict[str, float] = {}
            for size in s.librdkafka_batches:
                figure, process = await pt.throughput(f"librdkafka-{size}", size, "librdkafka")
                children.stop_one(process)
                other[str(size)] = round(figure, 1)
            chain = await pt.chain_latency(rate)
            children.stop_all()
        one = await measure_hub(bootstrap, s, children, rate, [[]], REQUESTER, PROVIDER, workdir)
        # Second variant on the same broker: other municipalities (phase 2 makes them live).
        split = await measure_hub(bootstrap, s, children, rate,
                                  [["--stage", "ingress"], ["--stage", "router"]],
                                  "mun-01100", "mun-13102", workdir)  # fmt: skip
    finally:
        children.stop_all()
    candidates = [(v, "aiokafka", int(k)) for k, v in best.items()]
    candidates += [(v, "librdkafka", int(k)) for k, v in other.items()]
    best_rate, best_client, best_size = max(candidates)
    passthrough = {
        "throughput_per_s": round(at_hub, 1),
        "latency_ms": one_hop["end_to_end_ms"],
        "throughput_per_s_by_batch_max": best,
        "librdkafka_throughput_per_s_by_batch_max": other,
        "best_throughput_per_s": best_rate,
        "best_client": best_client,
        "best_batch_max": best_size,
    }
    return {
        "offered_rate_per_s": rate,
        "passthrough": passthrough,
        "passthrough_chain": chain,
        "hub": one,
        "hub_one_process_per_stage": split,
        "ratios": ratios(passthrough, chain, one, split),
    }


def ratios(
    passthrough: dict[str, Any],
    chain: dict[str, Any],
    one: dict[str, Any],
    split: dict[str, Any],
) -> dict[str, float | None]:
    """The targets' ratios (issue 15): hub ÷ passthrough throughput ≥ 0.7, at the hub's
    transaction settings and against the best the passthrough reached; full-exchange p99 ≤ 1.5
    × the chain's p99 at the same load."""
    chain_p99 = chain["latency_ms"]["p99"]
    return {
        "hub_to_passthrough_throughput": ratio(
            one["throughput_per_s"], passthrough["throughput_per_s"]
        ),
        "hub_one_process_per_stage_to_passthrough_throughput": ratio(
            split["throughput_per_s"], passthrough["throughput_per_s"]
        ),
        "hub_to_best_passthrough_throughput": ratio(
            one["throughput_per_s"], passthrough["best_throughput_per_s"]
        ),
        "hub_one_process_per_stage_to_best_passthrough_throughput": ratio(
            split["throughput_per_s"], passthrough["best_throughput_per_s"]
        ),
        "hub_exchange_p99_to_chain_p99": ratio(one["exchange_latency_ms"]["p99"], chain_p99),
        "hub_one_process_per_stage_exchange_p99_to_chain_p99": ratio(
            split["exchange_latency_ms"]["p99"], chain_p99
        ),
        "hub_query_p99_to_two_hop_p99": ratio(
            one["latency_ms"]["p99"], chain["two_hop_latency_ms"]["p99"]
        ),
    }


def on_local_broker(secured: bool, s: Settings) -> dict[str, Any]:
    """Every figure on a fresh local broker; every client here and in the spawned processes
    connects as that broker's admin (settings in the environment)."""
    with fresh_broker(secured=secured) as (bootstrap, workdir):
        return run_within(
            measure(bootstrap, s, workdir), s.timeout_seconds, "the measurements on one broker"
        )


FIGURES = {  # name in the summary: path in one broker's figures
    "passthrough_per_s": ("passthrough", "throughput_per_s"),
    "best_passthrough_per_s": ("passthrough", "best_throughput_per_s"),
    "hub_per_s": ("hub", "throughput_per_s"),
    "hub_process_per_stage_per_s": ("hub_one_process_per_stage", "throughput_per_s"),
    "passthrough_p99_ms": ("passthrough", "latency_ms", "p99"),
    "chain_p99_ms": ("passthrough_chain", "latency_ms", "p99"),
    "hub_query_p99_ms": ("hub", "latency_ms", "p99"),
    "hub_exchange_p50_ms": ("hub", "exchange_latency_ms", "p50"),
    "hub_exchange_p99_ms": ("hub", "exchange_latency_ms", "p99"),
    "hub_process_per_stage_exchange_p99_ms": (
        "hub_one_process_per_stage",
        "exchange_latency_ms",
        "p99",
    ),
}


def dig(figures: dict[str, Any], path: tuple[str, ...]) -> Any:
    for step in path:
        figures = figures[step]
    return figures


def summarise(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """min–median–max of each figure and ratio over the runs, per broker, and secured ÷ plain
    from runs paired in order (each pair measured back to back)."""
    summary: dict[str, Any] = {}
    for broker, measured in runs.items():
        figures = {name: spread(dig(m, path) for m in measured) for name, path in FIGURES.items()}
        for name in measured[0]["ratios"]:
            figures[name] = spread(m["ratios"][name] for m in measured)
        summary[broker] = figures
    if "secured" in runs and "plain" in runs:
        pairs = list(zip(runs["secured"], runs["plain"], strict=True))
        summary["secured_to_plain"] = {
            name: spread(ratio(dig(a, path), dig(b, path)) for a, b in pairs)
            for name, path in FIGURES.items()
            if name.endswith("per_s")
        } | {
            f"{name}_latency": spread(ratio(dig(a, path), dig(b, path)) for a, b in pairs)
            for name, path in FIGURES.items()
            if name.endswith("p99_ms")
        }
    return summary


TARGETS = {
    "hub_to_passthrough_throughput": ">= 0.7 (one process per stage allowed)",
    "hub_exchange_p99_to_chain_p99": "<= 1.5 at a quarter of the passthrough's capacity",
}


def print_summary(result: dict[str, Any]) -> None:
    for broker, figures in result["summary"].items():
        print(f"\n{broker}: min / median / max over {result['runs']} run(s)")
        for name, f in figures.items():
            print(f"  {name:58}{f['min']!s:>10}{f['median']!s:>10}{f['max']!s:>10}")
    print("\ntargets: " + "; ".join(f"{k} {v}" for k, v in TARGETS.items()))


def rate_of_capacity(fraction: float, capacity_results: Path) -> float:
    """`fraction` of the median sustained full exchanges/s that benchmarks.capacity wrote."""
    if not 0 < fraction <= 1:
        raise ValueError(f"--rate-of-capacity is a fraction in (0, 1], not {fraction}")
    try:
        document = json.loads(capacity_results.read_text("utf-8"))
        sustained = float(document["summary"]["sustained_per_s"]["median"])
    except FileNotFoundError:
        raise ValueError(
            f"{capacity_results} does not exist: run python -m benchmarks.capacity first"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(
            f"{capacity_results} has no median sustained rate ({type(exc).__name__}): "
            "rerun python -m benchmarks.capacity"
        ) from None
    return round(sustained * fraction, 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    d = Settings()
    parser.add_argument("--bootstrap", help="an existing broker (credentials: RENKEI_KAFKA_*)")
    parser.add_argument("--broker", choices=("both", "secured", "plain"), default="both")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--requests", type=int, default=d.requests)
    parser.add_argument("--seconds", type=float, default=d.seconds)
    load = parser.add_mutually_exclusive_group()
    load.add_argument("--rate", type=float, help="offered load (default: capacity ÷ 4)")
    load.add_argument(
        "--rate-of-capacity",
        type=float,
        metavar="FRACTION",
        help="offered load: this fraction of the hub's sustained full exchanges/s, the median "
        "in results/capacity.json (run benchmarks.capacity first); a load within the hub's "
        "capacity, where the latency ratio is not queueing",
    )
    parser.add_argument("--best-batches", default=",".join(map(str, d.best_batches)),
                        help="larger transactions for the aiokafka passthrough")  # fmt: skip
    parser.add_argument("--librdkafka-batches",
                        default=",".join(map(str, d.librdkafka_batches)),
                        help="transaction sizes for the confluent-kafka passthrough")  # fmt: skip
    add_settings_options(parser, timeout_covers="one broker's measurements")
    parser.add_argument("--out", type=Path, default=RESULTS / "hub.json")
    a = parser.parse_args(argv)
    rate = a.rate
    if a.rate_of_capacity is not None:
        try:
            rate = rate_of_capacity(a.rate_of_capacity, RESULTS / "capacity.json")
        except ValueError as exc:
            parser.error(str(exc))
    s = settings_from(
        a,
        requests=a.requests,
        seconds=a.seconds,
        rate=rate,
        best_batches=tuple(int(b) for b in a.best_batches.split(",") if b),
        librdkafka_batches=tuple(int(b) for b in a.librdkafka_batches.split(",") if b),
    )
    result: dict[str, Any] = {
        "benchmark": "hub vs raw transactional passthrough, same broker, same run",
        "when": now_iso(),
        "machine": machine() | {"kafka": KAFKA_VERSION},
        "settings": asdict(s),
        "runs": a.runs,
    }
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        for run in range(a.runs):
            if a.bootstrap:
                say(f"run {run + 1}/{a.runs} on {a.bootstrap}")
                with tempfile.TemporaryDirectory(prefix="renkei-bench-") as tmp:
                    work = measure(a.bootstrap, replace(s), Path(tmp))
                    measured = run_within(work, s.timeout_seconds, "the measurements")
                    runs.setdefault("given", []).append(measured)
                continue
            for label, secured in (("secured", True), ("plain", False)):
                if a.broker in ("both", label):
                    say(f"run {run + 1}/{a.runs} on a fresh {label} broker")
                    runs.setdefault(label, []).append(on_local_broker(secured, s))
    except (BenchmarkError, TimeoutError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    result["brokers"] = {"secured": SECURED, "plain": "plaintext, no ACLs"} if not a.bootstrap \
        else {"given": a.bootstrap}  # fmt: skip
    result["measured"] = runs
    result["summary"] = summarise(runs)
    result["targets"] = TARGETS
    write_results(a.out, result)
    print_summary(result)
    print(f"written to {a.out}")
    return result


if __name__ == "__main__":
    main()
