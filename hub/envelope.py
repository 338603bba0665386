"""The hub-internal envelope: how ingress hands a message to the router, re-keyed by person.

Not part of the agency contract, so it is a private Avro schema (fastavro, schemaless). The
envelope never carries an individual number: ingress reduces it to its blind index first.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer


class Kind(StrEnum):
    MESSAGE = "MESSAGE"  # an agency's message (payload), keyed by the person it concerns
    ENROL = "ENROL"  # an enrolment, reduced to its blind index, keyed by that index
    HOLDER = "HOLDER"  # from an enrolment: `agency` now holds `person_id` (keyed by person)
    POINT_INDEX = "POINT_INDEX"  # from a number change: the new index names the person
    REVOKE_INDEX = "REVOKE_INDEX"  # from a number change: the old index is revoked


_SCHEMA = parse_schema(
    {
        "type": "record",
        "name": "HubEnvelope",
        "namespace": "jp.renkei.hub",
        "fields": [
            {
                "name": "kind",
                "type": {"type": "enum", "name": "Kind", "symbols": [k.value for k in Kind]},
            },
            {"name": "sender", "type": "string"},
            {"name": "received_at_us", "type": "long"},
            {"name": "source", "type": "string"},
            {"name": "payload", "type": "bytes"},
            {"name": "person_id", "type": ["null", "bytes"], "default": None},
            {"name": "number_index", "type": ["null", "bytes"], "default": None},
            {"name": "request_id", "type": ["null", "string"], "default": None},
            {"name": "message_id", "type": ["null", "string"], "default": None},
            {"name": "correlation_id", "type": ["null", "string"], "default": None},
        ],
    }
)


@dataclass(frozen=True, slots=True)
class Envelope:
    kind: Kind
    sender: str
    received_at_us: int  # when ingress took the message: the router's "now", replay-stable
    source: str  # topic/partition/offset of the original, for operators
    payload: bytes = b""  # the agency's message (single-object encoded), numbers removed
    person_id: bytes | None = None
    number_index: bytes | None = None
    request_id: str | None = None
    message_id: str | None = None
    correlation_id: str | None = None

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        datum: dict[str, Any] = {
            "kind": self.kind.value,
            "sender": self.sender,
            "received_at_us": self.received_at_us,
            "source": self.source,
            "payload": self.payload,
            "person_id": self.person_id,
            "number_index": self.number_index,
            "request_id": self.request_id,
            "message_id": self.message_id,
            "correlation_id": self.correlation_id,
        }
        schemaless_writer(out, _SCHEMA, datum)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        d = schemaless_reader(io.BytesIO(data), _SCHEMA, None)
        assert isinstance(d, dict)
        return cls(
            kind=Kind(d["kind"]),
            sender=d["sender"],
            received_at_us=d["received_at_us"],
            source=d["source"],
            payload=d["payload"],
            person_id=d["person_id"],
            number_index=d["number_index"],
            request_id=d["request_id"],
            message_id=d["message_id"],
            correlation_id=d["correlation_id"],
        )
