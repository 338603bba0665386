"""The control channel: legal-basis table, rollout, suspensions and agency registrations.

Global state is broadcast, not partitioned: every hub replica reads the whole single-partition
control topic from the beginning and applies each message with the same pure functions, so
every replica holds the same table version, rollout phase, suspensions and registry. Operators
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
from hub.core.state import AgencyEntry, RatePolicy
from hub.topics import CONTROL
from producers.connection import kafka_options
from renkei.logs import get_logger
from schemas.codec import DecodeError, decode, encode
from schemas.models import (
    AgencyRegistered,
    AgencySuspension,
    LegalBasisTablePublished,
    Message,
    Metadata,
    RolloutChange,
)
from schemas.vocabulary import EventType

log = get_logger("hub.control")


@dataclass
class ControlState:
    """What every replica shares. The dicts are shared by reference with each partition's
    HubState, so an update here is seen by all partitions at once."""

    table: LegalBasisTable = field(default_factory=default_table)
    rollout: Rollout = field(default_factory=initial_rollout)
    agencies: dict[str, AgencyEntry] = field(default_factory=dict)
    suspended: dict[str, str] = field(default_factory=dict)
    rate_policy: RatePolicy = field(default_factory=RatePolicy)
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
            case _:
                return f"{message.MESSAGE_TYPE} is not a control message"
        return None


class ControlReader:
    """Follows the control topic from its beginning for as long as the hub runs.

    A record is applied only if it decodes, is a control command, carries the signature of
    the key its type needs (hub.control_signatures) and its rules accept it; anything else is
    refused, logged and counted (`renkei_control_refused_total`), never fatal. Should the
    consumer itself fail (the broker gone, say), the reader reconnects and resumes after the
    last record it saw; `running` is False only once it was stopped, and then the hub is not
    ready.
    """

    RETRY_SECONDS = 2.0

    def __init__(self, bootstrap: str, state: ControlState, trust: ControlTrust) -> None:
        self.bootstrap = bootstrap
        self.state = state
        self.trust = trust
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_offset = 0

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self, within: float = 60.0) -> None:
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

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

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
            if end <= self._next_offset:
                self.caught_up.set()
            while True:
                batch = await consumer.getmany(tp, timeout_ms=200)
                for record in batch.get(tp, []):
                    self._apply(record.value, record.headers, record.offset)
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
        self, value: bytes | None, headers: Sequence[tuple[str, bytes]], offset: int
    ) -> None:
        signature = next((v for k, v in headers or () if k == SIGNATURE_HEADER), None)
        try:
            message = decode(value or b"")
        except DecodeError as exc:
            self._refuse(offset, Refusal.MALFORMED, f"undecodable: {exc.reason.value}", None)
            return
        refusal = self.trust.check(message, value or b"", signature)
        if refusal is not None:
            self._refuse(offset, refusal, refusal.value.replace("_", " "), message.MESSAGE_TYPE)
            return
        try:
            refused = self.state.apply(message)
        except Exception as exc:  # a rule's code failing on odd input must not stop the hub
            self._refuse(offset, Refusal.MALFORMED, type(exc).__name__, message.MESSAGE_TYPE)
            return
        if refused is not None:
            self._refuse(offset, Refusal.REFUSED_BY_RULE, refused, message.MESSAGE_TYPE)
        else:
            log.info("control message applied", offset=offset, type=message.MESSAGE_TYPE)

    def _refuse(self, offset: int, reason: Refusal, why: str, message_type: str | None) -> None:
        self.state.refused += 1
        metrics.CONTROL_REFUSED.labels(reason.value).inc()
        log.warning("control message refused", offset=offset, reason=reason.value, why=why,
                    type=message_type)  # fmt: skip


def operator_metadata(operator: str) -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender=operator)


async def publish_control(
    bootstrap: str, *messages: Message, signing: ControlSigning | None = None
) -> None:
    """Append control messages (an operator's or the oversight body's act), acks=all, each
    signed with the configured key its type needs (ControlKeyError names a missing one)."""
    signing = signing or load_signing()
    signed = []
    for message in messages:
        value = encode(message)
        signed.append((value, signing.signature(message, value)))
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for value, signature in signed:
            await producer.send_and_wait(
                CONTROL, value, partition=0, headers=[(SIGNATURE_HEADER, signature)]
            )
    finally:
        await producer.stop()
