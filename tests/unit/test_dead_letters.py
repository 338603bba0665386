"""A dead letter always fits in one produce request, whatever the input carried."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

from aiokafka.structs import ConsumerRecord

from hub.deadletters import (
    HEADER_DIGEST,
    HEADER_KEY,
    HEADER_KEY_DIGEST,
    DeadLetterReason,
    dead_letter_of,
)
from schemas.codec import decode
from schemas.models import DeadLetter

PRODUCER_REQUEST_LIMIT = 1024 * 1024


def test_a_record_with_a_key_near_one_megabyte_gives_a_dead_letter_that_fits() -> None:
    key, value = os.urandom(1_000_000), os.urandom(900_000)
    record = ConsumerRecord(
        "agency.mun-13101.out", 0, 5, 0, 0, key, value, None, len(key), len(value), []
    )
    letter = dead_letter_of(record, DeadLetterReason.OVERSIZE, "too large", datetime.now(UTC))
    size = len(letter.value or b"") + sum(len(k) + len(v) for k, v in letter.headers)
    written = decode(letter.value or b"")
    assert isinstance(written, DeadLetter)  # the contract's Avro record
    assert written.reason == "OVERSIZE"
    assert (written.source_topic, written.source_partition, written.source_offset) == (
        "agency.mun-13101.out",
        0,
        5,
    )
    assert size < PRODUCER_REQUEST_LIMIT * 0.6  # room for the record batch framing
    headers = dict(letter.headers)
    assert key.startswith(headers[HEADER_KEY])
    assert headers[HEADER_KEY_DIGEST] == hashlib.sha256(key).hexdigest().encode()
    assert headers[HEADER_DIGEST] == hashlib.sha256(value).hexdigest().encode()
    assert value.startswith(written.original)
    assert len(written.original) < len(value)
