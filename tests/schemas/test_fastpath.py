"""The generated fast path (`schemas.fastpath`) against the fastavro path it stands in for.

The codec's result must not depend on which path ran: the generated encoder writes exactly the
bytes fastavro writes, the generated decoder returns exactly the model arguments the fastavro
path produces, and where the fast path gives up the codec falls back to fastavro, so every
outcome (model, DecodeError reason and detail, EncodeError) is the fastavro path's.
"""

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import codec
from schemas.codec import DecodeError, EncodeError
from schemas.fastpath import _read_long, _read_long_slow, _varint, compile_codec
from schemas.models import (
    MESSAGE_MODELS,
    AttributeAnswer,
    AttributeRequest,
    AttributeValue,
    Enrolment,
    HouseholdMember,
    IncomeDetermined,
    Message,
    Metadata,
    Relationship,
)

from .schema_strategies import any_message, messages
from .test_single_object_codec import _mutate, mutations


def _request(**changes: Any) -> AttributeRequest:
    fields: dict[str, Any] = {
        "metadata": Metadata(
            message_id=uuid.UUID(int=7),
            occurred_at=datetime(2026, 4, 1, 9, 30, 0, 123456, tzinfo=UTC),
            sender="mun-13101",
        ),
        "request_id": uuid.UUID(int=8),
        "person_code": b"\x01" * 32,
        "provider": "mun-27100",
        "purpose": "nhi_premium_assessment",
        "legal_basis_row": "nhi-income-after-relocation",
        "attributes": ["taxable_income"],
        "trigger_event_id": uuid.UUID(int=9),
    }
    fields.update(changes)
    return AttributeRequest(**fields)


# ---- the reference: the fastavro path, as the codec ran it before the fast path ----------


def _reference_encode(message: Message) -> bytes:
    datum = codec.REGISTRY.mappers.to_datum[message.AVRO_NAME](message)
    return codec._write(message.MESSAGE_TYPE, datum, plain=True)


def _reference_arguments(data: bytes) -> dict[str, Any]:
    writer = codec._writer_of(data)
    datum = codec._read(data, writer, plain=True)
    return codec.REGISTRY.mappers.from_datum[MESSAGE_MODELS[writer.message_type].AVRO_NAME](datum)


def _reference_decode(data: bytes) -> Message:
    writer = codec._writer_of(data)
    return codec._to_model(writer.message_type, codec._read(data, writer, plain=True))


def _outcome(decode: Any, data: bytes) -> object:
    try:
        return decode(data)
    except DecodeError as exc:
        return (exc.reason, exc.detail, exc.message_type)


def _fast(message_type: str) -> Any:
    fast = codec.REGISTRY.current[message_type].fast
    assert fast is not None
    return fast


# ---- coverage ------------------------------------------------------------------------------


def test_every_current_message_schema_has_a_generated_codec():
    missing = [name for name, w in codec.REGISTRY.current.items() if w.fast is None]
    assert missing == []


def test_released_versions_are_read_by_fastavro_only():
    codec.REGISTRY._load_history()
    for writer in codec.REGISTRY.by_fingerprint.values():
        assert (writer.fast is None) == (writer.version is not None)


def test_a_construct_the_generator_does_not_handle_means_no_fast_path():
    schema = {
        "type": "record",
        "name": "Odd",
        "namespace": "jp.renkei",
        "fields": [{"name": "m", "type": {"type": "map", "values": "string"}}],
    }
    assert compile_codec(schema, b"\xc3\x01" + bytes(8), codec.REGISTRY.mappers) is None


# ---- encoding: byte for byte what fastavro writes ---------------------------------------


@pytest.mark.parametrize("message_type", sorted(MESSAGE_MODELS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_encoder_writes_exactly_what_fastavro_writes(message_type, data):
    message = data.draw(messages(message_type))
    expected = _reference_encode(message)
    assert _fast(message_type).encode(message) == expected
    assert codec.encode(message) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0,
        -1,
        2**31 - 1,
        -(2**31),
        2**31,
        2**63 - 1,
        -(2**63),
        "text",
        "長い" * 40,
        ["a", "b"],
        [],
        [HouseholdMember(relationship=Relationship.CHILD, birth_year=2011)],
        "CARE_3",
    ],
)
@pytest.mark.parametrize(
    "name", ["taxable_income", "dependants_count", "long_term_care_level", "household_members"]
)
def test_every_attribute_value_branch_is_written_as_fastavro_writes_it(name, value):
    answer = AttributeAnswer(
        metadata=Metadata(message_id=uuid.UUID(int=1), occurred_at=datetime.now(UTC), sender="jps"),
        reply_token=b"t",
        values=[AttributeValue(name=name, value=value)],
    )
    data = _fast("AttributeAnswer").encode(answer)
    assert data == _reference_encode(answer)
    assert _fast("AttributeAnswer").decode(data) == _reference_arguments(data)


@pytest.mark.parametrize(
    # every varint length a datetime can reach (year 9999 is about 2**58 microseconds)
    "micros",
    [0, 1, -1, 63, 64, -65, 2**13, 2**20, 2**27, 2**41, 2**48, 2**55, -(2**55)],
)
def test_varints_of_every_length_match_fastavro(micros):
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)
    message = _request(
        metadata=Metadata(message_id=uuid.UUID(int=7), occurred_at=moment, sender="hub")
    )
    data = _fast("AttributeRequest").encode(message)
    assert data == _reference_encode(message)
    assert _fast("AttributeRequest").decode(data) == _reference_arguments(data)


