"""The hub-internal envelope: how ingress hands a message to the router, re-keyed by person.

Not part of the agency contract, and written and read twice per message on the hub's hot path,
so it is a plain length-prefixed binary layout (struct), not Avro: fastavro took about 6 µs per
envelope each way, this about 1 µs. Only the hub reads it; a version change of the layout is a
hub-internal migration. The envelope never carries an individual number: ingress reduces it to
its blind index first.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    MESSAGE = "MESSAGE"  # an agency's message (payload), keyed by the person it concerns
    ENROL = "ENROL"  # an enrolment, reduced to its blind index, keyed by that index
    HOLDER = "HOLDER"  # from an enrolment: `agency` now holds `person_id` (keyed by person)
    CLAIM_INDEX = "CLAIM_INDEX"  # a number change, first to its new index's partition
    REVOKE_INDEX = "REVOKE_INDEX"  # from a number change: the old index is revoked


_KINDS = tuple(Kind)
_KIND_INDEX = {k: i for i, k in enumerate(_KINDS)}
_HEAD = struct.Struct(">Bq")  # kind, received_at_us
_LEN = struct.Struct(">i")  # field length; -1 for None
_NONE = _LEN.pack(-1)


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
        parts = [_HEAD.pack(_KIND_INDEX[self.kind], self.received_at_us)]
        for value in (
            self.sender.encode(),
            self.source.encode(),
            self.payload,
            self.person_id,
            self.number_index,
            None if self.request_id is None else self.request_id.encode(),
            None if self.message_id is None else self.message_id.encode(),
            None if self.correlation_id is None else self.correlation_id.encode(),
        ):
            if value is None:
                parts.append(_NONE)
            else:
                parts.append(_LEN.pack(len(value)))
                parts.append(value)
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes) -> Envelope:
        """The envelope in `data`; ValueError if it is not one."""
        try:
            return cls._parse(data)
        except (struct.error, IndexError) as exc:
            raise ValueError("not a hub envelope") from exc

    @classmethod
    def _parse(cls, data: bytes) -> Envelope:
        kind, received = _HEAD.unpack_from(data, 0)
        at = _HEAD.size
        fields: list[bytes | None] = []
        for _ in range(8):
            (size,) = _LEN.unpack_from(data, at)
            at += _LEN.size
            if size < 0:
                fields.append(None)
                continue
            if at + size > len(data):
                raise ValueError("truncated hub envelope")
            fields.append(bytes(data[at : at + size]))
            at += size
        if at != len(data):
            raise ValueError("trailing bytes after a hub envelope")
        sender, source, payload, person, index, request, message, correlation = fields
        if sender is None or source is None or payload is None:
            raise ValueError("hub envelope without sender, source or payload")

        def text(b: bytes | None) -> str | None:
            return None if b is None else b.decode()

        return cls(
            kind=_KINDS[kind],
            sender=sender.decode(),
            received_at_us=received,
            source=source.decode(),
            payload=payload,
            person_id=person,
            number_index=index,
            request_id=text(request),
            message_id=text(message),
            correlation_id=text(correlation),
        )
