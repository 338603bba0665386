"""Proof that the broker under the tests is real Kafka: transactions, groups, fencing."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import ProducerFenced

from producers.connection import kafka_options

pytestmark = pytest.mark.kafka


async def create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def read_all(
    bootstrap: str, topic: str, *, isolation: str, expect_at_least: int = 0, idle: float = 2.0
) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_options(bootstrap),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation,
        group_id=None,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        quiet_since = loop.time()
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            got = [r.value for recs in batch.values() for r in recs if r.value is not None]
            values.extend(got)
            if got:
                quiet_since = loop.time()
            elif len(values) >= expect_at_least and loop.time() - quiet_since > idle:
                break
    finally:
        await consumer.stop()
    return values


async def test_read_committed_consumer_sees_only_the_committed_transaction(
    kafka_bootstrap: str, topic_name: str
) -> None:
    await create_topic(kafka_bootstrap, topic_name)
    producer = AIOKafkaProducer(
        **kafka_options(kafka_bootstrap), transactional_id=f"tx-{uuid.uuid4()}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            for i in range(5):
                await producer.send(topic_name, f"committed-{i}".encode())
        await producer.begin_transaction()
        for i in range(5):
            await producer.send(topic_name, f"aborted-{i}".encode())
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic_name, b"after-abort")
    finally:
        await producer.stop()

    committed = await read_all(
        kafka_bootstrap, topic_name, isolation="read_committed", expect_at_least=6
    )
    assert committed == [f"committed-{i}".encode() for i in range(5)] + [b"after-abort"]
    # The aborted records are really in the log: a read_uncommitted reader sees them.
    everything = await read_all(
        kafka_bootstrap, topic_name, isolation="read_uncommitted", expect_at_least=11
    )
    assert sum(v.startswith(b"aborted-") for v in everything) == 5


async def test_a_new_group_member_resumes_exactly_after_the_committed_offsets(
    kafka_bootstrap: str, topic_name: str
) -> None:
    await create_topic(kafka_bootstrap, topic_name)
    producer = AIOKafkaProducer(**kafka_options(kafka_bootstrap), acks="all")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic_name, str(i).encode())
    finally:
        await producer.stop()

    group = f"g-{uuid.uuid4()}"

    def member() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic_name,
            **kafka_options(kafka_bootstrap),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )

    first = member()
    await first.start()
    seen: list[bytes] = []
    try:
        while len(seen) < 4:
            msg = await asyncio.wait_for(first.getone(), timeout=30)
            assert msg.value is not None
            seen.append(msg.value)
            if len(seen) == 4:
                await first.commit()
    finally:
        await first.stop()
    assert seen == [b"0", b"1", b"2", b"3"]

    second = member()
    await second.start()
    try:
        msg = await asyncio.wait_for(second.getone(), timeout=30)
    finally:
        await second.stop()
    assert msg.value == b"4"


async def test_a_second_producer_with_the_same_transactional_id_fences_the_first(
    kafka_bootstrap: str, topic_name: str
) -> None:
    await create_topic(kafka_bootstrap, topic_name)
    txid = f"tx-{uuid.uuid4()}"
    first = AIOKafkaProducer(**kafka_options(kafka_bootstrap), transactional_id=txid)
    second = AIOKafkaProducer(**kafka_options(kafka_bootstrap), transactional_id=txid)
    await first.start()
    try:
        await first.begin_transaction()
        await first.send_and_wait(topic_name, b"zombie")
        await second.start()  # init_transactions bumps the epoch and aborts the open one
        async with second.transaction():
            await second.send(topic_name, b"successor")
        with pytest.raises(ProducerFenced):
            await first.commit_transaction()
    finally:
        await second.stop()
        await first.stop()

    visible = await read_all(
        kafka_bootstrap, topic_name, isolation="read_committed", expect_at_least=1
    )
    assert visible == [b"successor"]
