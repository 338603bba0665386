"""Ingress opens sealed numbers and keeps nothing else: a number sent in clear, sealed for
another message or to an unknown key counts for nothing, and no number travels further."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord

from hub.core import Keyring
from hub.envelope import Envelope, Kind
from hub.ingress import Ingress
from schemas import individual_number
from schemas.codec import encode
from schemas.models import Enrolment, Message, Metadata, NumberChanged
from schemas.sealed_number import (
    HubSealingKey,
    enrolment_context,
    number_change_context,
    seal_number,
)
from schemas.topics import outbound

from ..hub.harness import dev_keys

KEYS: Keyring = dev_keys()
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MUN = "mun-13101"


def _record(message: Message) -> ConsumerRecord[bytes, bytes]:
    value = encode(message)
    return ConsumerRecord(outbound(MUN), 0, 7, 0, 0, None, value, None, 0, len(value), ())


def _through_ingress(message: Message) -> Envelope:
    output = Ingress(KEYS, {MUN}).route(_record(message), NOW)
    assert output.value is not None
    return Envelope.from_bytes(output.value)


def _meta() -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=NOW, sender=MUN)


def _enrolment(number: str, key: HubSealingKey = KEYS.public_sealing_key) -> Enrolment:
    rid = uuid.uuid4()
    sealed = seal_number(number, key, enrolment_context(MUN, rid))
    return Enrolment(metadata=_meta(), request_id=rid, sealed_number=sealed)


def test_a_sealed_number_becomes_its_blind_index_and_nothing_else() -> None:
    number = individual_number.generate()
    envelope = _through_ingress(_enrolment(number))
    assert envelope.kind is Kind.ENROL
    assert envelope.number_index == KEYS.number_index(number)
    assert number.encode() not in (envelope.to_bytes() + (envelope.payload or b""))


def test_a_number_in_clear_copied_or_sealed_to_another_key_counts_for_nothing() -> None:
    number = individual_number.generate()
    in_clear = Enrolment(metadata=_meta(), request_id=uuid.uuid4(), individual_number=number)
    copied = _enrolment(number).model_copy(update={"request_id": uuid.uuid4()})
    stranger = HubSealingKey(KEYS.sealing_key_id, dev_keys().public_sealing_key.public_key)
    for refused in (in_clear, copied, _enrolment(number, stranger)):
        envelope = _through_ingress(refused)
        assert envelope.kind is Kind.ENROL
        assert envelope.number_index is None  # the router denies it MALFORMED


def test_a_number_change_goes_on_without_its_number() -> None:
    code = KEYS.codes.encode(MUN, bytes(16))
    number = individual_number.generate()
    sealed = seal_number(number, KEYS.public_sealing_key, number_change_context(MUN, code))
    change = NumberChanged(metadata=_meta(), person_code=code, sealed_new_number=sealed)
    envelope = _through_ingress(change)
    assert envelope.number_index == KEYS.number_index(number)
    payload = envelope.payload or b""
    assert number.encode() not in payload
    assert sealed.ciphertext not in payload
    assert not re.search(rb"(?<![0-9])[0-9]{12}(?![0-9])", payload)
