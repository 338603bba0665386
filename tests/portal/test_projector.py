"""The projector on a real broker, into SQLite and into PostgreSQL: every record once, and a
restart (or a failed transaction) resumes exactly where the database says it stopped."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.audit import ChainHead, RecordSigner, seal
from portal import readmodel
from portal.projector import Projector
from producers import Connection
from producers.connection import kafka_options
from schemas.codec import encode
from schemas.models import Metadata, Notice, Outcome, ProvisionRecord
from schemas.vocabulary import DenialReason, Sector
from tests.portal.world import wait_until

pytestmark = pytest.mark.kafka

SUBJECT = b"portal-code-of-a-person"

SIGNER = RecordSigner(1, Ed25519PrivateKey.generate())


def _record(i: int) -> ProvisionRecord:
    denied = i % 3 == 0
    return ProvisionRecord(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="hub"),
        record_id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        requester="mun-13101",
        provider="mun-27100",
        purpose="resident_tax_assessment",
        sector=Sector.TAX,
        legal_basis_row="tx-01",
        table_version="2026.1",
        attributes=["taxable_income"],
        trigger_event_id=uuid.uuid4(),
        subject_code=SUBJECT,
        outcome=Outcome.DENIED if denied else Outcome.PROVIDED,
        reason=DenialReason.NO_TRIGGER_EVENT if denied else None,
        chain_partition=0,
        chain_sequence=0,
        previous_hash=b"",
        record_hash=b"",
    )


class Topics:
    def __init__(self, bootstrap: str, base: str) -> None:
        self.bootstrap = bootstrap
        self.records = f"{base}-records"
        self.inbox = f"{base}-inbox"
        self.head = ChainHead()

    async def create(self) -> None:
        admin = AIOKafkaAdminClient(**kafka_options(self.bootstrap))
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.records, 1, 1), NewTopic(self.inbox, 2, 1)])
        finally:
            await admin.close()

    async def publish_records(self, count: int, start: int = 0) -> None:
        producer = AIOKafkaProducer(**kafka_options(self.bootstrap), acks="all")
        await producer.start()
        try:
            for i in range(start, start + count):
                value, self.head = seal(_record(i), 0, self.head, SIGNER)
                await producer.send_and_wait(self.records, value, partition=0)
        finally:
            await producer.stop()

    async def publish_notice(self, partition: int) -> uuid.UUID:
        notice = Notice(
            metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="jps"),
            notice_id=uuid.uuid4(),
            person_code=SUBJECT,
            category="pension_statement",
            title="ねんきん定期便",
            body="ready",
        )
        producer = AIOKafkaProducer(**kafka_options(self.bootstrap), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(self.inbox, encode(notice), partition=partition)
            await producer.send_and_wait(self.inbox, b"not an avro message", partition=partition)
        finally:
            await producer.stop()
        return notice.notice_id

    def projector(self, engine: AsyncEngine, max_records: int = 2_000) -> Projector:
        return Projector(
            engine,
            Connection.from_environment(self.bootstrap),
            records_topic=self.records,
            inbox_topic=self.inbox,
            max_records=max_records,
        )


async def _count(engine: AsyncEngine, table: readmodel.Table) -> int:
    async with engine.connect() as db:
        return int((await db.execute(select(func.count()).select_from(table))).scalar_one())


@pytest.fixture
async def topics(kafka_bootstrap: str, topic_name: str) -> Topics:
    made = Topics(kafka_bootstrap, topic_name)
    await made.create()
    return made


async def test_every_provision_record_and_notice_lands_once_with_its_chain_position_verified(
    topics: Topics, engine: AsyncEngine
) -> None:
    await topics.publish_records(12)
    notice_id = await topics.publish_notice(partition=1)
    projector = topics.projector(engine)
    await projector.start()
    try:
        while projector.applied < 14:
            await projector.step()
    finally:
        await projector.stop()
    async with engine.connect() as db:
        rows = (await db.execute(select(readmodel.provision_records))).all()
        notice = (await db.execute(select(readmodel.notices))).one()
    assert len(rows) == 12
    assert all(r.chain_verified for r in rows)
    assert sorted(r.chain_sequence for r in rows) == list(range(1, 13))
    assert sum(r.outcome == "DENIED" for r in rows) == 4
    assert notice.notice_id == str(notice_id)
    assert notice.opened_at is None
    assert projector.undecodable == 1  # counted and skipped, the projector went on


async def test_a_restarted_projector_resumes_from_the_offsets_stored_with_the_rows(
    topics: Topics, engine: AsyncEngine
) -> None:
    await topics.publish_records(10)
    first = topics.projector(engine, max_records=4)
    await first.start()
    while first.applied < 4:
        await first.step()
    await first.stop()  # as if the process ended here: 4 records and their offsets committed
    assert await _count(engine, readmodel.provision_records) == 4

    await topics.publish_records(5, start=10)
    second = topics.projector(engine)
    await second.start()
    try:
        while await _count(engine, readmodel.provision_records) < 15:
            await second.step()
        await second.caught_up()
    finally:
        await second.stop()
    assert second.applied == 11  # the 6 left over and the 5 new: nothing read twice
    async with engine.connect() as db:
        rows = (await db.execute(select(readmodel.provision_records))).all()
    assert len(rows) == 15
    assert all(r.chain_verified for r in rows)  # a record applied twice would break the chain


async def test_a_batch_whose_transaction_fails_leaves_neither_rows_nor_offsets(
    topics: Topics, engine: AsyncEngine
) -> None:
    await topics.publish_records(6)
    inserts = 0

    def fail_on_the_fourth_record(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        nonlocal inserts
        if "INSERT INTO provision_records" in statement:
            inserts += 1
            if inserts == 4:
                raise RuntimeError("the database went away mid-batch")

    event.listen(engine.sync_engine, "before_cursor_execute", fail_on_the_fourth_record)
    crashing = topics.projector(engine)
    await crashing.start()

    async def run_until_it_fails() -> None:
        while True:
            await crashing.step()

    try:
        with pytest.raises(RuntimeError, match="went away"):
            await run_until_it_fails()
    finally:
        await crashing.stop()
        event.remove(engine.sync_engine, "before_cursor_execute", fail_on_the_fourth_record)
    assert await _count(engine, readmodel.provision_records) == 0
    assert await _count(engine, readmodel.consumed_offsets) == 0

    again = topics.projector(engine)
    await again.start()
    try:
        while again.applied < 6:
            await again.step()
    finally:
        await again.stop()
    assert await _count(engine, readmodel.provision_records) == 6


async def test_a_running_projector_retries_a_failed_batch_from_the_stored_offsets(
    topics: Topics, engine: AsyncEngine
) -> None:
    await topics.publish_records(8)
    failed = False

    def fail_once(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        nonlocal failed
        if "INSERT INTO provision_records" in statement and not failed:
            failed = True
            raise OperationalError(statement, None, RuntimeError("connection reset"))

    event.listen(engine.sync_engine, "before_cursor_execute", fail_once)
    projector = topics.projector(engine)
    projector.retry_seconds = 0.1
    running = asyncio.create_task(projector.run())
    try:
        await wait_until(lambda: projector.applied >= 8, "the projector to apply every record")
    finally:
        await projector.stop()
        await running
        event.remove(engine.sync_engine, "before_cursor_execute", fail_once)
    assert projector.failures == 1
    async with engine.connect() as db:
        rows = (await db.execute(select(readmodel.provision_records))).all()
    assert len(rows) == 8
    assert all(r.chain_verified for r in rows)
