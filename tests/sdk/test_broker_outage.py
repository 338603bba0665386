"""A broker outage neither loses nor duplicates what the publisher was given: `publish`
waits through the outage and returns once the restarted broker acknowledged the record."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from aiokafka import AIOKafkaConsumer

from deploy.local.broker import BrokerSecurity, KafkaCluster
from producers import Connection, Publisher
from producers.connection import kafka_options
from schemas.codec import decode
from schemas.models import ApplicationReceived, Metadata
from schemas.topics import outbound

from .hub_by_hand import create_topics

pytestmark = [pytest.mark.kafka, pytest.mark.cluster]
AGENCY = "mun-13101"


@pytest.fixture
def own_broker(broker_security: BrokerSecurity) -> Iterator[KafkaCluster]:
    cluster = KafkaCluster(1, security=broker_security)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def application(n: int) -> ApplicationReceived:
    return ApplicationReceived(
        metadata=Metadata(message_id=uuid4(), occurred_at=datetime.now(UTC), sender=AGENCY),
        person_code=f"person-{n}".encode(),
        procedure="child_allowance",
        received_on=date(2026, 6, 1),
    )


async def test_publishing_through_a_broker_restart_loses_and_duplicates_nothing(
    own_broker: KafkaCluster,
) -> None:
    await create_topics(own_broker.bootstrap, outbound(AGENCY))
    sent = [application(n) for n in range(6)]
    async with Publisher(
        AGENCY, Connection.from_environment(own_broker.bootstrap), delivery_timeout=60
    ) as out:
        await out.publish(sent[0])
        await asyncio.to_thread(own_broker.kill, 0)
        during = [asyncio.create_task(out.publish(m)) for m in sent[1:]]
        await asyncio.sleep(2)
        assert not any(task.done() for task in during), "accepted while the broker was down"
        await asyncio.to_thread(own_broker.restart, 0)
        deliveries = await asyncio.wait_for(asyncio.gather(*during), 90)
    assert [d.message_id for d in deliveries] == [m.metadata.message_id for m in sent[1:]]

    reader = AIOKafkaConsumer(
        outbound(AGENCY),
        **kafka_options(own_broker.bootstrap),
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await reader.start()
    try:
        read: list[bytes] = []
        for _ in range(20):  # stop at a quiet read once all of `sent` arrived
            batch = await reader.getmany(timeout_ms=500)
            got = [r.value for records in batch.values() for r in records]
            read += got
            if not got and len(read) >= len(sent):
                break
    finally:
        await reader.stop()
    assert sorted(decode(value).metadata.message_id for value in read) == sorted(
        m.metadata.message_id for m in sent
    )
