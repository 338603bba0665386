"""An exactly-once stage: consume a batch, process it, produce and commit in one transaction.

aiokafka cannot send consumer-group metadata with its offsets (no KIP-447), so the broker cannot
fence a stale group member by generation. As Kafka Streams did before KIP-447, each *input
partition* gets its own transactional producer whose transactional id names that partition. It
is created when the partition is assigned — `init_transactions` bumps the epoch, fencing the
previous owner and resolving its open transaction — and closed when the partition is revoked.
A zombie that still believes it owns the partition can then no longer commit anything.
A partition is made ready (fenced, restored) in the background while it stays paused, so a long
restore neither blocks the rebalance callback nor stops heart-beats; a failed attempt is retried.

Any failure inside a transaction (including a commit or abort that times out, whose outcome is
unknown) discards that producer, drops the partition's in-memory state and re-initialises the
partition the same way: new producer, state rebuilt, position reset to the committed offset.

A transaction costs a roughly fixed time (several round trips to the broker), so the stage does
not wait for it before working on the next records: while a partition's transaction commits,
the loop fetches and processes that partition's next batch, whose transaction begins once the
previous one committed (one producer, one transaction at a time). Input processed while a
partition's next transaction still waits joins it (up to `batch_max` records): at a moderate
load a transaction carries what arrived during the previous commit instead of what one fetch
returned, so fewer, fuller transactions do the same work (group commit), and no record waits
longer than it would have in a transaction of its own. Every batch is processed
under the partition's *epoch*; a failure or a revocation starts a new epoch, and a processed
batch of an older epoch is discarded unsent (its records are read again from the committed
offset, on rebuilt state), so overlapping never lets output of discarded state through.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord, TopicPartition

from hub import metrics
from producers.connection import kafka_options
from renkei.logs import get_logger

log = get_logger("hub.stage")


@dataclass(frozen=True, slots=True)
class Output:
    """One record a stage produces inside the transaction of its input batch."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    partition: int | None = None
    headers: tuple[tuple[str, bytes], ...] = ()


