"""Reading topics to their end: the one loop every reader of a whole partition uses (the
router's changelog restore, the control state, `renkei audit`, the benchmarks).

Only committed records are read (`read_committed`), and "the end" is the end when reading
began: records appended meanwhile are left for the next read.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, NodeNotReadyError, RequestTimedOutError
from aiokafka.structs import ConsumerRecord, TopicPartition

from producers.connection import kafka_options

METADATA_ATTEMPTS = 6  # at one dead broker in three, all six picks fail about once in 730 reads


def committed_reader(bootstrap: str, **options: Any) -> AIOKafkaConsumer:
    """A consumer outside any group that sees committed records only and commits nothing."""
    return AIOKafkaConsumer(
        **kafka_options(bootstrap),
        group_id=None,
        enable_auto_commit=False,
        isolation_level="read_committed",
        **options,
    )


async def partitions_of(bootstrap: str, topic: str, **options: Any) -> list[int]:
    """The partition numbers of `topic` as the cluster knows them now (none if it is absent).

    Asks for every topic's metadata: a metadata request that names a missing topic makes a
    broker with auto-creation on create it, with one partition, before the hub can.

    The admin client asks one broker picked at random from the metadata it has; a broker that
    has just died can still be listed there, so an unreachable pick is retried (a new client,
    a new pick) a few times before the error is raised."""
    for attempt in range(1, METADATA_ATTEMPTS + 1):
        admin = AIOKafkaAdminClient(**kafka_options(bootstrap), **options)
        try:
            await admin.start()
            described = await admin.describe_topics()
            break
        except (NodeNotReadyError, KafkaConnectionError, RequestTimedOutError):
            if attempt == METADATA_ATTEMPTS:
                raise
        finally:
            await admin.close()
        await asyncio.sleep(0.5 * attempt)
    for entry in described:
        if entry["topic"] == topic and entry["error_code"] == 0:
            return sorted(p["partition"] for p in entry["partitions"])
    return []


async def to_end(
    consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition], *, max_records: int = 10_000
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Batches of each assigned partition's records from its position to its end, partition
    by partition (offset order within each)."""
    ends = await consumer.end_offsets(list(partitions))
    for tp in partitions:
        while await consumer.position(tp) < ends[tp]:
            batch = await consumer.getmany(tp, timeout_ms=500, max_records=max_records)
            records = batch.get(tp, [])
            if records:
                yield records


_closing: set[asyncio.Task[None]] = set()  # readers stopping in the background


def _stop_in_background(consumer: AIOKafkaConsumer) -> None:
    task = asyncio.create_task(consumer.stop())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


async def read_to_end(
    bootstrap: str,
    topic: str,
    partitions: Sequence[int] | None = None,
    *,
    max_records: int = 10_000,
    stop_in_background: bool = False,
    **options: Any,
) -> AsyncIterator[list[ConsumerRecord[bytes, bytes]]]:
    """Every committed record of `topic` (of `partitions`, else all of them) from the beginning
    to the end, in batches.

    `stop_in_background`: the reader is stopped without waiting for it. Over TLS, aiokafka's
    `stop()` sometimes takes 30 s (measured: 0.5 s usually, exactly 30.0 s in 2 of 12 restores
    of the hub benchmark on the secured broker). A changelog restore that waited for it held
    its partition unready for those 30 s after every restart or rebalance."""
    numbers = await partitions_of(bootstrap, topic, **options) if partitions is None else partitions
    if not numbers:
        return
    tps = [TopicPartition(topic, p) for p in numbers]
    consumer = committed_reader(bootstrap, **options)
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        async for batch in to_end(consumer, tps, max_records=max_records):
            yield batch
    finally:
        if stop_in_background:
            _stop_in_background(consumer)
        else:
            await consumer.stop()
