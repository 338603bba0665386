"""`renkei oversight watch`: the anomaly rules as a running stream, publishing signals.

The Kafka shell around `oversight.signals.Watch`: it follows everything the oversight body
reads (`oversight.feed`), passes each observation through the rules as it arrives, and appends
each signal that fires to the oversight topic (acks=all, idempotent producer). It rebuilds its
windows by reading from the beginning; the ids of signals already on the topic are read first,
so a restarted watcher does not publish a signal twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from oversight import metrics
from oversight.feed import Feed
from oversight.rules import Signal
from oversight.signals import Watch, message, signal_id
from producers import Connection
from renkei.logs import get_logger
from schemas.codec import DecodeError, decode_as, encode
from schemas.models import OversightSignal
from schemas.topics import OVERSIGHT_SIGNALS

log = get_logger("oversight.watch")


async def read_signals(connection: Connection) -> list[OversightSignal]:
    """Every signal on the oversight topic, in order."""
    consumer = AIOKafkaConsumer(
        **connection.client_options(),
        enable_auto_commit=False,
        isolation_level="read_committed",
        group_id=None,
    )
    await consumer.start()
    signals: list[OversightSignal] = []
    try:
        tp = TopicPartition(OVERSIGHT_SIGNALS, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=5_000)
            for record in batch.get(tp, []):
                try:
                    signals.append(decode_as(record.value or b"", OversightSignal))
                except DecodeError:
                    log.error("not an oversight signal", offset=record.offset)
    finally:
        await consumer.stop()
    return signals


RESTART_AFTER_S = 5.0


async def watch_until(stop: asyncio.Event, make: Callable[[], SignalWatcher]) -> None:
    """Run watchers until `stop`: one that fails on Kafka (a broker away, a rebalance of the
    cluster) is replaced after a pause, and rebuilds its windows; signals it had published
    are recognised, not published again."""
    while not stop.is_set():
        try:
            await make().run(stop)
        except KafkaError as exc:
            log.error("oversight watcher failed; restarting", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_AFTER_S)


class SignalWatcher:
    """Follows the oversight body's topics and publishes the signals the rules fire."""

    def __init__(
        self,
        connection: Connection,
        watch: Watch | None = None,
        on_signal: Callable[[Signal], None] | None = None,
        since_ms: int = 0,
    ) -> None:
        """`since_ms`: judge only records from then on (Kafka time), and take only signals
        published since then as already published (a scenario that watches one run)."""
        self.connection = connection
        self.watch = watch or Watch()
        self.on_signal = on_signal
        self.published: set[str] = set()
        self.observed = 0
        self.since_ms = since_ms
        self.fired: list[Signal] = []  # published by this watcher, in order
        self._feed: Feed | None = None
        self.running = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        since = self.since_ms / 1000
        self.published = {
            str(s.signal_id)
            for s in await read_signals(self.connection)
            if s.metadata.occurred_at.timestamp() >= since
        }
        producer = AIOKafkaProducer(
            **self.connection.client_options(), acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            async with Feed(self.connection, self.since_ms) as feed:
                self._feed = feed
                self.running.set()
                async for batch in feed.follow(stop):
                    for seen in batch:
                        self.observed += 1
                        metrics.count(seen.observation)
                        for signal in self.watch.observe(seen.observation):
                            await self._publish(producer, signal)
        finally:
            await producer.stop()

    async def settled(self, within: float = 60.0) -> None:
        """Return once every record committed before this call has been judged."""
        await asyncio.wait_for(self.running.wait(), within)
        assert self._feed is not None
        await self._feed.settled(within)

    async def _publish(self, producer: AIOKafkaProducer, signal: Signal) -> None:
        key = str(signal_id(signal))
        if key in self.published:
            return
        await producer.send_and_wait(OVERSIGHT_SIGNALS, encode(message(signal)), partition=0)
        self.published.add(key)
        self.fired.append(signal)
        metrics.SIGNALS.labels(signal.rule, signal.agency).inc()
        log.info(
            "oversight signal",
            rule=signal.rule,
            agency=signal.agency,
            window_start=signal.window_start.isoformat(),
            count=signal.count,
            threshold=signal.threshold,
        )
        if self.on_signal is not None:
            self.on_signal(signal)
