"""The consumer loop of one agency: read `agency.<id>.in`, check the sequence, dispatch, commit.

Delivery guarantee toward the agency's handlers: **at least once**. The inbox reads with the
agency's consumer group (`renkei-agency-<id>` by default), `isolation_level=read_committed`
(only what the hub's transactions committed) and no auto-commit; an offset is committed only
after the record's handler returned (and, for a query, after the broker acknowledged the
answer). A crash before the commit means the record is handled again by the next run, so
handlers should be idempotent (events carry metadata.message_id, notices their notice_id; a
duplicate answer to a query carries the same reply token and the hub uses a token once).

Handlers run concurrently in lanes: records with the same Kafka key (the hub keys by person)
are handled in order in one lane, so a handler may itself send a request and await its outcome
without blocking the loop that reads that outcome. Commits advance per partition only up to the
oldest record still being handled. A handler that raises stops the inbox with `HandlerFailed`
and its record's offset is not committed. Undecodable records are logged (reason only), counted
and skipped: bad input never stops an agency.

Only the hub speaks on the inbox (the broker's ACLs let nobody else write it), and the inbox
refuses besides what no honest hub would send: an outcome (confirmation, response, denial) or a
query not declared by the hub, and an outcome of no request this agency sent and awaits (a
forged or replayed one). Refused messages are logged (type and reason only), counted
(`renkei_agency_inbound_refused_total`) and skipped; they never reach a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from consumers import metrics
from consumers.errors import HandlerFailed
from consumers.handlers import Handlers
from consumers.sequence import GapDetector, Observation
from producers import Connection, PendingReplies, Publisher
from producers.replies import REPLY_TYPES
from renkei.logs import get_logger
from schemas.codec import DecodeError, decode
from schemas.models import AttributeAnswer, AttributeQuery, Message
from schemas.topics import HUB_SENDER, SEQUENCE_HEADER, inbound, parse_sequence

log = get_logger("consumers.inbox")


def default_group_id(agency_id: str) -> str:
    return f"renkei-agency-{agency_id}"


@dataclass(slots=True)
class _Item:
    tp: TopicPartition
    offset: int
    message: Message


@dataclass(slots=True)
class _Offsets:
    """Per partition: offsets being handled and the offset after the last one read."""

    pending: dict[TopicPartition, set[int]] = field(default_factory=dict)
    read_to: dict[TopicPartition, int] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)

    def begin(self, tp: TopicPartition, offset: int) -> None:
        self.pending.setdefault(tp, set()).add(offset)
        self.read_to[tp] = offset + 1

    def end(self, tp: TopicPartition, offset: int) -> None:
        self.pending.get(tp, set()).discard(offset)

    def busy(self, tps: Iterable[TopicPartition] | None = None) -> int:
        chosen = self.pending if tps is None else {tp: self.pending.get(tp, set()) for tp in tps}
        return sum(len(offsets) for offsets in chosen.values())

    def committable(self) -> dict[TopicPartition, int]:
        ready = {}
        for tp, read_to in self.read_to.items():
            pending = self.pending.get(tp)
            offset = min(pending) if pending else read_to
            if offset > self.committed.get(tp, -1):
                ready[tp] = offset
        return ready

    def forget(self, tps: Iterable[TopicPartition]) -> None:
        for tp in tps:
            self.pending.pop(tp, None)
            self.read_to.pop(tp, None)
            self.committed.pop(tp, None)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self.inbox._release(list(revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        log.info("inbox.assigned", agency=self.inbox.agency_id, partitions=len(assigned))


class Inbox:
    """Reads one agency's inbound topic (and any extra topics, e.g. provision records)."""

    def __init__(
        self,
        agency_id: str,
        connection: Connection,
        handlers: Handlers,
        *,
        publisher: Publisher,
        replies: PendingReplies,
        group_id: str | None = None,
        extra_topics: Sequence[str] = (),
        lanes: int = 8,
        max_in_flight: int = 256,
        drain_timeout: float = 10.0,
    ) -> None:
        self.agency_id = agency_id
        self.topic = inbound(agency_id)
        self.topics = [self.topic, *extra_topics]
        self.group_id = group_id or default_group_id(agency_id)
        self.handlers = handlers
        self.gaps = GapDetector()
        self._connection = connection
        self._publisher = publisher
        self._replies = replies
        self._lane_count = lanes
        self._capacity = asyncio.Semaphore(max_in_flight)
        self._drain_timeout = drain_timeout
        self._offsets = _Offsets()
        self._from_start: dict[TopicPartition, bool] = {}
        self._lanes: list[asyncio.Queue[_Item]] = []
        self._workers: list[asyncio.Task[None]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self._failure: HandlerFailed | None = None
        self._stopping = asyncio.Event()
        self._progress = asyncio.Event()  # set whenever a lane finishes a record

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            **self._connection.client_options(),
            group_id=self.group_id,
            isolation_level="read_committed",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        consumer.subscribe(self.topics, listener=_Rebalance(self))
        await consumer.start()
        self._consumer = consumer
        self._lanes = [asyncio.Queue() for _ in range(self._lane_count)]
        self._workers = [asyncio.create_task(self._work(lane)) for lane in self._lanes]

    def stop(self) -> None:
        """Ask `run` to finish what it is handling, commit and return."""
        self._stopping.set()

    async def run(self) -> None:
        """Poll, dispatch and commit until `stop()`; raises HandlerFailed if a handler fails."""
        consumer = self._consumer
        if consumer is None:
            raise RuntimeError("Inbox.start() first")
        try:
            while not self._stopping.is_set() and self._failure is None:
                batch = await consumer.getmany(timeout_ms=100)
                for tp, records in batch.items():
                    for record in records:
                        await self._accept(tp, record)
                await self._commit()
            await self._drain(None)
            await self._commit()
        finally:
            for worker in self._workers:
                worker.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
            self._consumer = None
            await consumer.stop()
        if self._failure is not None:
            raise self._failure

    # ---- reading ------------------------------------------------------------------------

    async def _accept(self, tp: TopicPartition, record: Any) -> None:
        self._offsets.begin(tp, record.offset)
        self._from_start.setdefault(tp, record.offset == 0)
        if tp.topic == self.topic:
            await self._check_sequence(tp, record.headers)
        try:
            message = decode(record.value or b"")
        except DecodeError as exc:
            metrics.UNDECODABLE.labels(self.agency_id, exc.reason.value).inc()
            log.warning(
                "inbox.undecodable",
                agency=self.agency_id,
                topic=tp.topic,
                partition=tp.partition,
                offset=record.offset,
                reason=exc.reason.value,
                message_type=exc.message_type,
            )
            self._offsets.end(tp, record.offset)
            return
        refusal = self._refusal(message)
        if refusal is not None:
            metrics.REFUSED.labels(self.agency_id, refusal).inc()
            log.warning("inbox.refused", agency=self.agency_id, reason=refusal,
                        message_type=message.MESSAGE_TYPE, partition=tp.partition,
                        offset=record.offset)  # fmt: skip
            self._offsets.end(tp, record.offset)
            return
        if isinstance(message, REPLY_TYPES):
            self._done(tp, record.offset, message)
            return
        if not isinstance(message, AttributeQuery) and self.handlers.handler_for(message) is None:
            log.info(
                "inbox.unhandled",
                agency=self.agency_id,
                message_type=message.MESSAGE_TYPE,
                message_id=str(message.metadata.message_id),
            )
            self._done(tp, record.offset, message)
            return
        await self._capacity.acquire()
        key = record.key if record.key is not None else f"{tp.topic}/{tp.partition}".encode()
        self._lanes[zlib.crc32(key) % len(self._lanes)].put_nowait(
            _Item(tp, record.offset, message)
        )

    def _refusal(self, message: Message) -> str | None:
        """Why `message` is refused, or None; an awaited outcome is handed to its caller."""
        hub_made = isinstance(message, (*REPLY_TYPES, AttributeQuery))
        if hub_made and message.metadata.sender != HUB_SENDER:
            return "not_from_hub"
        if isinstance(message, REPLY_TYPES) and not self._replies.resolve(message):
            return "answers_no_request"  # forged, or a duplicate / late one: nobody awaits it
        return None

    async def _check_sequence(self, tp: TopicPartition, headers: Sequence[Any]) -> None:
        raw = next((value for name, value in headers or () if name == SEQUENCE_HEADER), None)
        try:
            stream, n = parse_sequence(raw) if raw is not None else (None, None)
        except (ValueError, UnicodeDecodeError):
            stream, n = None, None
        if stream is None or n is None:
            log.warning(
                "sequence.header_missing",
                agency=self.agency_id,
                partition=tp.partition,
                present=raw is not None,
            )
            return
        observation, gap = self.gaps.observe(stream, n, from_start=self._from_start[tp])
        if observation is Observation.REDELIVERED:
            log.info("sequence.redelivered", agency=self.agency_id, stream=stream, seq=n)
        if gap is None:
            return
        metrics.SEQUENCE_GAPS.labels(self.agency_id, str(stream)).inc()
        metrics.MISSING_MESSAGES.labels(self.agency_id, str(stream)).inc(gap.missing)
        log.warning(
            "sequence.gap",
            agency=self.agency_id,
            stream=stream,
            expected=gap.expected,
            received=gap.received,
            missing=gap.missing,
        )
        for handler in self.handlers.gap_handlers:
            try:
                await handler(gap)
            except Exception as exc:
                self._fail(exc, "gap handler")

    # ---- handling -----------------------------------------------------------------------

    async def _work(self, lane: asyncio.Queue[_Item]) -> None:
        while True:
            item = await lane.get()
            try:
                if self._failure is None:
                    await self._handle(item.message)
                    self._done(item.tp, item.offset, item.message)
            except Exception as exc:
                self._fail(exc, item.message.MESSAGE_TYPE)
            finally:
                lane.task_done()
                self._capacity.release()
                self._progress.set()

    async def _handle(self, message: Message) -> None:
        if isinstance(message, AttributeQuery):
            values, not_held = await self.handlers.answer(message)
            await self._publisher.publish(
                AttributeAnswer(
                    metadata=self._publisher.metadata(correlation_id=message.metadata.message_id),
                    reply_token=message.reply_token,
                    values=values,
                    not_held=not_held,
                )
            )
            return
        handler = self.handlers.handler_for(message)
        if handler is not None:
            await handler(message)

    def _done(self, tp: TopicPartition, offset: int, message: Message) -> None:
        self._offsets.end(tp, offset)
        metrics.HANDLED.labels(self.agency_id, message.MESSAGE_TYPE).inc()

    def _fail(self, exc: Exception, what: str) -> None:
        log.error(
            "inbox.handler_failed", agency=self.agency_id, handler=what, error=type(exc).__name__
        )
        if self._failure is None:
            failure = HandlerFailed(f"{self.agency_id}: the {what} handler raised")
            failure.__cause__ = exc
            self._failure = failure

    # ---- committing ---------------------------------------------------------------------

    async def _commit(self) -> None:
        consumer = self._consumer
        ready = self._offsets.committable()
        if consumer is None or not ready:
            return
        try:
            await consumer.commit(ready)
        except KafkaError as exc:  # e.g. partitions moved away: their records are redelivered
            log.warning("inbox.commit_failed", agency=self.agency_id, error=type(exc).__name__)
            return
        self._offsets.committed.update(ready)

    async def _drain(self, tps: Sequence[TopicPartition] | None) -> None:
        """Wait (bounded) until the records of `tps` (None: all) are handled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._drain_timeout
        while True:
            self._progress.clear()
            remaining = deadline - loop.time()
            if not self._offsets.busy(tps) or self._failure is not None or remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)

    async def _release(self, revoked: Sequence[TopicPartition]) -> None:
        """Before partitions move to another member: finish, commit and forget them."""
        await self._drain(revoked)
        await self._commit()
        self._offsets.forget(revoked)
        for tp in revoked:
            self._from_start.pop(tp, None)
