"""A test plays the hub by hand: it reads agency.X.out and writes agency.X.in with the
sequence header, exactly as the hub would, so the SDK's Kafka behaviour is tested on a real
broker without the hub."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from producers.connection import kafka_options
from schemas.codec import decode, encode
from schemas.models import Enrolment, Message, Metadata
from schemas.sealed_number import (
    HubSealingKey,
    enrolment_context,
    open_sealed_number,
    public_key_of,
)
from schemas.topics import SEQUENCE_HEADER, inbound, outbound

M = TypeVar("M", bound=Message)


def new_agency_id(kind: str = "med") -> str:
    """A fresh agency id per test, so topics and consumer groups never collide."""
    return f"{kind}-t{uuid.uuid4().hex[:10]}"


def hub_metadata(correlation_id: uuid.UUID | None = None) -> Metadata:
    return Metadata(
        message_id=uuid.uuid4(),
        correlation_id=correlation_id,
        occurred_at=datetime.now(UTC),
        sender="hub",
    )


async def create_topics(bootstrap: str, *names: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


class HubByHand:
    """Reads what agency `agency_id` wrote; delivers to it with per-stream sequence numbers."""

    def __init__(self, bootstrap: str, agency_id: str) -> None:
        self.bootstrap = bootstrap
        self.agency_id = agency_id
        self.next_seq: dict[int, int] = {}
        self._sealing_private = os.urandom(32)
        self.hub_key = HubSealingKey(7, public_key_of(self._sealing_private))
        self._reader = AIOKafkaConsumer(
            **kafka_options(bootstrap),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        self._writer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all")
        self._buffer: list[tuple[bytes | None, bytes]] = []

    async def __aenter__(self) -> Self:
        await create_topics(self.bootstrap, inbound(self.agency_id), outbound(self.agency_id))
        await self._reader.start()
        tp = TopicPartition(outbound(self.agency_id), 0)
        self._reader.assign([tp])
        await self._reader.seek_to_beginning(tp)
        await self._writer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._reader.stop()
        await self._writer.stop()

    async def raw_from_agency(self, within: float = 20.0) -> tuple[bytes | None, bytes]:
        """(key, value) of the next record on agency.X.out."""
        async with asyncio.timeout(within):
            while not self._buffer:
                batch = await self._reader.getmany(timeout_ms=100)
                self._buffer.extend((r.key, r.value) for records in batch.values() for r in records)
        return self._buffer.pop(0)

    async def from_agency(self, model: type[M], within: float = 20.0) -> M:
        """The next message the agency wrote; it must be a `model`."""
        _, value = await self.raw_from_agency(within)
        message = decode(value)
        assert isinstance(message, model), f"expected {model.__name__}, got {message}"
        return message

    async def nothing_from_agency(self, within: float) -> None:
        try:
            _, value = await self.raw_from_agency(within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected {decode(value).MESSAGE_TYPE} from the agency")

    async def deliver(
        self,
        message: Message | bytes,
        *,
        stream: int = 0,
        seq: int | None = None,
        key: bytes | None = None,
    ) -> int:
        """Write to agency.X.in with `renkei-seq: <stream>:<n>` (n the next, unless given)."""
        n = seq if seq is not None else self.next_seq.get(stream, 1)
        self.next_seq[stream] = n + 1
        value = message if isinstance(message, bytes) else encode(message)
        await self._writer.send_and_wait(
            inbound(self.agency_id),
            value,
            key=key,
            headers=[(SEQUENCE_HEADER, f"{stream}:{n}".encode())],
        )
        return n

    def number_in(self, enrolment: Enrolment) -> str | None:
        """Open the enrolment's sealed number, as the hub's ingress does."""
        if enrolment.sealed_number is None:
            return None
        context = enrolment_context(enrolment.metadata.sender, enrolment.request_id)
        return open_sealed_number(enrolment.sealed_number, {7: self._sealing_private}, context)


async def until(condition: Callable[[], bool], within: float = 20.0) -> None:
    """Wait until `condition()` holds; fail after `within` seconds."""
    for _ in range(int(within / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")
