"""The idempotent producer behind every message an agency writes to `agency.<id>.out`.

Delivery guarantee, precisely:

* `publish` returns only after the broker acknowledged the record with `acks=all`: it is in the
  log of every in-sync replica of its partition, so it survives the loss of any one broker
  (with the cluster's `min.insync.replicas` >= 2) and is what the hub will read.
* The producer is idempotent (`enable_idempotence=True`): aiokafka retries a batch after a
  retriable error (broker restart, leader change, network loss) with the same producer id and
  sequence number, and the broker discards a retry it already wrote. A broker outage while a
  record is in flight therefore neither loses nor duplicates it; `publish` simply takes longer.
* A record that cannot be sent within `delivery_timeout` seconds (no leader for its partition
  for that long) fails with `DeliveryFailed`. It was then most likely not written, but an
  earlier attempt may have been: publishing the *same* message again (same metadata.message_id,
  same request_id) is the safe retry, because the hub treats requests as idempotent by request
  id and every message keeps its id.
* Records about one person keep their order: the Kafka key is the message's link code (the hub
  needs an event before the request citing it), and one partition is written in order.

`publish` refuses a message whose metadata.sender is not this agency (`WrongSender`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from producers.connection import Connection
from producers.errors import DeliveryFailed, NotStarted, WrongSender
from producers.lifecycle import Lifecycle
from renkei.logs import get_logger
from schemas.codec import encode
from schemas.ids import new_id
from schemas.models import Message, Metadata
from schemas.topics import outbound

log = get_logger("producers.publisher")

_KEY_FIELDS = ("person_code", "principal_code")


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where the broker wrote a record."""

    message_id: UUID
    topic: str
    partition: int
    offset: int


def new_metadata(sender: str, *, correlation_id: UUID | None = None) -> Metadata:
    """A fresh envelope: a new message id, now (UTC), the given sender."""
    return Metadata(
        message_id=new_id(),
        correlation_id=correlation_id,
        occurred_at=datetime.now(UTC),
        sender=sender,
    )


def _key(message: Message) -> bytes | None:
    for name in _KEY_FIELDS:
        value = getattr(message, name, None)
        if isinstance(value, bytes):
            return value
    return None


class Publisher(Lifecycle):
    """Writes the agency's messages to its outbound topic; one per agency process."""

    def __init__(
        self, agency_id: str, connection: Connection, *, delivery_timeout: float = 40.0
    ) -> None:
        self.agency_id = agency_id
        self.topic = outbound(agency_id)
        self._connection = connection
        self._delivery_timeout = delivery_timeout
        self._producer: AIOKafkaProducer | None = None

    def metadata(self, *, correlation_id: UUID | None = None) -> Metadata:
        """A fresh envelope with this agency as sender."""
        return new_metadata(self.agency_id, correlation_id=correlation_id)

    async def start(self) -> None:
        if self._producer is not None:
            return
        producer = AIOKafkaProducer(
            **self._connection.client_options(),
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(self._delivery_timeout * 1000),
            linger_ms=2,
        )
        await producer.start()
        self._producer = producer

    async def stop(self) -> None:
        """Flush what was accepted, then close."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, message: Message) -> Delivery:
        """Write `message` to agency.<id>.out and wait for the broker's acknowledgement."""
        if self._producer is None:
            raise NotStarted(f"publisher of {self.agency_id} is not started")
        if message.metadata.sender != self.agency_id:
            raise WrongSender(
                f"{message.MESSAGE_TYPE}: metadata.sender is not {self.agency_id}; "
                f"only {self.agency_id} writes {self.topic}"
            )
        value = encode(message)
        try:
            future = await self._producer.send(self.topic, value, key=_key(message))
            record: Any = await future
        except KafkaError as exc:
            log.warning(
                "publish.failed",
                agency=self.agency_id,
                message_type=message.MESSAGE_TYPE,
                message_id=str(message.metadata.message_id),
                error=type(exc).__name__,
            )
            raise DeliveryFailed(
                f"{message.MESSAGE_TYPE} {message.metadata.message_id} not acknowledged "
                f"on {self.topic} ({type(exc).__name__})"
            ) from exc
        return Delivery(message.metadata.message_id, self.topic, record.partition, record.offset)
