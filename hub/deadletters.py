"""Dead letters: bad input never stops the hub and is never silently dropped.

A dead letter is the original bytes as the record value, with headers that say why and where
from. It is produced in the same transaction as the offset commit that consumed the input, so a
message is either processed or dead-lettered, exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from aiokafka.structs import ConsumerRecord

from hub import metrics
from hub.stage import Output
from hub.topics import DEAD_LETTERS

MAX_MESSAGE_BYTES = 256 * 1024  # an agency message larger than this is refused as oversize
MAX_DEAD_LETTER_BYTES = 512 * 1024  # well under the producer's 1 MiB request limit


class DeadLetterReason(StrEnum):
    UNDECODABLE = "UNDECODABLE"  # not Avro single-object encoding, truncated, body mismatch
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"  # a fingerprint the hub does not know
    SENDER_MISMATCH = "SENDER_MISMATCH"  # declared sender is not the topic's owner
    OVERSIZE = "OVERSIZE"
    UNEXPECTED_TYPE = "UNEXPECTED_TYPE"  # a known message that has no business on this topic
    INVALID = "INVALID"  # decodes, but breaks a rule of the contract
    NOT_ENTITLED = "NOT_ENTITLED"  # from a party not entitled to say it (unregistered sender)


HEADER_REASON = "renkei-dlq-reason"
HEADER_DETAIL = "renkei-dlq-detail"
HEADER_TOPIC = "renkei-dlq-topic"
HEADER_PARTITION = "renkei-dlq-partition"
HEADER_OFFSET = "renkei-dlq-offset"
HEADER_TIME = "renkei-dlq-time"
HEADER_KEY = "renkei-dlq-key"


def dead_letter(
    value: bytes | None,
    *,
    reason: DeadLetterReason,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    now: datetime,
    key: bytes | None = None,
) -> Output:
    """The dead letter for an input. `detail` must name a rule, never quote a value."""
    metrics.DEAD_LETTERS.labels(reason.value).inc()
    if value is not None and len(value) > MAX_DEAD_LETTER_BYTES:
        # Larger than a Kafka request may carry: keep the head, say so, never block the hub.
        detail = f"{detail}; original of {len(value)} bytes truncated"
        value = value[:MAX_DEAD_LETTER_BYTES]
    headers: list[tuple[str, bytes]] = [
        (HEADER_REASON, reason.value.encode()),
        (HEADER_DETAIL, detail.encode()[:500]),
        (HEADER_TOPIC, topic.encode()),
        (HEADER_PARTITION, str(partition).encode()),
        (HEADER_OFFSET, str(offset).encode()),
        (HEADER_TIME, now.astimezone(UTC).isoformat().encode()),
    ]
    if key is not None:
        headers.append((HEADER_KEY, key))
    return Output(DEAD_LETTERS, value, key=None, headers=tuple(headers))


def dead_letter_of(
    record: ConsumerRecord[bytes, bytes], reason: DeadLetterReason, detail: str, now: datetime
) -> Output:
    """The dead letter for a consumed record, with its position."""
    return dead_letter(
        record.value,
        reason=reason,
        detail=detail,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        now=now,
        key=record.key,
    )


def parse_source(source: str) -> tuple[str, int, int]:
    """(topic, partition, offset) from an envelope's `source` ("topic/partition/offset")."""
    topic, partition, offset = source.rsplit("/", 2)
    return topic, int(partition), int(offset)


@dataclass(frozen=True)
class DeadLetter:
    """A dead letter as read back by operators (`renkei hub dlq list`)."""

    offset: int
    reason: str
    detail: str
    source_topic: str
    source_partition: int
    source_offset: int
    at: str
    key: bytes | None
    value: bytes

    @classmethod
    def from_record(cls, record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        h = {k: v for k, v in record.headers}
        return cls(
            offset=record.offset,
            reason=h.get(HEADER_REASON, b"?").decode(),
            detail=h.get(HEADER_DETAIL, b"").decode(errors="replace"),
            source_topic=h.get(HEADER_TOPIC, b"?").decode(),
            source_partition=int(h.get(HEADER_PARTITION, b"-1")),
            source_offset=int(h.get(HEADER_OFFSET, b"-1")),
            at=h.get(HEADER_TIME, b"").decode(),
            key=h.get(HEADER_KEY),
            value=record.value or b"",
        )
