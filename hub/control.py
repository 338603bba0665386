"""The control channel: legal-basis table, rollout, suspensions and agency registrations.

Global state is broadcast, not partitioned: every hub replica reads the whole single-partition
control topic from the beginning and applies each message with the same pure functions, so
every replica holds the same table version, rollout phase, suspensions and registry. Each
replica acknowledges what it applied or refused (hub.control_acks waits for them). Operators
and the oversight body write to it through `renkei hub …` commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from hub import metrics
from hub.control_signatures import (
    SIGNATURE_HEADER,
    ControlSigning,
    ControlTrust,
    Refusal,
    load_signing,
)
from hub.core import (
    LegalBasisTable,
    LegalBasisTableError,
    Rollout,
    RolloutRefused,
    apply_rollout_change,
    default_table,
    initial_rollout,
    parse_published_table,
)
from hub.core.control_replay import ControlHistory, ReplayRefusal
from hub.core.state import AgencyEntry, RatePolicy, set_budget
from hub.core.trust import (
    TrustTable,
    TrustTableError,
    default_trust_table,
    parse_published_trust_table,
)
from hub.topics import CONTROL, CONTROL_ACKS
from producers.connection import kafka_options
from renkei.logs import get_logger
from schemas.codec import DecodeError, decode, encode
from schemas.models import (
    AgencyRegistered,
    AgencyRetired,
    AgencySuspension,
    ControlAcknowledged,
    LegalBasisTablePublished,
    Message,
    Metadata,
    RateBudgetSet,
    RolloutChange,
    TrustTablePublished,
)
from schemas.topics import HUB_SENDER
from schemas.vocabulary import EventType

log = get_logger("hub.control")


@dataclass
class ControlState:
    """What every replica shares. The dicts are shared by reference with each partition's
    HubState, so an update here is seen by all partitions at once."""

    table: LegalBasisTable = field(default_factory=default_table)
    trust: TrustTable = field(default_factory=default_trust_table)  # who may assert what
    rollout: Rollout = field(default_factory=initial_rollout)
    agencies: dict[str, AgencyEntry] = field(default_factory=dict)
    suspended: dict[str, str] = field(default_factory=dict)
    rate_policy: RatePolicy = field(default_factory=RatePolicy)
    history: ControlHistory = field(default_factory=ControlHistory)  # ids of signed commands
    budgets_set: dict[str, tuple[float, float]] = field(default_factory=dict)
    applied: int = 0  # signed control messages processed, applied or refused by a rule
    refused: int = 0  # control records refused (unsigned, wrongly signed, malformed, by rule)

    def apply(self, message: Message) -> str | None:
        """Apply one control message; a refusal reason (logged by the caller), else None."""
        self.applied += 1
        match message:
            case LegalBasisTablePublished():
                try:
                    self.table = parse_published_table(
                        message.version, message.sha256, message.table_json
                    )
                except LegalBasisTableError as exc:
                    return str(exc)
            case TrustTablePublished():
                try:
                    self.trust = parse_published_trust_table(
                        message.version, message.sha256, message.table_json
                    )
                except TrustTableError as exc:
                    return str(exc)
            case RolloutChange():
                result = apply_rollout_change(
                    self.rollout, message.operation.value, message.sector, message.plan_json
                )
                if isinstance(result, RolloutRefused):
                    return result.message
                self.rollout = result
            case AgencySuspension():
                if message.suspended:
                    self.suspended[message.agency] = message.reason
                else:
                    self.suspended.pop(message.agency, None)
            case AgencyRegistered():
                self.agencies[message.agency] = AgencyEntry(
                    message.kind,
                    message.key_id,
                    frozenset(EventType(s) for s in message.subscriptions),
                )
            case AgencyRetired():
                # Offboarded: no longer a registered sender (ingress refuses what it still
                # sends), provider, requester or subscriber. Retiring twice changes nothing.
                self.agencies.pop(message.agency, None)
            case RateBudgetSet():
                if message.burst < 1 or message.per_second < 0:
                    return "a rate budget needs a burst of at least 1 and a rate of at least 0"
                set_budget(self.budgets_set, message.agency, message.burst, message.per_second)
            case _:
                return f"{message.MESSAGE_TYPE} is not a control message"
        return None


class ControlReader:
    """Follows the control topic from its beginning for as long as the hub runs.

    A record is applied only if it decodes, is a control command, carries the signature of
    the key its type needs (hub.control_signatures), is no replay of a command seen before
    (hub.core.control_replay) and its rules accept it; anything else is refused, logged and
    counted (`renkei_control_refused_total`), never fatal. Should the consumer itself fail
    (the broker gone, say), the reader reconnects and resumes after the last record it saw;
    `running` is False only once it was stopped, and then the hub is not ready.

    Given a `replica` id, the reader acknowledges on `renkei.control.acks` every record from
    the end of the topic it found on starting (what came before is history it replays, not a
    command waiting for it): applied, or refused with the reason (hub.control_acks waits for
    these). Acknowledgements are sent by a task of their own, retried until the broker takes
    them, so a broker hiccup never makes the reader apply a record twice.
    """

    RETRY_SECONDS = 2.0

    def __init__(
        self, bootstrap: str, state: ControlState, trust: ControlTrust, replica: str | None = None
    ) -> None:
        self.bootstrap = bootstrap
        self.state = state
        self.trust = trust
        self.replica = replica
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._acknowledger: asyncio.Task[None] | None = None
        self._acknowledgements: asyncio.Queue[ControlAcknowledged] = asyncio.Queue()
        self._acknowledge_from: int | None = None  # the end of the topic when first read
        self._next_offset = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, within: float = 60.0) -> None:
        if self.replica is not None:
            self._acknowledger = asyncio.create_task(self._send_acknowledgements(),
                                                     name="control-acknowledgements")  # fmt: skip
        self._task = asyncio.create_task(self._follow_forever(), name="control-reader")
        waiter = asyncio.create_task(self.caught_up.wait())
        done, _ = await asyncio.wait(
            {waiter, self._task}, timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
        if self._task in done:
            self._task.result()  # raises what stopped it
        if waiter not in done:
            waiter.cancel()
            raise TimeoutError("the control topic could not be read to its end")

    async def stop(self, flush_within: float = 5.0) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._acknowledger is not None:
            # what was applied is acknowledged before the replica goes, if the broker allows
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._acknowledgements.join(), flush_within)
            self._acknowledger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._acknowledger

    async def _follow_forever(self) -> None:
        while True:
            try:
                await self._follow()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the reader must outlive any failure but cancellation
                log.error("control reader failed; reconnecting", error=type(exc).__name__,
                          resume_at=self._next_offset)  # fmt: skip
                metrics.CONTROL_READER_RESTARTS.inc()
                await asyncio.sleep(self.RETRY_SECONDS)

    async def _follow(self) -> None:
        tp = TopicPartition(CONTROL, 0)
        consumer = AIOKafkaConsumer(
            **kafka_options(self.bootstrap),
            enable_auto_commit=False,
            isolation_level="read_committed",
            group_id=None,
        )
        await consumer.start()
        try:
            consumer.assign([tp])
            consumer.seek(tp, self._next_offset)
            end = (await consumer.end_offsets([tp]))[tp]
            if self._acknowledge_from is None:
                self._acknowledge_from = end
            if end <= self._next_offset:
                self.caught_up.set()
            while True:
                batch = await consumer.getmany(tp, timeout_ms=200)
                for record in batch.get(tp, []):
                    self._apply(record.value, record.headers, record.offset, record.timestamp)
                    self._next_offset = record.offset + 1
                if not self.caught_up.is_set() and await consumer.position(tp) >= end:
                    self.caught_up.set()
                    log.info(
                        "control state loaded",
                        messages=self.state.applied,
                        refused=self.state.refused,
                        table=self.state.table.version,
                        phase=self.state.rollout.phase,
                    )
        finally:
            await consumer.stop()

    def _apply(
        self,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
        offset: int,
        timestamp_ms: int,
    ) -> None:
        signature = next((v for k, v in headers or () if k == SIGNATURE_HEADER), None)
        try:
            message = decode(value or b"")
        except DecodeError as exc:
            self._refuse(offset, Refusal.MALFORMED, f"undecodable: {exc.reason.value}", None)
            return
        kind = message.MESSAGE_TYPE
        refusal = self.trust.check(message, value or b"", signature)
        if refusal is not None:
            self._refuse(offset, refusal, refusal.value.replace("_", " "), kind)
            return
        appended_at = datetime.fromtimestamp(timestamp_ms / 1000, UTC)
        replay = self.state.history.admit(
            message.metadata.message_id, message.metadata.occurred_at, appended_at
        )
        if replay is not None:
            self._refuse(offset, Refusal(replay.value), _REPLAY_DETAIL[replay], kind)
            return
        try:
            refused = self.state.apply(message)
        except Exception as exc:  # a rule's code failing on odd input must not stop the hub
            self._refuse(offset, Refusal.MALFORMED, type(exc).__name__, kind)
            return
        if refused is not None:
            self._refuse(offset, Refusal.REFUSED_BY_RULE, refused, kind)
        else:
            log.info("control message applied", offset=offset, type=kind)
            self._acknowledge(offset, kind, None, None)

    def _refuse(self, offset: int, reason: Refusal, why: str, message_type: str | None) -> None:
        self.state.refused += 1
        metrics.CONTROL_REFUSED.labels(reason.value).inc()
        log.warning("control message refused", offset=offset, reason=reason.value, why=why,
                    type=message_type)  # fmt: skip
        self._acknowledge(offset, message_type, reason, why)

    def _acknowledge(
        self, offset: int, message_type: str | None, refusal: Refusal | None, why: str | None
    ) -> None:
        if self.replica is None or self._acknowledge_from is None:
            return
        if offset < self._acknowledge_from:
            return
        self._acknowledgements.put_nowait(ControlAcknowledged(
            metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC),
                              sender=HUB_SENDER),
            replica=self.replica, control_offset=offset, message_type=message_type,
            applied=refusal is None, reason=None if refusal is None else refusal.value,
            detail=why))  # fmt: skip

    async def _send_acknowledgements(self) -> None:
        producer: AIOKafkaProducer | None = None
        try:
            with contextlib.suppress(Exception):  # else made when the first one is sent
                producer = await self._acknowledgement_producer()
            while True:
                acknowledgement = await self._acknowledgements.get()
                producer = await self._deliver(producer, acknowledgement)
                self._acknowledgements.task_done()
        finally:
            if producer is not None:
                with contextlib.suppress(Exception):
                    await producer.stop()

    async def _acknowledgement_producer(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **kafka_options(self.bootstrap), acks="all", enable_idempotence=True
        )
        try:
            await producer.start()
        except BaseException:
            with contextlib.suppress(Exception):
                await producer.stop()
            raise
        return producer

    async def _deliver(
        self, producer: AIOKafkaProducer | None, acknowledgement: ControlAcknowledged
    ) -> AIOKafkaProducer:
        """Send one acknowledgement, with a new producer after any failure, until the broker
        takes it; the producer to use next."""
        value = encode(acknowledgement)
        while True:
            try:
                if producer is None:
                    producer = await self._acknowledgement_producer()
                await producer.send_and_wait(CONTROL_ACKS, value, partition=0)
                return producer
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep it and try again: the broker may be back
                log.warning("control acknowledgement not sent; retrying",
                            error=type(exc).__name__,
                            offset=acknowledgement.control_offset)  # fmt: skip
                if producer is not None:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    producer = None
                await asyncio.sleep(self.RETRY_SECONDS)


_REPLAY_DETAIL = {
    ReplayRefusal.REPLAYED: "a command with this message id was already on the control topic",
    ReplayRefusal.STALE: "appended too long after it was signed (or dated ahead)",
}


def operator_metadata(operator: str) -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender=operator)


async def publish_control(
    bootstrap: str, *messages: Message, signing: ControlSigning | None = None
) -> list[int]:
    """Append control messages (an operator's or the oversight body's act), acks=all, each
    signed with the configured key its type needs (ControlKeyError names a missing one); their
    offsets on the control topic."""
    signing = signing or load_signing()
    signed = []
    for message in messages:
        value = encode(message)
        signed.append((value, signing.signature(message, value)))
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    offsets = []
    try:
        for value, signature in signed:
            appended = await producer.send_and_wait(
                CONTROL, value, partition=0, headers=[(SIGNATURE_HEADER, signature)]
            )
            offsets.append(appended.offset)
    finally:
        await producer.stop()
    return offsets