@given(st.integers(0, 2**64 - 1), st.binary(max_size=3))
def test_varint_reader_and_writer_agree(n, tail):
    encoded = _varint(n)
    value = (n >> 1) ^ -(n & 1)
    assert _read_long_slow(encoded + tail, 0) == (value, len(encoded))
    if len(encoded) > 1:
        assert _read_long(encoded + tail, 0) == (value, len(encoded))


def test_a_model_the_fast_encoder_refuses_is_encoded_or_refused_by_fastavro():
    # model_construct skips validation: whatever it holds, the codec answers as fastavro does.
    as_bool = IncomeDetermined.model_construct(
        metadata=_request().metadata, person_code=b"c", fiscal_year=True
    )
    assert codec.encode(as_bool) == _reference_encode(as_bool)
    wrong = Enrolment.model_construct(
        metadata=_request().metadata, request_id=uuid.uuid4(), individual_number=123456789018
    )
    with pytest.raises(EncodeError, match="individual_number"):
        codec.encode(wrong)
    with pytest.raises(EncodeError) as expected:
        _reference_encode(wrong)
    with pytest.raises(EncodeError) as actual:
        codec.encode(wrong)
    assert str(actual.value) == str(expected.value)


# ---- decoding: the same arguments, the same outcome -------------------------------------


@pytest.mark.parametrize("message_type", sorted(MESSAGE_MODELS))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_decoder_returns_the_arguments_fastavro_gives(message_type, data):
    message = data.draw(messages(message_type))
    encoded = codec.encode(message)
    arguments = _fast(message_type).decode(encoded)
    assert arguments == _reference_arguments(encoded)
    assert codec.decode(encoded) == message


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_message, st.lists(mutations, min_size=1, max_size=4))
def test_mutated_encodings_have_the_same_outcome_on_both_paths(message, ops):
    data = _mutate(codec.encode(message), ops)
    expected = _outcome(_reference_decode, data)
    assert _outcome(codec.decode, data) == expected
    try:
        fast = codec._writer_of(data).fast
    except DecodeError:
        return  # the header is refused before any body is read
    if fast is None:
        return
    try:
        arguments = fast.decode(data)
    except Exception:
        return  # the fast path gave up; the codec's answer was fastavro's (checked above)
    assert arguments == _reference_arguments(data)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(MESSAGE_MODELS)), st.binary(max_size=300))
def test_arbitrary_bodies_have_the_same_outcome_on_both_paths(name, body):
    data = codec.header(name) + body
    assert _outcome(codec.decode, data) == _outcome(_reference_decode, data)


@pytest.mark.parametrize(
    "edit",
    [
        "negative union index",
        "boolean byte 2",
        "non-minimal varint",
        "eleven-byte varint",
        "negative length",
        "negative array block count",
        "timestamp beyond 9999",
    ],
)
def test_non_canonical_and_odd_encodings_decode_as_fastavro_decodes_them(edit):
    message = _request(proxy_code=b"p", attributes=["a", "b"])
    data = bytearray(codec.encode(message))
    attributes = b"\x04\x02a\x02b\x00"
    if edit == "negative union index":  # proxy_code's union: -1 picks the last branch in fastavro
        data[-3] = 0x01
    elif edit == "boolean byte 2":
        suspension = codec.encode_dict(
            "AgencySuspension",
            {
                "metadata": codec.decode_dict(bytes(data))[1]["metadata"],
                "agency": "jps",
                "suspended": True,
                "reason": "r",
            },
        )
        data = bytearray(suspension)
        data[data.index(b"\x06jps") + 4] = 2
    elif edit == "non-minimal varint":  # a count of 2 written as 0x84 0x00
        i = data.index(attributes)
        data[i : i + 1] = b"\x84\x00"
    elif edit == "eleven-byte varint":
        i = data.index(attributes)
        data[i : i + 1] = b"\x84" + b"\x80" * 9 + b"\x00"
    elif edit == "negative length":
        i = data.index(attributes)
        data[i + 1] = 0x01
    elif edit == "negative array block count":  # -2 items, then the block's size in bytes
        i = data.index(attributes)
        data[i : i + 1] = b"\x03\x08"
    elif edit == "timestamp beyond 9999":  # after the header, message_id and correlation_id
        assert data[48:56] == codec.encode(message)[48:56]
        data[48:56] = b"\xfe" * 8 + b"\x7f"
    encoded = bytes(data)
    assert _outcome(codec.decode, encoded) == _outcome(_reference_decode, encoded)


def test_dates_decode_as_fastavro_decodes_them():
    from schemas.models import ApplicationReceived

    received = ApplicationReceived(
        metadata=_request().metadata,
        person_code=b"c",
        procedure="p",
        received_on=date(2026, 4, 1),
    )
    data = codec.encode(received)
    assert data == _reference_encode(received)
    assert _fast("ApplicationReceived").decode(data) == _reference_arguments(data)
    huge = data[:-1] + b"\xfe\xff\xff\xff\x0f"  # a day count no date has
    assert _outcome(codec.decode, huge) == _outcome(_reference_decode, huge)


def test_memoryview_and_bytearray_input_decode_like_bytes():
    data = codec.encode(_request())
    assert codec.decode(memoryview(data)) == codec.decode(bytearray(data)) == _request()
