import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas import codec
from schemas.codec import DecodeError, DecodeReason, EncodeError
from schemas.models import (
    MESSAGE_MODELS,
    AttributeAnswer,
    AttributeRequest,
    AttributeValue,
    HealthInsuranceStatus,
    HouseholdMember,
    LongTermCareLevel,
    Message,
    Metadata,
    ProvisionRecord,
    Relationship,
)
from schemas.registry import HISTORY_DIR, crc64_avro, fingerprint, load_schema_set

from .schema_strategies import any_message, messages


def _request() -> AttributeRequest:
    return AttributeRequest(
        metadata=Metadata(
            message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="mun-13101"
        ),
        request_id=uuid.uuid4(),
        person_code=b"\x01" * 32,
        provider="mun-27100",
        purpose="nhi_premium_assessment",
        legal_basis_row="nhi-income-after-relocation",
        attributes=["taxable_income"],
        trigger_event_id=uuid.uuid4(),
    )


# ---- the single-object format -------------------------------------------------------------


def test_crc64_avro_matches_the_specification_vector():
    # From the Avro specification's test data: fingerprint of "null" is 7195948357588979594.
    assert crc64_avro(b'"null"') == 7195948357588979594


def test_header_is_marker_then_little_endian_fingerprint_of_canonical_form():
    data = codec.encode(_request())
    expanded = load_schema_set().expanded("AttributeRequest")
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == fingerprint(expanded)
    from fastavro.schema import fingerprint as fastavro_fp
    from fastavro.schema import to_parsing_canonical_form

    assert data[2:10].hex() == fastavro_fp(to_parsing_canonical_form(expanded), "CRC-64-AVRO")


def test_message_type_reads_only_the_header():
    data = codec.encode(_request())
    assert codec.message_type(data[:10]) == "AttributeRequest"


def test_every_message_type_has_its_own_fingerprint():
    headers = {codec.header(name) for name in MESSAGE_MODELS}
    assert len(headers) == len(MESSAGE_MODELS)


# ---- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("message_type", sorted(MESSAGE_MODELS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_message_type_round_trips(message_type, data):
    message = data.draw(messages(message_type))
    encoded = codec.encode(message)
    assert codec.decode(encoded) == message
    assert codec.decode_as(encoded, type(message)) == message
    name, datum = codec.decode_dict(encoded)
    assert name == message_type
    assert codec.decode(codec.encode_dict(name, datum)) == message


def test_attribute_values_travel_in_the_catalogue_type():
    answer = AttributeAnswer(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="jps"),
        reply_token=b"token",
        values=[
            AttributeValue(name="taxable_income", value=3_000_000),
            AttributeValue(name="dependants_count", value=2),
            AttributeValue(name="long_term_care_level", value="CARE_2"),
            AttributeValue(name="health_insurance_status", value=HealthInsuranceStatus.NONE),
            AttributeValue(
                name="household_members",
                value=[HouseholdMember(relationship=Relationship.HEAD, birth_year=1970)],
            ),
            AttributeValue(name="medication_list", value=["aspirin"]),
            AttributeValue(name="employment_insurance_insured", value=False),
        ],
    )
    _, datum = codec.decode_dict(codec.encode(answer))
    branches = [
        v["value"][0] if isinstance(v["value"], tuple) else v["value"] for v in datum["values"]
    ]
    assert branches[2:6] == [
        "jp.renkei.attributes.LongTermCareLevel",
        "jp.renkei.attributes.HealthInsuranceStatus",
        "jp.renkei.attributes.HouseholdMemberList",
        "jp.renkei.attributes.StringList",
    ]
    body = codec.encode(answer)[10:]
    # int for dependants_count (union index 2) and long for taxable_income (index 3)
    decoded = codec.decode(codec.encode(answer))
    assert isinstance(decoded, AttributeAnswer)
    assert decoded.values[2].value is LongTermCareLevel.CARE_2
    assert decoded.values[3].value is HealthInsuranceStatus.NONE
    assert decoded.values[6].value is False
    assert body  # the encoding is not empty


def test_int_and_long_attributes_use_their_own_union_branch():
    def branch_index(name: str, value: int) -> int:
        answer = AttributeAnswer(
            metadata=Metadata(
                message_id=uuid.UUID(int=1),
                occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
                sender="jps",
            ),
            reply_token=b"",
            values=[AttributeValue(name=name, value=value)],
        )
        body = codec.encode(answer)
        # the tail is: name string, union index (zigzag varint), value, not_held block count
        tail = body[body.index(name.encode()) + len(name) :]
        return tail[0] // 2

    assert branch_index("dependants_count", 3) == 2  # int
    assert branch_index("taxable_income", 3) == 3  # long


