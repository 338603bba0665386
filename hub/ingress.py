"""Ingress: from every `agency.*.out` to the hub-internal topic, re-keyed by person.

Step 1 of DOMAIN.md §5 happens here: the topic's owner must be a registered (onboarded)
agency, a message must decode under a known schema and its declared sender must be the owner
of the topic it came on (the topic authenticates the sender). Anything else is dead-lettered
with its original bytes. A valid message is keyed by the
`person_id` its code decrypts to, so every message about one person reaches one router
partition in order; an individual number is reduced to its blind index here and goes no
further.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Container, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.structs import ConsumerRecord, TopicPartition

from hub.core import Keyring, TokenRefused
from hub.deadletters import (
    MAX_MESSAGE_BYTES,
    DeadLetterReason,
    dead_letter_of,
    internal_dead_letter,
)
from hub.envelope import Envelope, Kind
from hub.stage import Output, Stateless
from hub.topics import PERSONS, owner_of
from schemas import individual_number
from schemas.codec import DecodeError, DecodeReason, decode, encode
from schemas.models import ApplicationReceived as Application
from schemas.models import (
    AttributeAnswer,
    AttributeRequest,
    ClinicalUpdate,
    ConsentGiven,
    ConsentWithdrawn,
    DependencyChanged,
    Enrolment,
    IncomeDetermined,
    Message,
    Notice,
    NoticeAcknowledged,
    NumberChanged,
    ProxyRegistered,
    ProxyRevoked,
    Relocation,
    SealedNumber,
)
from schemas.sealed_number import enrolment_context, number_change_context

DL = DeadLetterReason

# Messages an agency may send, and the field naming the person they are about.
_PERSON_FIELD: dict[type[Message], str] = {
    AttributeRequest: "person_code",
    Relocation: "person_code",
    IncomeDetermined: "person_code",
    ClinicalUpdate: "person_code",
    Application: "person_code",
    DependencyChanged: "person_code",
    ConsentGiven: "person_code",
    ConsentWithdrawn: "person_code",
    ProxyRegistered: "principal_code",
    ProxyRevoked: "principal_code",
    NumberChanged: "person_code",
    Notice: "person_code",
}

_DECODE_TO_DL = {
    DecodeReason.UNKNOWN_FINGERPRINT: DL.UNKNOWN_SCHEMA,
    DecodeReason.INVALID_CONTENT: DL.INVALID,
    DecodeReason.UNEXPECTED_TYPE: DL.UNEXPECTED_TYPE,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


LOG_APPEND_TIME = 1  # aiokafka's timestamp_type of a record the broker stamped


def received_at_us(record: ConsumerRecord[bytes, bytes], now: datetime) -> int:
    """When the hub takes the message to have arrived (the router's "now": rate budgets,
    trigger windows, FUTURE_DATED). The broker's append time where the topic stamps records
    so (`TopicLayout.agency_topics` creates them with LogAppendTime: the sender cannot choose
    it), so a backlog read at once after a restart is judged by when it was sent; else, on a
    topic whose records carry the sender's own time, the ingress clock."""
    if record.timestamp_type == LOG_APPEND_TIME:
        return int(record.timestamp) * 1_000
    return int(now.timestamp() * 1_000_000)