class Processor(Protocol):
    """What a stage does with its input. `process` must not do I/O; it returns outputs."""

    async def prepare(self, partition: TopicPartition) -> None:
        """Build the partition's state (e.g. from a changelog) before it is processed."""

    def drop(self, partition: TopicPartition) -> None:
        """Forget the partition's in-memory state (revoked, or its transaction failed)."""

    def process(
        self, partition: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> list[Output]:
        """Decide what to produce for a batch; may update in-memory state."""

    def tick(self, partition: TopicPartition, now: float) -> list[Output]:
        """What falls due by the clock alone (wall time `now`, seconds since the epoch) while
        the partition has no input, such as timeouts; the same rules as `process`."""


class Stateless:
    """Base of a processor with no per-partition state: nothing to prepare, drop or time."""

    async def prepare(self, partition: TopicPartition) -> None:
        return None

    def drop(self, partition: TopicPartition) -> None:
        return None

    def tick(self, partition: TopicPartition, now: float) -> list[Output]:
        return []


@dataclass
class StageConfig:
    name: str
    bootstrap: str
    group_id: str
    topics: Sequence[str] = ()
    pattern: str | None = None
    batch_max: int = 500  # records per transaction at most, per partition
    linger_ms: int = 50
    # Processed batches of one partition waiting for (or in) their transaction: 2 lets the next
    # batch be processed while the previous one commits; 1 would wait for every commit.
    in_flight: int = 2
    transaction_timeout_ms: int = 30_000
    commit_timeout_s: float = 30.0
    # A partition with records waiting that has not committed for this long is stalled.
    stalled_after_s: float = 60.0
    # How often a partition that had no input meanwhile is ticked (Processor.tick).
    tick_every_s: float = 1.0
    producer_options: dict[str, Any] = field(default_factory=dict)
    consumer_options: dict[str, Any] = field(default_factory=dict)


_PARTITIONER = DefaultPartitioner()


async def _send_batched(producer: AIOKafkaProducer, outputs: list[Output]) -> list[Any]:
    """Send outputs as one record batch per topic partition: aiokafka's per-record `send`
    costs several times a batch append, and this is the hub's hot path. Keyed records go where
    the producer's default partitioner would put them (murmur2), so nothing moves. A batch is
    closed when handed over, so the producer sends it at once instead of lingering for records
    that cannot come (the transaction waits for it)."""
    partitions: dict[str, list[int]] = {}
    builders: dict[tuple[str, int], Any] = {}
    futures: list[Any] = []
    for o in outputs:
        partition = o.partition
        if partition is None:
            known = partitions.get(o.topic)
            if known is None:
                known = partitions[o.topic] = sorted(await producer.partitions_for(o.topic))
            partition = _PARTITIONER(o.key, known, known)
        where = (o.topic, partition)
        builder = builders.get(where)
        if builder is None:
            builder = builders[where] = producer.create_batch()
        headers = list(o.headers)
        if builder.append(key=o.key, value=o.value, timestamp=None, headers=headers) is None:
            if builder.record_count() > 0:  # full: send it and start another
                builder.close()
                futures.append(await producer.send_batch(builder, o.topic, partition=partition))
                builder = builders[where] = producer.create_batch()
            if builder.append(key=o.key, value=o.value, timestamp=None, headers=headers) is None:
                # larger than a whole batch: the producer sends it on its own
                futures.append(
                    await producer.send(
                        o.topic, o.value, key=o.key, partition=partition, headers=headers
                    )
                )
    for (topic, partition), builder in builders.items():
        if builder.record_count() > 0:
            builder.close()
            futures.append(await producer.send_batch(builder, topic, partition=partition))
    return futures


@dataclass(slots=True)
class _Batch:
    """Processed input of one partition and what it produced, for one transaction."""

    epoch: int  # the partition's epoch it was processed in
    outputs: list[Output]
    next_offset: int | None  # the input offset to commit (None: a tick, no input)
    records: int  # input records in it
    taken: bool = False  # its transaction has begun: nothing more may join it


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, stage: Stage) -> None:
        self._stage = stage

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._stage._revoke(list(revoked))

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        await self._stage._assign(list(assigned))