# ---- strict writing -------------------------------------------------------------------------


def _datum() -> dict:
    _, datum = codec.decode_dict(codec.encode(_request()))
    return datum


def test_unknown_field_is_an_error_not_silently_dropped():
    datum = _datum()
    datum["surprise"] = 1
    with pytest.raises(EncodeError, match="surprise"):
        codec.encode_dict("AttributeRequest", datum)


def test_missing_field_is_an_error_even_with_a_default():
    datum = _datum()
    del datum["proxy_code"]
    with pytest.raises(EncodeError, match="proxy_code"):
        codec.encode_dict("AttributeRequest", datum)


def test_unknown_message_type_is_an_encode_error():
    with pytest.raises(EncodeError):
        codec.encode_dict("NoSuchMessage", {})


# ---- decoding failures are one typed error --------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", DecodeReason.TRUNCATED),
        (b"\xc3", DecodeReason.TRUNCATED),
        (b"\xc3\x01\x00\x00", DecodeReason.TRUNCATED),
        (b"\x00\x01" + b"\x00" * 20, DecodeReason.NOT_SINGLE_OBJECT),
        (b'{"json": true}', DecodeReason.NOT_SINGLE_OBJECT),
        (b"\xc3\x01" + b"\xff" * 8 + b"\x00", DecodeReason.UNKNOWN_FINGERPRINT),
    ],
)
def test_header_failures_have_their_reason(data, reason):
    with pytest.raises(DecodeError) as caught:
        codec.decode(data)
    assert caught.value.reason is reason


def test_truncated_body_and_trailing_bytes():
    data = codec.encode(_request())
    with pytest.raises(DecodeError) as caught:
        codec.decode(data[:-3])
    assert caught.value.reason is DecodeReason.TRUNCATED
    with pytest.raises(DecodeError) as caught:
        codec.decode(data + b"\x00")
    assert caught.value.reason is DecodeReason.BODY_MISMATCH


def test_decode_as_refuses_another_type():
    data = codec.encode(_request())
    with pytest.raises(DecodeError) as caught:
        codec.decode_as(data, ProvisionRecord)
    assert caught.value.reason is DecodeReason.UNEXPECTED_TYPE


def _decodes_or_raises_typed(data: bytes) -> None:
    """decode returns a message or raises DecodeError; any other exception fails the test."""
    outcome: object
    try:
        outcome = codec.decode(data)
    except DecodeError as exc:
        outcome = exc.reason
    assert isinstance(outcome, (Message, DecodeReason))


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_decode_error(data):
    _decodes_or_raises_typed(data)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(sorted(MESSAGE_MODELS)), st.binary(max_size=200))
def test_known_header_with_arbitrary_body_decodes_or_raises_decode_error(name, body):
    _decodes_or_raises_typed(codec.header(name) + body)


mutations = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10_000), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10_000), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10_000), st.just(0)),
)


def _mutate(data: bytes, ops: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, position, value in ops:
        i = position % (len(buf) + 1)
        if op == "flip" and i < len(buf):
            buf[i] ^= value
        elif op == "cut":
            del buf[i:]
        elif op == "insert":
            buf.insert(i, value)
        elif op == "delete" and i < len(buf):
            del buf[i]
    return bytes(buf)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_message, st.lists(mutations, min_size=1, max_size=4))
def test_mutated_encodings_decode_or_raise_decode_error(message, ops):
    _decodes_or_raises_typed(_mutate(codec.encode(message), ops))


# ---- older writers resolve to the current reader ------------------------------------------


def test_data_written_by_a_released_older_version_decodes_to_the_current_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    history = tmp_path / "history"
    shutil.copytree(HISTORY_DIR, history)
    older = load_schema_set().expanded("AttributeRequest")
    older["fields"] = [f for f in older["fields"] if f["name"] != "proxy_code"]
    (history / "AttributeRequest" / "v0.avsc").write_text(json.dumps(older))
    monkeypatch.setattr(codec, "REGISTRY", codec.Registry(history_dir=history))

    import io

    from fastavro import parse_schema, schemaless_writer

    current = codec.decode_dict(codec.encode(_request()))[1]
    del current["proxy_code"]
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(older, named_schemas={}), current, strict=True)
    data = b"\xc3\x01" + fingerprint(older) + body.getvalue()

    assert codec.message_type(data) == "AttributeRequest"
    decoded = codec.decode(data)
    assert isinstance(decoded, AttributeRequest)
    assert decoded.proxy_code is None
    assert decoded.request_id == current["request_id"]
