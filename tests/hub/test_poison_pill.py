"""A poison pill on a real broker: a record that makes the hub's own code fail is dead-lettered
as INTERNAL, once, and every good request around it still ends in one outcome and one record.
(About 40 s: 2,000 requests at 500/s through an in-process hub.)"""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from aiokafka import AIOKafkaProducer

from benchmarks.workload import Workload
from hub.cli import read_dead_letters, verify_chains
from hub.envelope import Envelope, Kind
from hub.topics import PERSONS
from producers.connection import kafka_options

from .harness import advance_rollout, dev_keys, onboard, running_hub

pytestmark = pytest.mark.kafka
REQUESTS = 2_000


async def test_a_poison_pill_among_good_requests_is_one_internal_dead_letter(
    isolated_kafka: str,
) -> None:
    for agency in ("mun-27100", "mun-13101"):
        await onboard(isolated_kafka, agency)
    await advance_rollout(isolated_kafka, 1)
    # Decodable, but its request id is no UUID: the router's own code raises on it (as it
    # would on a record written by a buggy older ingress).
    poison = Envelope(
        Kind.ENROL, "mun-13101", int(time.time() * 1_000_000), "agency.mun-13101.out/0/0",
        number_index=os.urandom(32), request_id="not-a-uuid",
    ).to_bytes()  # fmt: skip
    keys = dev_keys()
    async with running_hub(isolated_kafka, keys, partitions=3):
        workload = Workload(isolated_kafka, persons=40, hub_key=keys.public_sealing_key)
        await workload.start()
        try:
            await workload.enrol_everyone()
            sending = asyncio.create_task(workload.send_requests(REQUESTS, rate=500))
            await asyncio.sleep(1.5)
            producer = AIOKafkaProducer(**kafka_options(isolated_kafka), acks="all")
            await producer.start()
            try:
                await producer.send_and_wait(PERSONS, poison, key=b"poison")
            finally:
                await producer.stop()
            await sending
            await workload.wait_done(timeout=180)
            await asyncio.sleep(1)  # a duplicate would arrive now
        finally:
            await workload.stop()
    summary = workload.summary()
    assert summary["with_one_outcome"] == REQUESTS, summary
    assert summary["with_one_record"] == REQUESTS, summary
    internal = [d for d in await read_dead_letters(isolated_kafka) if d.reason == "INTERNAL"]
    assert len(internal) == 1
    assert internal[0].value == poison
    assert internal[0].source_topic == PERSONS
    assert internal[0].detail == "ValueError in the hub's code"
    assert (await verify_chains(isolated_kafka, keys.record_verify_keys)).intact
