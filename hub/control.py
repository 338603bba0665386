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
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

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
    applied: int = 0  # control messages applied (for readiness and tests)

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
    """Follows the control topic from its beginning for as long as the hub runs."""

    def __init__(self, bootstrap: str, state: ControlState) -> None:
        self.bootstrap = bootstrap
        self.state = state
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, within: float = 60.0) -> None:
        self._task = asyncio.create_task(self._follow(), name="control-reader")
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
            await consumer.seek_to_beginning(tp)
            end = (await consumer.end_offsets([tp]))[tp]
            if end == 0:
                self.caught_up.set()
            while True:
                batch = await consumer.getmany(tp, timeout_ms=200)
                for record in batch.get(tp, []):
                    self._apply(record.value, record.offset)
                if not self.caught_up.is_set() and await consumer.position(tp) >= end:
                    self.caught_up.set()
                    log.info(
                        "control state loaded",
                        messages=self.state.applied,
                        table=self.state.table.version,
                        phase=self.state.rollout.phase,
                    )
        finally:
            await consumer.stop()

    def _apply(self, value: bytes | None, offset: int) -> None:
        try:
            message = decode(value or b"")
        except DecodeError as exc:
            log.error("undecodable control message ignored", offset=offset, reason=exc.reason)
            return
        refused = self.state.apply(message)
        if refused is not None:
            log.warning(
                "control message refused", offset=offset, why=refused, type=message.MESSAGE_TYPE
            )
        else:
            log.info("control message applied", offset=offset, type=message.MESSAGE_TYPE)


def operator_metadata(operator: str) -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender=operator)


async def publish_control(bootstrap: str, *messages: Message) -> None:
    """Append control messages (an operator's or the oversight body's act), acks=all."""
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for message in messages:
            await producer.send_and_wait(CONTROL, encode(message), partition=0)
    finally:
        await producer.stop()
