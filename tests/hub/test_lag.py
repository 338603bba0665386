"""`renkei hub lag` on a real broker: records, not offsets, and partitions never committed.
(About 15 s, most of it the module's own broker.)"""

from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer

from hub.lag import measure_lag
from producers.connection import kafka_options
from schemas.topics import outbound

from .harness import onboard

pytestmark = pytest.mark.kafka


async def test_lag_counts_records_not_commit_markers_and_shows_partitions_never_committed(
    isolated_kafka: str,
) -> None:
    agency = "mun-40100"
    await onboard(isolated_kafka, agency)
    producer = AIOKafkaProducer(
        **kafka_options(isolated_kafka), transactional_id="lag-test", acks="all"
    )
    await producer.start()
    try:
        for _ in range(3):  # three transactions of one record: each ends in a commit marker
            async with producer.transaction():
                await producer.send_and_wait(outbound(agency), b"record", partition=0)
    finally:
        await producer.stop()
    rows = {(r.stage, r.topic, r.partition): r for r in await measure_lag(isolated_kafka)}
    waiting = rows[("ingress", outbound(agency), 0)]
    assert waiting.committed is None  # no hub ever ran: never committed
    assert waiting.records == 3  # the offsets run to 6: three records, three markers
    assert rows[("ingress", outbound(agency), 1)].records == 0
