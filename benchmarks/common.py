"""What every benchmark shares: the results file, figures over repeated runs, the machine it ran
on, a fresh local broker with the environment that connects to it, the hub's keys, child
processes that are watched (a child that dies fails the benchmark at once, naming its log) and
reading a topic with a stall timeout (no progress for a while is an error that says how far it
got, never an idle wait).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from aiokafka.structs import TopicPartition
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from deploy.local.broker import KafkaCluster
from hub.acl_admin import librdkafka_config
from hub.control_signatures import generate_control_keys
from hub.core import Keyring
from hub.core.keys import generate_key_set, parse_key_set
from hub.readers import committed_reader, partitions_of
from producers.connection import Connection
from renkei.measures import percentile
from schemas.codec import message_type

RESULTS = Path(__file__).resolve().parent.parent / "results"
T = TypeVar("T")


class BenchmarkError(RuntimeError):
    """The benchmark could not measure what it set out to (the message says what and where)."""


def run_within(work: Coroutine[Any, Any, T], seconds: float, what: str) -> T:
    """asyncio.run(work), cancelled (its clean-up runs) and a BenchmarkError after `seconds`."""

    async def bounded() -> T:
        try:
            return await asyncio.wait_for(work, seconds)
        except TimeoutError as exc:
            raise BenchmarkError(f"{what} did not finish within {seconds:.0f} s") from exc

    return asyncio.run(bounded())


@contextmanager
def environment(settings: Mapping[str, str]) -> Iterator[None]:
    """os.environ with `settings` added while inside; as it was before on leaving."""
    saved = dict(os.environ)
    os.environ.update(settings)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def fresh_broker(
    *, secured: bool = True, prefix: str = "renkei-bench-"
) -> Iterator[tuple[str, Path]]:
    """(bootstrap, work directory) of a fresh local broker, stopped and removed on leaving.
    While inside, every client here and in the spawned processes connects as that broker's
    admin, and control commands are signed with keys of the run's own, as in production (both
    settings in the environment)."""
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as tmp,
        KafkaCluster(1, secured=secured) as cluster,
        environment(cluster.admin_environment() | generate_control_keys(Path(tmp))),
    ):
        yield cluster.bootstrap, Path(tmp)


def write_hub_keys(path: Path) -> Keyring:
    """A fresh key set of the hub written to `path` (for RENKEI_KEYS_FILE); its keyring."""
    document = generate_key_set(os.urandom)
    path.write_text(json.dumps(document))
    return Keyring.from_key_set(parse_key_set(document))


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_results(path: Path, result: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", "utf-8")
    return path


def spread(values: Iterable[float | None]) -> dict[str, Any]:
    """min, median and max of one figure over the runs (runs that gave no figure left out)."""
    present = [float(v) for v in values if v is not None and v == v]
    if not present:
        return {"min": None, "median": None, "max": None, "runs": 0}
    return {
        "min": round(min(present), 3),
        "median": round(statistics.median(present), 3),
        "max": round(max(present), 3),
        "runs": len(present),
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator or numerator != numerator or denominator != denominator:
        return None
    return round(numerator / denominator, 3)


def latency_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """p50 and p99 in milliseconds (nearest rank; NaN with no samples)."""

    def ms(q: float) -> float:
        value = percentile(seconds, q)
        return float("nan") if value is None else round(value * 1000, 1)

    return {"p50": ms(50), "p99": ms(99), "samples": len(seconds)}


def rate_from_timestamps(stamps: Sequence[int]) -> float:
    """Records per second between the first commit's records and the last record.

    The records of one transaction share a produce time (ms); the first transaction's records
    were done at the first timestamp, so the rate is the rest over the time they took. Fewer
    than two distinct timestamps cannot give a rate: an error, not an infinity."""
    if not stamps:
        raise BenchmarkError("no output records to time")
    first, last = min(stamps), max(stamps)
    if last == first:
        raise BenchmarkError(
            f"all {len(stamps)} output records carry one timestamp (one transaction): "
            "too few records to time; raise --requests"
        )
    after_first = sum(1 for s in stamps if s > first)
    return after_first / ((last - first) / 1000)


class Children:
    """Child processes (`python -m ...`), each logging to its own file in `log_dir`."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.running: list[tuple[subprocess.Popen[bytes], Path, str]] = []
        self._started = 0

    def spawn(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        self._started += 1
        name = f"{self._started:02d}-{args[0].replace('.', '-')}"
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=os.environ | (env or {}),
            )
        self.running.append((process, log, " ".join(args[:4])))
        return process

    def check(self) -> None:
        """Raise if any child has exited (they are meant to run until stopped)."""
        for process, log, what in self.running:
            code = process.poll()
            if code is not None:
                raise BenchmarkError(
                    f"`{what} …` exited with code {code} before the benchmark stopped it; "
                    f"its log ({log}) ends:\n{tail(log)}"
                )

    def stop_one(self, process: subprocess.Popen[bytes]) -> None:
        stop(process)
        self.running = [entry for entry in self.running if entry[0] is not process]

    def stop_all(self) -> None:
        for process, _log, _what in self.running:
            stop(process)
        self.running = []


def tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def read_topic(
    bootstrap: str,
    topic: str,
    want: int,
    *,
    stall_seconds: float,
    only: str | None = None,
    watch: Callable[[], None] | None = None,
    what: str = "records",
) -> list[tuple[Any, float]]:
    """(record, arrival time) of the first `want` committed records of `topic` (of message type
    `only`, read from the header alone). Raises BenchmarkError when nothing new arrives for
    `stall_seconds`, or when `watch` raises (a child process died)."""
    parts = await partitions_of(bootstrap, topic)
    if not parts:
        raise BenchmarkError(f"topic {topic} does not exist: nothing will arrive on it")
    consumer = committed_reader(bootstrap, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        got: list[tuple[Any, float]] = []
        progress = time.monotonic()
        while len(got) < want:
            batch = await consumer.getmany(timeout_ms=200, max_records=10_000)
            now = time.monotonic()
            before = len(got)
            got.extend(
                (r, now)
                for rs in batch.values()
                for r in rs
                if only is None or message_type(r.value or b"") == only
            )
            if len(got) > before:
                progress = now
            elif now - progress > stall_seconds:
                raise BenchmarkError(
                    f"{len(got)} of {want} {what} arrived on {topic}, then nothing for "
                    f"{stall_seconds:.0f} s"
                )
            if watch is not None:
                watch()
        return got
    finally:
        await consumer.stop()


def _group_members(bootstrap: str, groups: list[str]) -> dict[str, list[int]]:
    """Per group: how many partitions each member holds (no members unless it is stable)."""
    admin = AdminClient(librdkafka_config(Connection.from_environment(bootstrap)))
    described: dict[str, list[int]] = {}
    for group, future in admin.describe_consumer_groups(groups, request_timeout=10).items():
        description = future.result()
        if description.state != ConsumerGroupState.STABLE:
            described[group] = []
            continue
        described[group] = [len(m.assignment.topic_partitions) for m in description.members]
    return described


async def groups_settled(
    bootstrap: str,
    members: dict[str, int],
    *,
    timeout: float,
    watch: Callable[[], None] | None = None,
) -> None:
    """Wait until each consumer group is stable with the given number of members, each holding
    a partition; BenchmarkError after `timeout` seconds, naming what it last saw."""
    deadline = time.monotonic() + timeout
    seen: dict[str, list[int]] = {}
    while time.monotonic() < deadline:
        seen = await asyncio.to_thread(_group_members, bootstrap, list(members))
        if all(len(seen.get(g, [])) == n and all(seen[g]) for g, n in members.items()):
            return
        if watch is not None:
            watch()
        await asyncio.sleep(1)
    raise BenchmarkError(
        f"consumer groups not settled after {timeout:.0f} s: wanted members {members}, "
        f"partitions per member {seen}"
    )
