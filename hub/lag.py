"""How far behind each stage is: committed records not yet processed, per input partition.

Counted as records, by reading them (a transaction's commit marker takes an offset but is no
record, so `end - committed` overstates the lag of a transactional topic), and including the
partitions a stage has never committed (it would start from their beginning). A principal that
may describe the topics but not read them (`operator`) gets `end - committed` instead, marked
as an upper bound.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError, TopicAuthorizationFailedError
from aiokafka.structs import TopicPartition

from hub.readers import committed_reader, to_end
from hub.service import INGRESS_GROUP, ROUTER_GROUP
from hub.topics import OUT_PATTERN, PERSONS
from producers.connection import kafka_options


@dataclass(frozen=True, slots=True)
class PartitionLag:
    stage: str
    topic: str
    partition: int
    committed: int | None  # None: the stage never committed an offset here
    records: int  # committed records after the committed offset
    exact: bool = True  # False: offsets, not records (an upper bound; no right to read them)


async def _committed_offsets(
    admin: AIOKafkaAdminClient, group: str, within_s: float = 30.0
) -> dict[TopicPartition, int]:
    """The group's committed offsets. On a cluster where no group ever committed, the broker
    first creates its offsets topic: wait for it rather than report every partition behind."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            offsets = await admin.list_consumer_group_offsets(group)
        except GroupCoordinatorNotAvailableError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
            continue
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def measure_lag(bootstrap: str) -> list[PartitionLag]:
    """Every input partition of the ingress and router stages, with its lag in records."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics()
        partitions = {
            t["topic"]: sorted(p["partition"] for p in t["partitions"])
            for t in described
            if t["error_code"] == 0
        }
        inputs = {
            "ingress": (
                INGRESS_GROUP,
                sorted(t for t in partitions if re.fullmatch(OUT_PATTERN, t)),
            ),
            "router": (ROUTER_GROUP, [PERSONS] if PERSONS in partitions else []),
        }
        committed = {
            stage: await _committed_offsets(admin, group) for stage, (group, _) in inputs.items()
        }
    finally:
        await admin.close()
    rows: list[PartitionLag] = []
    consumer = committed_reader(bootstrap)
    await consumer.start()
    try:
        for stage, (_, topics) in inputs.items():
            tps = [TopicPartition(t, p) for t in topics for p in partitions[t]]
            if not tps:
                continue
            consumer.assign(tps)
            exact = True
            try:
                counts = await _records_after(consumer, tps, committed[stage])
            except TopicAuthorizationFailedError:  # may describe, not read: offsets
                exact = False
                counts = await _offsets_after(consumer, tps, committed[stage])
            rows.extend(
                PartitionLag(
                    stage, tp.topic, tp.partition, committed[stage].get(tp), counts[tp], exact
                )
                for tp in tps
            )
    finally:
        await consumer.stop()
    return rows


async def _records_after(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], committed: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Committed records after each partition's committed offset (or its beginning), read."""
    counts = dict.fromkeys(tps, 0)
    for tp in tps:
        offset = committed.get(tp)
        if offset is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, offset)
    async for batch in to_end(consumer, tps):
        counts[TopicPartition(batch[0].topic, batch[0].partition)] += len(batch)
    return counts


async def _offsets_after(
    consumer: AIOKafkaConsumer, tps: list[TopicPartition], committed: dict[TopicPartition, int]
) -> dict[TopicPartition, int]:
    """Offsets after each partition's committed offset (or its beginning) up to its end:
    records plus commit markers, so never less than the records."""
    ends = await consumer.end_offsets(tps)
    starts = await consumer.beginning_offsets(tps)
    return {tp: ends[tp] - committed.get(tp, starts[tp]) for tp in tps}