class Stage:
    """Runs a Processor over a consumer group with per-partition transactional producers."""

    def __init__(self, config: StageConfig, processor: Processor) -> None:
        self.config = config
        self.processor = processor
        self._producers: dict[TopicPartition, AIOKafkaProducer] = {}
        # Held for the whole of a partition's transaction, so a revocation waits for it.
        self._locks: dict[TopicPartition, asyncio.Lock] = {}
        self._prepared: set[TopicPartition] = set()  # producer fenced, state rebuilt
        self._making: dict[TopicPartition, asyncio.Task[None]] = {}  # being made ready
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()
        # Bumped whenever a partition's state is dropped (failure, revocation, made ready):
        # a batch processed in an older epoch is never committed.
        self._epochs: dict[TopicPartition, int] = {}
        self._pending: dict[TopicPartition, deque[asyncio.Task[None]]] = {}  # oldest first
        # The batch of each partition whose transaction has not begun: more input may join it.
        self._waiting: dict[TopicPartition, _Batch] = {}
        self._advanced_at: dict[TopicPartition, float] = {}  # last commit (or assignment)
        self._fed: set[TopicPartition] = set()  # had input since the last tick
        self._lag: dict[TopicPartition, int] = {}  # as last measured by `lag()`

    def _transactional_id(self, tp: TopicPartition) -> str:
        return f"{self.config.group_id}.{tp.topic}.{tp.partition}"

    async def _new_producer(self, tp: TopicPartition) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **kafka_options(self.config.bootstrap),
            transactional_id=self._transactional_id(tp),
            transaction_timeout_ms=self.config.transaction_timeout_ms,
            linger_ms=5,
            max_batch_size=256 * 1024,
            **self.config.producer_options,
        )
        await producer.start()  # init_transactions: fences the previous owner
        return producer

    async def _close_producer(self, tp: TopicPartition) -> None:
        producer = self._producers.pop(tp, None)
        if producer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(producer.stop(), timeout=10)

    async def _assign(self, partitions: list[TopicPartition]) -> None:
        # Nothing of a partition may be processed before its producer fenced the previous
        # owner and its state is rebuilt: it stays paused until then. That happens in the
        # background, so this callback returns at once and the consumer keeps heart-beating
        # and processing its other partitions however long a restore takes.
        consumer = self._consumer
        assert consumer is not None
        new = [tp for tp in partitions if tp not in self._producers and tp not in self._making]
        consumer.pause(*new)
        for tp in new:
            self._make_ready_later(tp)
        log.info("partitions assigned", stage=self.config.name, count=len(partitions))
        self.ready.set()

    def _make_ready_later(self, tp: TopicPartition) -> None:
        task = self._making.get(tp)
        if task is None or task.done():
            self._making[tp] = asyncio.create_task(self._make_ready(tp))

    async def _make_ready(self, tp: TopicPartition) -> None:
        """Fence the previous owner, rebuild the state, start from the committed offset, then
        resume; retried (with back-off) until it succeeds or the partition is revoked."""
        consumer = self._consumer
        delay = 0.5
        while consumer is not None and tp in consumer.assignment() and not self.stopping:
            try:
                async with self._lock(tp):
                    self._new_epoch(tp)
                    await self._close_producer(tp)
                    self.processor.drop(tp)
                    self._producers[tp] = await self._new_producer(tp)
                    await self.processor.prepare(tp)
                    # The position may have been fetched before the fencing above completed a
                    # stalled previous owner's last commit: start from what is committed now.
                    committed = await consumer.committed(tp)
                    if committed is None:
                        await consumer.seek_to_beginning(tp)
                    else:
                        consumer.seek(tp, committed)
                    self._prepared.add(tp)
                    self._advanced_at[tp] = time.monotonic()
                    consumer.resume(tp)
                metrics.ASSIGNED_PARTITIONS.labels(self.config.name).set(len(self._prepared))
                log.info("partition ready", stage=self.config.name, partition=tp.partition)
                return
            except Exception as exc:
                log.warning(
                    "partition could not be made ready; retrying",
                    stage=self.config.name,
                    partition=tp.partition,
                    error=type(exc).__name__,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _lock(self, tp: TopicPartition) -> asyncio.Lock:
        return self._locks.setdefault(tp, asyncio.Lock())

    def _new_epoch(self, tp: TopicPartition) -> None:
        self._epochs[tp] = self._epochs.get(tp, 0) + 1

    async def _revoke(self, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            making = self._making.pop(tp, None)
            if making is not None and not making.done():
                making.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await making
            async with self._lock(tp):
                self._new_epoch(tp)
                self._prepared.discard(tp)
                await self._close_producer(tp)
                self.processor.drop(tp)
        metrics.ASSIGNED_PARTITIONS.labels(self.config.name).set(len(self._prepared))
        log.info("partitions revoked", stage=self.config.name, count=len(partitions))

    async def _reinitialise(self, tp: TopicPartition) -> None:
        """After a failed transaction: pause the partition and make it ready again (fresh
        producer, rebuilt state, committed position) in the background."""
        consumer = self._consumer
        assert consumer is not None
        self._new_epoch(tp)
        self._prepared.discard(tp)
        if tp in consumer.assignment():
            consumer.pause(tp)
            self._make_ready_later(tp)

    async def _submit(
        self, tp: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> None:
        """Process a batch now; it joins the partition's batch that waits for its transaction
        if there is one with room (group commit), else it gets a transaction of its own after
        the partition's previous ones, waiting only while `in_flight` of them are pending."""
        self._fed.add(tp)
        batch_max = self.config.batch_max
        waiting = self._waiting.get(tp)
        if (
            waiting is None
            or waiting.taken
            or waiting.epoch != self._epochs.get(tp, 0)
            or waiting.records + len(records) > batch_max
        ):
            waiting = None
            pending = self._pending.setdefault(tp, deque())
            while pending and pending[0].done():
                pending.popleft()
            while len(pending) >= self.config.in_flight:
                await asyncio.wait({pending[0]})
                while pending and pending[0].done():
                    pending.popleft()
        if tp not in self._prepared or tp not in self._producers:
            # Fetched before the partition was ready (or after it was revoked): never skip
            # records silently; read them again once the partition is ready.
            consumer = self._consumer
            if consumer is not None and tp in consumer.assignment():
                consumer.seek(tp, records[0].offset)
            return
        epoch = self._epochs.get(tp, 0)
        try:
            # Processors dead-letter a record their code fails on; should the batch fail
            # anyway, the partition is re-initialised rather than the stage stopped.
            outputs = self.processor.process(tp, records)
        except Exception as exc:
            self._failed(tp, exc)
            await self._reinitialise(tp)
            return
        # Nothing was awaited since `waiting` was checked: its transaction has not taken it.
        if waiting is not None:
            waiting.outputs.extend(outputs)
            waiting.next_offset = records[-1].offset + 1
            waiting.records += len(records)
            return
        self._queue(tp, _Batch(epoch, outputs, records[-1].offset + 1, len(records)))

    def _queue(self, tp: TopicPartition, batch: _Batch) -> None:
        """The batch's transaction, after the partition's pending ones."""
        pending = self._pending.setdefault(tp, deque())
        previous = pending[-1] if pending else None
        self._waiting[tp] = batch
        pending.append(asyncio.create_task(self._commit(tp, batch, previous)))

    async def _commit(
        self, tp: TopicPartition, batch: _Batch, previous: asyncio.Task[None] | None
    ) -> None:
        """The batch's transaction: its outputs and its input offset (none for a tick), after
        `previous`."""
        if previous is not None:
            await asyncio.wait({previous})
        async with self._lock(tp):
            # From here the batch takes no more input (no await before this line and the next).
            batch.taken = True
            if self._waiting.get(tp) is batch:
                del self._waiting[tp]
            producer = self._producers.get(tp)
            if producer is None or self._epochs.get(tp, 0) != batch.epoch:
                # Processed on state that has since been dropped: discarded unsent; its
                # records are read again from the committed offset.
                return
            began = time.perf_counter()
            try:
                await producer.begin_transaction()
                futures = await _send_batched(producer, batch.outputs)
                await asyncio.wait_for(asyncio.gather(*futures), self.config.commit_timeout_s)
                if batch.next_offset is not None:
                    await producer.send_offsets_to_transaction(
                        {tp: batch.next_offset}, self.config.group_id
                    )
                await asyncio.wait_for(producer.commit_transaction(), self.config.commit_timeout_s)
            except Exception as exc:
                self._failed(tp, exc)
                await self._reinitialise(tp)
                return
        self._advanced_at[tp] = time.monotonic()
        metrics.TRANSACTIONS.labels(self.config.name, "committed").inc()
        metrics.COMMIT_SECONDS.labels(self.config.name).observe(time.perf_counter() - began)
        metrics.RECORDS_IN.labels(self.config.name).inc(batch.records)
        metrics.RECORDS_OUT.labels(self.config.name).inc(len(batch.outputs))

    async def _tick(self) -> None:
        """Tick every ready partition that had no input since the last tick; what falls due
        goes out in a transaction of its own, after the partition's pending ones."""
        idle = [tp for tp in self._prepared if tp not in self._fed and tp in self._producers]
        self._fed.clear()
        now = time.time()
        for tp in idle:
            epoch = self._epochs.get(tp, 0)
            try:
                outputs = self.processor.tick(tp, now)
            except Exception as exc:
                self._failed(tp, exc)
                await self._reinitialise(tp)
                continue
            if outputs:
                self._queue(tp, _Batch(epoch, outputs, None, 0))

    def _failed(self, tp: TopicPartition, exc: Exception) -> None:
        metrics.TRANSACTIONS.labels(self.config.name, "failed").inc()
        log.warning(
            "transaction failed; partition re-initialised",
            stage=self.config.name,
            partition=tp.partition,
            error=type(exc).__name__,
        )

    async def run(self) -> None:
        """Consume until `stop()`; then finish the open transactions and leave the group."""
        cfg = self.config
        consumer = AIOKafkaConsumer(
            **kafka_options(cfg.bootstrap),
            group_id=cfg.group_id,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            metadata_max_age_ms=5_000,  # a newly onboarded agency's topic is seen quickly
            **cfg.consumer_options,
        )
        self._consumer = consumer
        listener = _Rebalance(self)
        if cfg.pattern:
            consumer.subscribe(pattern=cfg.pattern, listener=listener)
        else:
            consumer.subscribe(list(cfg.topics), listener=listener)
        await consumer.start()
        next_tick = time.monotonic() + cfg.tick_every_s
        try:
            while not self._stopping.is_set():
                # up to batch_max records for each assigned partition, one transaction each
                most = cfg.batch_max * max(1, len(consumer.assignment()))
                batch = await consumer.getmany(timeout_ms=cfg.linger_ms, max_records=most)
                for tp, records in batch.items():
                    for first in range(0, len(records), cfg.batch_max):
                        await self._submit(tp, records[first : first + cfg.batch_max])
                if time.monotonic() >= next_tick:
                    await self._tick()
                    next_tick = time.monotonic() + cfg.tick_every_s
        finally:
            # the transactions of what was processed finish before the producers close
            await asyncio.gather(
                *(task for pending in self._pending.values() for task in pending),
                return_exceptions=True,
            )
            self._pending.clear()
            self._waiting.clear()
            for making in self._making.values():
                making.cancel()
            await asyncio.gather(*self._making.values(), return_exceptions=True)
            self._making.clear()
            for tp in list(self._producers):
                await self._close_producer(tp)
                self.processor.drop(tp)
            await consumer.stop()  # leaves the group
            self._consumer = None

    def stop(self) -> None:
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def wait_stopping(self) -> None:
        await self._stopping.wait()

    async def lag(self) -> dict[TopicPartition, int]:
        """Records behind the end of each assigned partition (committed records only)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        assigned = list(consumer.assignment())
        ends = await consumer.end_offsets(assigned)
        self._lag = {tp: max(0, ends[tp] - await consumer.position(tp)) for tp in assigned}
        now = time.monotonic()
        for tp, behind in self._lag.items():
            if behind == 0:  # caught up: nothing waits, so nothing is late
                self._advanced_at[tp] = now
        return self._lag

    def not_processing(self) -> list[TopicPartition]:
        """Assigned partitions that are not processing: still being made ready (fencing,
        restoring), or stalled (records waiting, no commit for `stalled_after_s`, as when
        every transaction of the partition fails)."""
        consumer = self._consumer
        if consumer is None:
            return []
        now = time.monotonic()
        return sorted(
            (
                tp
                for tp in consumer.assignment()
                if tp not in self._prepared
                or stalled(
                    self._lag.get(tp, 0),
                    self._advanced_at.get(tp, now),
                    now,
                    self.config.stalled_after_s,
                )
            ),
            key=lambda tp: (tp.topic, tp.partition),
        )


def stalled(lag: int, advanced_at: float, now: float, after_s: float) -> bool:
    """Records are waiting and the partition has not committed anything for `after_s`."""
    return lag > 0 and now - advanced_at > after_s