class Ingress(Stateless):
    """The ingress stage's processor (stateless: nothing to prepare or drop)."""

    def __init__(
        self,
        keys: Keyring,
        registered: Container[str],
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`registered`: the agencies registered on the control channel (the hub passes its
        live registry, so an agency onboarded later is known as soon as it is applied)."""
        self.keys = keys
        self.registered = registered
        self.clock = clock

    def process(
        self, partition: TopicPartition, records: Sequence[ConsumerRecord[bytes, bytes]]
    ) -> list[Output]:
        now = self.clock()
        outputs = []
        for record in records:
            try:
                outputs.append(self.route(record, now))
            except Exception as error:  # a poison pill: never a stuck partition
                outputs.append(internal_dead_letter(record, error, now))
        return outputs

    def route(self, record: ConsumerRecord[bytes, bytes], now: datetime) -> Output:
        owner = owner_of(record.topic)
        if owner is None:
            return dead_letter_of(record, DL.UNEXPECTED_TYPE, "not an agency.<id>.out topic", now)
        if owner not in self.registered:
            # A topic an agency made for itself, or one left behind: nobody onboarded speaks here.
            return dead_letter_of(
                record, DL.NOT_ENTITLED, f"{owner} is not a registered agency", now
            )
        value = record.value
        if value is None:
            return dead_letter_of(record, DL.UNDECODABLE, "empty record value", now)
        if len(value) > MAX_MESSAGE_BYTES:
            return dead_letter_of(
                record, DL.OVERSIZE, f"{len(value)} bytes, limit {MAX_MESSAGE_BYTES}", now
            )
        try:
            message = decode(value)
        except DecodeError as exc:
            reason = _DECODE_TO_DL.get(exc.reason, DL.UNDECODABLE)
            return dead_letter_of(record, reason, f"{exc.reason.value}: {exc}", now)
        sender = message.metadata.sender
        if sender != owner:
            return dead_letter_of(
                record, DL.SENDER_MISMATCH, f"declared sender {sender} on {owner}'s topic", now
            )
        source = f"{record.topic}/{record.partition}/{record.offset}"
        received = received_at_us(record, now)
        meta = message.metadata
        base: dict[str, Any] = {
            "sender": sender,
            "received_at_us": received,
            "source": source,
            "message_id": str(meta.message_id),
            "correlation_id": None if meta.correlation_id is None else str(meta.correlation_id),
        }
        if isinstance(message, Enrolment):
            # Only a sealed number counts: one sent in clear (a version-1 sender) is refused
            # as if it were malformed, so no agency keeps sending numbers in clear.
            blind = self._index_of(
                message.sealed_number, enrolment_context(sender, message.request_id)
            )
            env = Envelope(
                Kind.ENROL, number_index=blind, request_id=str(message.request_id), **base
            )
            key = blind if blind is not None else message.request_id.bytes
            return Output(PERSONS, env.to_bytes(), key=key)
        if isinstance(message, AttributeAnswer):
            ticket = self.keys.tokens.open(
                message.reply_token,
                sender,
                int(now.timestamp()),
                self.keys.token_ttl_seconds,
                {},
            )
            person = None if isinstance(ticket, TokenRefused) else ticket.person_id
            return self._to_router(Kind.MESSAGE, value, person, meta.message_id, base)
        if isinstance(message, NoticeAcknowledged):
            return self._to_router(Kind.MESSAGE, value, None, message.notice_id, base)
        field = _PERSON_FIELD.get(type(message))
        if field is None:
            return dead_letter_of(
                record,
                DL.UNEXPECTED_TYPE,
                f"{message.MESSAGE_TYPE} is not sent by agencies to the hub",
                now,
            )
        person = self.keys.codes.decode(sender, getattr(message, field))
        index: bytes | None = None
        if isinstance(message, NumberChanged):
            # Reduce the sealed new number to its blind index; strip it (and any number sent
            # in clear, which counts for nothing) from what travels on.
            index = self._index_of(
                message.sealed_new_number, number_change_context(sender, message.person_code)
            )
            value = encode(
                message.model_copy(update={"new_number": None, "sealed_new_number": None})
            )
        if index is not None and person is not None:
            # A number change first claims its new number where that number's index lives;
            # only then does it reach the person (hub.router._claim_index).
            env = Envelope(
                Kind.CLAIM_INDEX, payload=value, person_id=person, number_index=index, **base
            )
            return Output(PERSONS, env.to_bytes(), key=index)
        request_id = getattr(message, "request_id", None)
        return self._to_router(
            Kind.MESSAGE,
            value,
            person,
            request_id or meta.message_id,
            base | {"request_id": None if request_id is None else str(request_id)},
            number_index=index,
        )

    def _index_of(self, sealed: SealedNumber | None, context: bytes) -> bytes | None:
        """The blind index of a sealed number, or None if absent, unopenable or invalid."""
        if sealed is None:
            return None
        number = self.keys.open_number(sealed, context)
        if number is None or not individual_number.is_valid(number):
            return None
        return self.keys.number_index(number)

    @staticmethod
    def _to_router(
        kind: Kind,
        payload: bytes,
        person: bytes | None,
        fallback_key: uuid.UUID,
        base: dict[str, Any],
        number_index: bytes | None = None,
    ) -> Output:
        # A message about no known person (an unknown code, a refused token) still goes to the
        # router, keyed by its own id, so that it gets its denial and its provision record.
        env = Envelope(
            kind,
            payload=payload,
            person_id=person,
            number_index=number_index,
            **base,
        )
        return Output(PERSONS, env.to_bytes(), key=person or fallback_key.bytes)
