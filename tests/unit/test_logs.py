"""No individual number, code or attribute value can leave through a log line."""

from __future__ import annotations

import io
import json
import logging

import structlog

from renkei import logs


def _capture() -> io.StringIO:
    out = io.StringIO()
    logs.configure(json=True, stream=out)
    return out


def test_a_log_call_carrying_a_number_comes_out_redacted() -> None:
    out = _capture()
    log = logs.get_logger("test")
    log.info("enrolment for 123456789018 received", agency="mun-13101", detail="n=123456789018")
    line = json.loads(out.getvalue().strip().splitlines()[-1])
    assert "123456789018" not in out.getvalue()
    assert line["event"] == f"enrolment for {logs.REDACTED} received"
    assert line["detail"] == f"n={logs.REDACTED}"
    assert line["agency"] == "mun-13101"  # agency ids are not personal


def test_fields_declared_personal_are_dropped_whatever_their_value() -> None:
    out = _capture()
    logs.declare_personal("household")
    log = logs.get_logger("test")
    log.info(
        "answer",
        values={"taxable_income": 4_200_000},
        person_code=b"\x01\x02",
        household="spouse and two children",
        reply_token="abc",
        count=3,
    )
    text = out.getvalue()
    line = json.loads(text.strip().splitlines()[-1])
    for field in ("values", "person_code", "household", "reply_token"):
        assert line[field] == logs.REDACTED
    assert line["count"] == 3
    assert "4200000" not in text
    assert "spouse" not in text


def test_nested_values_and_raw_bytes_are_scrubbed() -> None:
    out = _capture()
    logs.get_logger("test").warning(
        "batch", items=[{"number": "x"}, "id 987654321098 here"], blob=b"secret-code"
    )
    text = out.getvalue()
    assert "987654321098" not in text
    assert "secret-code" not in text


def test_standard_library_loggers_are_redacted_too() -> None:
    out = _capture()
    logging.getLogger("aiokafka.test").warning("offset for 123456789018 lost")
    assert "123456789018" not in out.getvalue()
    assert logs.REDACTED in out.getvalue()


def test_correlation_ids_travel_in_context() -> None:
    out = _capture()
    logs.bind_correlation(request_id="r-1")
    try:
        structlog.get_logger().info("routed")
    finally:
        logs.clear_correlation()
    assert json.loads(out.getvalue().strip())["request_id"] == "r-1"
