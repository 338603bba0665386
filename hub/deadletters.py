"""Dead letters: bad input never stops the hub and is never silently dropped.

A dead letter is the contract's Avro `DeadLetter` (schemas/avro/DeadLetter.avsc): the reason,
a detail for operators, the source position and the original bytes. The same facts travel as
headers too, so a reader can filter without decoding. It is produced in the same transaction
as the offset commit that consumed the input, so a message is either processed or
dead-lettered, exactly once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from aiokafka.structs import ConsumerRecord

from hub import metrics
from hub.stage import Output
from hub.topics import DEAD_LETTERS
from renkei.logs import get_logger
from schemas import models
from schemas.codec import DecodeError, decode, encode
from schemas.ids import new_id

log = get_logger("hub.deadletters")

MAX_MESSAGE_BYTES = 256 * 1024  # an agency message larger than this is refused as oversize
MAX_DEAD_LETTER_BYTES = 512 * 1024  # well under the producer's 1 MiB request limit
MAX_KEY_COPY_BYTES = 1024  # a source key is copied into a header up to this, then digested


class DeadLetterReason(StrEnum):
    UNDECODABLE = "UNDECODABLE"  # not Avro single-object encoding, truncated, body mismatch
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"  # a fingerprint the hub does not know
    SENDER_MISMATCH = "SENDER_MISMATCH"  # declared sender is not the topic's owner
    OVERSIZE = "OVERSIZE"
    UNEXPECTED_TYPE = "UNEXPECTED_TYPE"  # a known message that has no business on this topic
    INVALID = "INVALID"  # decodes, but breaks a rule of the contract
    # A fact that does not count (DOMAIN.md §14), dead-lettered and counted per agency:
    FUTURE_DATED = "FUTURE_DATED"  # dated more than the tolerance ahead of the hub
    AGENCY_SUSPENDED = "AGENCY_SUSPENDED"  # its publisher is suspended by the oversight body
    NOT_ENTITLED = "NOT_ENTITLED"  # from a party not entitled to say it (unregistered sender,
    # or a fact its publisher may not assert under the trust table)
    INTERNAL = "INTERNAL"  # the hub's own code failed on it (a poison pill): a hub bug
    # An answer after its request's PROVIDER_TIMEOUT went out (or its reply token expired):
    # the requester already has its one outcome, so the answer is never delivered.
    LATE_ANSWER = "LATE_ANSWER"


HEADER_REASON = "renkei-dlq-reason"
HEADER_DETAIL = "renkei-dlq-detail"
HEADER_TOPIC = "renkei-dlq-topic"
HEADER_PARTITION = "renkei-dlq-partition"
HEADER_OFFSET = "renkei-dlq-offset"
HEADER_TIME = "renkei-dlq-time"
HEADER_KEY = "renkei-dlq-key"
HEADER_DIGEST = "renkei-dlq-sha256"  # of the original value, whole (before any truncation)
HEADER_KEY_DIGEST = "renkei-dlq-key-sha256"  # of the original key, when the copy is cut


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
    """The dead letter for an input. `detail` must name a rule, never quote a value.

    Whatever the input, the dead letter fits in one produce request: the value is cut at
    MAX_DEAD_LETTER_BYTES and the key at MAX_KEY_COPY_BYTES, each with a digest of the whole
    so an operator can still match it with the original."""
    metrics.DEAD_LETTERS.labels(reason.value).inc()
    digest = None if value is None else hashlib.sha256(value).hexdigest().encode()
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
    if digest is not None:
        headers.append((HEADER_DIGEST, digest))
    if key is not None:
        headers.append((HEADER_KEY, key[:MAX_KEY_COPY_BYTES]))
        if len(key) > MAX_KEY_COPY_BYTES:
            headers.append((HEADER_KEY_DIGEST, hashlib.sha256(key).hexdigest().encode()))
    letter = models.DeadLetter(
        metadata=models.Metadata(message_id=new_id(), occurred_at=now, sender="hub"),
        reason=reason.value,
        detail=detail[:500],
        source_topic=topic,
        source_partition=partition,
        source_offset=offset,
        original=value or b"",
    )
    return Output(DEAD_LETTERS, encode(letter), key=None, headers=tuple(headers))


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


def internal_dead_letter(
    record: ConsumerRecord[bytes, bytes], error: BaseException, now: datetime
) -> Output:
    """A record that made the hub's own code fail: its bytes and the exception's type, never
    the exception's message (it could quote the input). The stage goes on with the next."""
    kind = type(error).__name__
    metrics.POISON_PILLS.labels(kind).inc()
    log.error(
        "record dead-lettered: the hub's code failed on it",
        error=kind,
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
    )
    return dead_letter_of(record, DeadLetterReason.INTERNAL, f"{kind} in the hub's code", now)


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
        """Read back from the Avro `DeadLetter`; a dead letter written before the hub used
        the contract's schema (raw original bytes) from its headers alone."""
        h = {k: v for k, v in record.headers}
        try:
            letter = decode(record.value or b"")
        except DecodeError:
            letter = None
        if isinstance(letter, models.DeadLetter):
            return cls(
                offset=record.offset,
                reason=letter.reason,
                detail=letter.detail,
                source_topic=letter.source_topic,
                source_partition=letter.source_partition,
                source_offset=letter.source_offset,
                at=letter.metadata.occurred_at.isoformat(),
                key=h.get(HEADER_KEY),
                value=letter.original,
            )
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
