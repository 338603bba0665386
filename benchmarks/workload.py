"""A request workload against a running hub, on raw aiokafka (not the agency SDK).

Used by the crash and rebalance tests and by the hub benchmark: a requester municipality that
enrols persons, publishes their relocations and sends AttributeRequests; a provider
municipality that answers every AttributeQuery; and collectors that count, per request id,
every outcome and every provision record actually committed to Kafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from hub.readers import committed_reader, partitions_of
from producers.connection import kafka_options
from schemas import individual_number
from schemas.codec import decode, encode
from schemas.models import (
    AttributeAnswer,
    AttributeQuery,
    AttributeRequest,
    AttributeResponse,
    AttributeValue,
    Enrolment,
    EnrolmentConfirmed,
    Metadata,
    ProvisionRecord,
    Relocation,
    RequestDenied,
)
from schemas.sealed_number import HubSealingKey, enrolment_context, seal_number
from schemas.topics import PROVISION_RECORDS, inbound, outbound

REQUESTER, PROVIDER = "mun-27100", "mun-13101"
INCOME_BASE = 987_650_000  # distinctive attribute values, so a log scan can look for them


def _meta(sender: str, correlation: uuid.UUID | None = None) -> Metadata:
    return Metadata(
        message_id=uuid.uuid4(),
        correlation_id=correlation,
        occurred_at=datetime.now(UTC),
        sender=sender,
    )


async def _assigned_consumer(
    bootstrap: str, topic: str, from_end: bool = False
) -> AIOKafkaConsumer:
    parts = await partitions_of(bootstrap, topic)
    while not parts:
        await asyncio.sleep(0.2)
        parts = await partitions_of(bootstrap, topic)
    consumer = committed_reader(bootstrap, max_partition_fetch_bytes=4 * 1024 * 1024)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in parts]
    consumer.assign(tps)
    if from_end:
        await consumer.seek_to_end(*tps)
    else:
        await consumer.seek_to_beginning(*tps)
    return consumer


@dataclass
class Observed:
    """What came back, counted per request id (so duplicates show)."""

    outcomes: Counter[uuid.UUID] = field(default_factory=Counter)
    denials: Counter[str] = field(default_factory=Counter)
    records: Counter[uuid.UUID] = field(default_factory=Counter)
    queries: Counter[uuid.UUID] = field(default_factory=Counter)  # by request message id
    latencies: list[float] = field(default_factory=list)  # request sent -> outcome received
    outcome_times: list[float] = field(default_factory=list)  # when each of those arrived
    query_latencies: list[float] = field(default_factory=list)  # request sent -> query received
    query_timestamps: list[int] = field(default_factory=list)  # the hub's produce time, ms
    enrolled: dict[uuid.UUID, bytes] = field(default_factory=dict)


@dataclass
class Workload:
    bootstrap: str
    persons: int = 100
    requester: str = REQUESTER
    provider: str = PROVIDER
    numbers: list[str] = field(default_factory=list)
    codes: list[bytes] = field(default_factory=list)  # the requester's codes
    triggers: list[uuid.UUID] = field(default_factory=list)
    sent_at: dict[uuid.UUID, float] = field(default_factory=dict)
    sent_by_message: dict[uuid.UUID, float] = field(default_factory=dict)
    answering: bool = True  # False: count queries but leave them unanswered
    request_ids: list[uuid.UUID] = field(default_factory=list)
    observed: Observed = field(default_factory=Observed)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _producer: AIOKafkaProducer | None = None
    _from_end: bool = False
    hub_key: HubSealingKey | None = None  # numbers are sealed to it (the hub's public key)

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            **kafka_options(self.bootstrap), acks="all", linger_ms=5, enable_idempotence=True
        )
        await self._producer.start()
        self.start_collectors()

    def start_collectors(self, from_end: bool = False) -> None:
        """Follow the requester's and provider's inboxes and the provision records (from the
        beginning, or only what arrives from now on)."""
        self._from_end = from_end
        self._tasks = [
            asyncio.create_task(self._collect_requester()),
            asyncio.create_task(self._answer_queries()),
            asyncio.create_task(self._collect_records()),
        ]

    async def stop_collectors(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def stop(self) -> None:
        await self.stop_collectors()
        if self._producer is not None:
            await self._producer.stop()

    @property
    def producer(self) -> AIOKafkaProducer:
        assert self._producer is not None
        return self._producer

    async def enrol_everyone(self, timeout: float = 120) -> None:
        """Enrol each person at both municipalities and publish their relocation."""
        rng = __import__("random").Random(7)
        self.numbers = [individual_number.generate(rng) for _ in range(self.persons)]
        ids: dict[str, list[uuid.UUID]] = {self.requester: [], self.provider: []}
        for agency in (self.requester, self.provider):
            for number in self.numbers:
                rid = uuid.uuid4()
                ids[agency].append(rid)
                assert self.hub_key is not None, "a workload that enrols needs the hub's key"
                sealed = seal_number(number, self.hub_key, enrolment_context(agency, rid))
                message = Enrolment(metadata=_meta(agency), request_id=rid, sealed_number=sealed)
                await self.producer.send(outbound(agency), encode(message))
        await self.producer.flush()
        await self._wait(lambda: all(r in self.observed.enrolled for r in ids[self.requester]),
                         timeout)  # fmt: skip
        self.codes = [self.observed.enrolled[r] for r in ids[self.requester]]
        for code in self.codes:
            relocation = Relocation(
                metadata=_meta(self.requester),
                person_code=code,
                from_municipality=self.provider,
                to_municipality=self.requester,
                moved_on="2026-04-01",
            )
            self.triggers.append(relocation.metadata.message_id)
            # Keyed by the person's code, as the SDK does: one agency partition per person keeps
            # the event before the requests that cite it.
            await self.producer.send(outbound(self.requester), encode(relocation), key=code)
        await self.producer.flush()

    def request(self, i: int) -> AttributeRequest:
        person = i % self.persons
        return AttributeRequest(
            metadata=_meta(self.requester),
            request_id=uuid.uuid4(),
            person_code=self.codes[person],
            provider=self.provider,
            purpose="resident_tax_assessment",
            legal_basis_row="tx-01",
            attributes=["taxable_income", "dependants_count"],
            trigger_event_id=self.triggers[person],
        )

    def request_template(self) -> AttributeRequest:
        """A typical request (a code-shaped placeholder person), e.g. for a passthrough."""
        return AttributeRequest(
            metadata=_meta(self.requester),
            request_id=uuid.uuid4(),
            person_code=bytes(range(33)),
            provider=self.provider,
            purpose="resident_tax_assessment",
            legal_basis_row="tx-01",
            attributes=["taxable_income", "dependants_count"],
            trigger_event_id=uuid.uuid4(),
        )

    async def send_requests(
        self, count: int, rate: float | None = None, *, prepared: bool = False
    ) -> None:
        """Send `count` requests, paced at `rate` per second (None: as fast as possible).
        `prepared`: build and encode them all first, so the pacing loop only sends (a
        benchmark's sender shares the machine's cores with what it measures)."""
        built = map(self.request, range(count))
        messages = [(r, encode(r)) for r in built] if prepared else ((r, encode(r)) for r in built)
        began = time.monotonic()
        pending = []
        for i, (request, data) in enumerate(messages):
            self.request_ids.append(request.request_id)
            self.sent_at[request.request_id] = self.sent_by_message[request.metadata.message_id] = (
                time.monotonic()
            )
            pending.append(
                await self.producer.send(outbound(self.requester), data, key=request.person_code)
            )
            if rate is not None:
                due = began + (i + 1) / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            if len(pending) >= 1000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)

    def done(self) -> bool:
        o = self.observed
        return all(o.outcomes[r] >= 1 and o.records[r] >= 1 for r in self.request_ids)

    async def wait_done(self, timeout: float) -> None:
        await self._wait(self.done, timeout)

    @staticmethod
    async def _wait(predicate: object, timeout: float) -> None:
        assert callable(predicate)
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the workload did not complete in time")
            await asyncio.sleep(0.1)

    async def _collect_requester(self) -> None:
        consumer = await _assigned_consumer(self.bootstrap, inbound(self.requester), self._from_end)
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                now = time.monotonic()
                for records in batch.values():
                    for r in records:
                        message = decode(r.value or b"")
                        if isinstance(message, EnrolmentConfirmed):
                            self.observed.enrolled[message.request_id] = message.person_code
                        elif isinstance(message, AttributeResponse | RequestDenied):
                            rid = message.request_id
                            self.observed.outcomes[rid] += 1
                            if isinstance(message, RequestDenied) and rid in self.sent_at:
                                self.observed.denials[message.reason.value] += 1
                            sent = self.sent_at.get(rid)
                            if sent is not None and self.observed.outcomes[rid] == 1:
                                self.observed.latencies.append(now - sent)
                                self.observed.outcome_times.append(now)
        finally:
            await consumer.stop()

    async def _answer_queries(self) -> None:
        consumer = await _assigned_consumer(self.bootstrap, inbound(self.provider), self._from_end)
        producer = AIOKafkaProducer(**kafka_options(self.bootstrap), acks="all", linger_ms=5)
        await producer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                pending = []
                now = time.monotonic()
                for records in batch.values():
                    for r in records:
                        message = decode(r.value or b"")
                        if not isinstance(message, AttributeQuery):
                            continue
                        correlation = message.metadata.correlation_id
                        assert correlation is not None
                        self.observed.queries[correlation] += 1
                        self.observed.query_timestamps.append(r.timestamp)
                        sent = self.sent_by_message.get(correlation)
                        if sent is not None:
                            self.observed.query_latencies.append(now - sent)
                        if not self.answering:
                            continue
                        income = INCOME_BASE + len(self.observed.queries)
                        answer = AttributeAnswer(
                            metadata=_meta(self.provider, message.metadata.message_id),
                            reply_token=message.reply_token,
                            values=[
                                AttributeValue(name="taxable_income", value=income),
                                AttributeValue(name="dependants_count", value=2),
                            ],
                        )
                        pending.append(await producer.send(outbound(self.provider), encode(answer)))
                if pending:
                    await asyncio.gather(*pending)
        finally:
            await producer.stop()
            await consumer.stop()

    async def _collect_records(self) -> None:
        consumer = await _assigned_consumer(self.bootstrap, PROVISION_RECORDS, self._from_end)
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100, max_records=5000)
                for records in batch.values():
                    for r in records:
                        record = decode(r.value or b"")
                        assert isinstance(record, ProvisionRecord)
                        self.observed.records[record.request_id] += 1
        finally:
            await consumer.stop()

    def summary(self) -> dict[str, object]:
        o = self.observed
        per_request = [o.outcomes[r] for r in self.request_ids]
        per_record = [o.records[r] for r in self.request_ids]
        by_message_id: defaultdict[int, int] = defaultdict(int)
        for count in o.queries.values():
            by_message_id[count] += 1
        return {
            "requests": len(self.request_ids),
            "with_one_outcome": sum(1 for c in per_request if c == 1),
            "without_outcome": sum(1 for c in per_request if c == 0),
            "with_duplicate_outcomes": sum(1 for c in per_request if c > 1),
            "with_one_record": sum(1 for c in per_record if c == 1),
            "without_record": sum(1 for c in per_record if c == 0),
            "with_duplicate_records": sum(1 for c in per_record if c > 1),
            "queries_delivered_more_than_once": sum(n for k, n in by_message_id.items() if k > 1),
            "denials": dict(o.denials),
        }
