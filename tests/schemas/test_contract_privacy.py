"""No number, code or attribute value ever reaches an exception message."""

import traceback
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import codec
from schemas.models import (
    AttributeAnswer,
    AttributeRequest,
    AttributeValue,
    Enrolment,
    Metadata,
    NumberChanged,
)

BAD_NUMBER = "987654321098"  # check digit of 98765432109 is not 8
SECRET_CODE = b"SECRET-LINK-CODE"


def _metadata(sender: str = "mun-13101") -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender=sender)


def _all_text(exc: BaseException) -> str:
    """The exception's messages, its causes' included (not the source lines of a traceback)."""
    parts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        parts += [*traceback.format_exception_only(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "".join(parts)


def test_invalid_number_is_not_echoed_by_model_validation():
    with pytest.raises(ValidationError) as caught:
        Enrolment(metadata=_metadata(), request_id=uuid.uuid4(), individual_number=BAD_NUMBER)
    text = _all_text(caught.value)
    assert "check digit" in text
    assert BAD_NUMBER not in text
    with pytest.raises(ValidationError) as caught:
        NumberChanged(metadata=_metadata(), person_code=SECRET_CODE, new_number=BAD_NUMBER)
    assert BAD_NUMBER not in _all_text(caught.value)


def test_invalid_number_on_the_wire_is_a_decode_error_without_the_number():
    datum = {
        "metadata": {
            "message_id": uuid.uuid4(),
            "correlation_id": None,
            "occurred_at": datetime.now(UTC),
            "sender": "mun-13101",
            "trace_parent": None,
        },
        "request_id": uuid.uuid4(),
        "individual_number": BAD_NUMBER,  # as a version-1 sender would, in clear
        "sealed_number": None,
    }
    data = codec.encode_dict("Enrolment", datum)
    with pytest.raises(codec.DecodeError) as caught:
        codec.decode(data)
    assert caught.value.reason is codec.DecodeReason.INVALID_CONTENT
    assert "individual_number" in str(caught.value)
    assert BAD_NUMBER not in _all_text(caught.value)


def test_invalid_agency_id_and_codes_are_not_echoed():
    with pytest.raises(ValidationError) as caught:
        AttributeRequest(
            metadata={
                "message_id": uuid.uuid4(),
                "occurred_at": datetime.now(UTC),
                "sender": "mun-1310X",
            },
            request_id=uuid.uuid4(),
            person_code=SECRET_CODE,
            provider="not-an-agency",
            purpose="p",
            legal_basis_row="r",
            attributes=[],
            trigger_event_id=uuid.uuid4(),
        )
    text = _all_text(caught.value)
    for secret in ("mun-1310X", "not-an-agency", "SECRET"):
        assert secret not in text
    assert "attributes" in text  # the empty list is refused


def test_encode_errors_name_fields_not_values():
    datum = {
        "metadata": {
            "message_id": uuid.uuid4(),
            "correlation_id": None,
            "occurred_at": datetime.now(UTC),
            "sender": "mun-13101",
            "trace_parent": None,
        },
        "request_id": uuid.uuid4(),
        "individual_number": 123456789018,  # wrong type: a number, not a string
    }
    with pytest.raises(codec.EncodeError) as caught:
        codec.encode_dict("Enrolment", datum)
    assert "individual_number" in str(caught.value)
    assert "123456789018" not in _all_text(caught.value)


def test_attribute_values_do_not_leak_through_decode_errors():
    value = AttributeValue(name="clinical_summary", value="DIAGNOSIS-XYZ")
    data = codec.encode(
        AttributeAnswer(metadata=_metadata("med-0001"), reply_token=b"t", values=[value])
    )
    texts = []
    for cut in range(len(data) - 1, 10, -1):
        with pytest.raises(codec.DecodeError) as caught:
            codec.decode(data[:cut])
        texts.append(_all_text(caught.value))
    assert texts
    assert not [text for text in texts if "DIAGNOSIS" in text]


def test_a_request_cannot_make_its_provision_record_unbounded() -> None:
    def request(attributes: list[str]) -> AttributeRequest:
        return AttributeRequest(
            metadata=_metadata(), request_id=uuid.uuid4(), person_code=SECRET_CODE,
            provider="mun-27100", purpose="resident_tax_assessment", legal_basis_row="tx-01",
            attributes=attributes, trigger_event_id=uuid.uuid4(),
        )  # fmt: skip

    assert request(["taxable_income"] * 32).attributes
    for too_much in (["taxable_income"] * 33, ["x" * 65]):
        with pytest.raises(ValidationError):
            request(too_much)
