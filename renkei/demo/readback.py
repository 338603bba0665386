"""What actually happened, read back from Kafka: the demo's report counts nothing else.

Requests are read from the agencies' `agency.<id>.out` topics, their outcomes and the queries
the providers received from `agency.<id>.in`, the provision records from
`renkei.provision-records`, the operator's rollout changes (which date the phases) from
`renkei.control`, and the dead letters. Only records written since `since_ms` count, so a run
against a broker that has seen earlier runs reports on itself alone. Times are Kafka record
timestamps (milliseconds), so a latency is "request written" to "outcome written".
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hub.audit import ChainReport
from hub.cli import read_topic, verify_chains
from schemas.codec import DecodeError, decode
from schemas.models import (
    AttributeQuery,
    AttributeRequest,
    AttributeResponse,
    Enrolment,
    EnrolmentConfirmed,
    Notice,
    NoticeAcknowledged,
    ProvisionRecord,
    RequestDenied,
    RolloutChange,
    RolloutOperation,
)
from schemas.topics import CONTROL, DEAD_LETTERS, PROVISION_RECORDS, inbound, outbound

DEMO_OPERATOR = "op-demo"  # the sender of the demo's rollout changes; they date the phases


@dataclass(frozen=True, slots=True)
class SentRequest:
    request_id: UUID
    message_id: UUID
    requester: str
    kind: str  # "attribute" or "enrolment"
    at_ms: int


@dataclass(frozen=True, slots=True)
class Outcome:
    outcome: str  # PROVIDED, CONFIRMED or the denial reason
    at_ms: int


@dataclass(frozen=True, slots=True)
class Record:
    outcome: str  # PROVIDED or the denial reason
    sector: str | None
    requester: str
    provider: str | None


@dataclass
class Observed:
    requests: dict[UUID, SentRequest] = field(default_factory=dict)
    outcomes: dict[UUID, list[Outcome]] = field(default_factory=dict)
    records: dict[UUID, list[Record]] = field(default_factory=dict)
    queries: Counter[UUID] = field(default_factory=Counter)  # by the request's message id
    phase_starts_ms: list[int] = field(default_factory=list)
    notices_sent: int = 0
    notices_delivered: int = 0
    acknowledgements_sent: int = 0
    acknowledgements_delivered: int = 0
    dead_letters: int = 0
    chain: ChainReport = field(default_factory=ChainReport)

    def phase_of(self, at_ms: int) -> int:
        """The rollout phase in force when a record was written (0 before the first advance)."""
        return sum(1 for start in self.phase_starts_ms if start <= at_ms)


async def read_back(
    bootstrap: str,
    agencies: Iterable[str],
    verify_keys: Mapping[int, Ed25519PublicKey],
    since_ms: int = 0,
) -> Observed:
    """Read every topic the report counts, concurrently, each to its current end."""
    seen = Observed()
    agencies = list(agencies)

    def decoded(value: bytes | None, record: Any) -> Any:
        if record.timestamp < since_ms:
            return None
        try:
            return decode(value or b"")
        except DecodeError:
            return None  # the hub dead-letters such input; counted there

    def out(_p: int, _o: int, value: bytes | None, record: Any) -> None:
        match decoded(value, record):
            case AttributeRequest() as m:
                seen.requests[m.request_id] = SentRequest(
                    m.request_id, m.metadata.message_id, m.metadata.sender, "attribute",
                    record.timestamp,
                )  # fmt: skip
            case Enrolment() as m:
                seen.requests[m.request_id] = SentRequest(
                    m.request_id, m.metadata.message_id, m.metadata.sender, "enrolment",
                    record.timestamp,
                )  # fmt: skip
            case Notice():
                seen.notices_sent += 1
            case NoticeAcknowledged():
                seen.acknowledgements_sent += 1

    def into(_p: int, _o: int, value: bytes | None, record: Any) -> None:
        message = decoded(value, record)
        match message:
            case AttributeResponse() | EnrolmentConfirmed():
                outcome = "PROVIDED" if isinstance(message, AttributeResponse) else "CONFIRMED"
                seen.outcomes.setdefault(message.request_id, []).append(
                    Outcome(outcome, record.timestamp)
                )
            case RequestDenied():
                seen.outcomes.setdefault(message.request_id, []).append(
                    Outcome(message.reason.value, record.timestamp)
                )
            case AttributeQuery():
                if message.metadata.correlation_id is not None:
                    seen.queries[message.metadata.correlation_id] += 1
            case Notice():
                seen.notices_delivered += 1
            case NoticeAcknowledged():
                seen.acknowledgements_delivered += 1

    def records(_p: int, _o: int, value: bytes | None, record: Any) -> None:
        message = decoded(value, record)
        if isinstance(message, ProvisionRecord):
            outcome = "PROVIDED" if message.reason is None else message.reason.value
            sector = None if message.sector is None else message.sector.value
            seen.records.setdefault(message.request_id, []).append(
                Record(outcome, sector, message.requester, message.provider)
            )

    def control(_p: int, _o: int, value: bytes | None, record: Any) -> None:
        message = decoded(value, record)
        if (
            isinstance(message, RolloutChange)
            and message.metadata.sender == DEMO_OPERATOR
            and message.operation is RolloutOperation.ADVANCE
        ):
            seen.phase_starts_ms.append(record.timestamp)

    def dead_letter(_p: int, _o: int, _value: bytes | None, record: Any) -> None:
        if record.timestamp >= since_ms:
            seen.dead_letters += 1

    async def chains() -> None:
        seen.chain = await verify_chains(bootstrap, verify_keys)

    await asyncio.gather(
        *(read_topic(bootstrap, outbound(a), out) for a in agencies),
        *(read_topic(bootstrap, inbound(a), into) for a in agencies),
        read_topic(bootstrap, PROVISION_RECORDS, records),
        read_topic(bootstrap, CONTROL, control),
        read_topic(bootstrap, DEAD_LETTERS, dead_letter),
        chains(),
    )
    seen.phase_starts_ms.sort()
    return seen
