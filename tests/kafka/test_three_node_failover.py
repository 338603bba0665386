"""On a three-node cluster, a node killed with SIGKILL loses no acknowledged record."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from deploy.local.broker import BrokerSecurity, KafkaCluster
from producers.connection import kafka_options

pytestmark = [pytest.mark.kafka, pytest.mark.cluster]

RECORDS = 3000


@pytest.fixture(scope="module")
def three_nodes(broker_security: BrokerSecurity) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(3, security=broker_security)
    cluster.start(timeout=120)
    try:
        yield cluster
    finally:
        cluster.stop()


async def test_killing_one_node_loses_no_acknowledged_record(
    three_nodes: KafkaCluster, topic_name: str
) -> None:
    bootstrap = three_nodes.bootstrap
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic_name, 3, 3, topic_configs={"min.insync.replicas": "2"})]
        )
    finally:
        await admin.close()

    producer = AIOKafkaProducer(
        **kafka_options(bootstrap),
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=10000,
        retry_backoff_ms=200,
    )
    await producer.start()
    acknowledged: set[bytes] = set()
    failed = 0
    try:
        for i in range(RECORDS):
            if i == RECORDS // 3:
                # Kill whichever node leads partition 0 right now: the worst case.
                leader = producer.client.cluster.leader_for_partition(_tp(topic_name, 0))
                victim = next(
                    (k for k, n in enumerate(three_nodes.nodes) if n.node_id == leader), 0
                )
                await asyncio.to_thread(three_nodes.kill, victim)
            value = f"r-{i}".encode()
            try:
                await producer.send_and_wait(topic_name, value, key=value)
                acknowledged.add(value)
            except KafkaError:
                failed += 1  # not acknowledged: the producer told us, so it may be absent
    finally:
        await producer.stop()

    survivors = ",".join(n.bootstrap for n in three_nodes.nodes if n.process is not None)
    consumer = AIOKafkaConsumer(
        topic_name,
        **kafka_options(survivors),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    stored: set[bytes] = set()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60
        while not acknowledged <= stored and loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            stored.update(r.value for recs in batch.values() for r in recs if r.value)
    finally:
        await consumer.stop()

    assert len(acknowledged) >= RECORDS * 0.9, f"only {len(acknowledged)} acknowledged"
    assert acknowledged - stored == set(), f"{len(acknowledged - stored)} acknowledged lost"
    assert failed + len(acknowledged) == RECORDS


def _tp(topic: str, partition: int) -> object:
    from aiokafka.structs import TopicPartition

    return TopicPartition(topic, partition)
