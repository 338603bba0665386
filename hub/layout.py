"""The partition count the hub's state was built with, recorded once and checked at every start.

A person's state lives in the partition of their key (DOMAIN.md §13), so the hub-internal
topics' partition count is fixed when they are created: adding partitions with
`kafka-topics --alter` would send persons to partitions holding no state for them. The first
replica to start records the count on `renkei.hub.layout` (one partition, compacted); every
later start compares the topics' real partition counts, and the count it was asked for, with
that record and refuses to run on any difference. Changing the count is a migration
(`renkei hub repartition`, hub/repartition.py) that rebuilds the state and records the new count.

`judge` is pure; `read_recorded`, `record` and `guard` are the Kafka shell around it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from hub.topics import LAYOUT, PARTITIONED_HUB_TOPICS
from producers.connection import kafka_options

LAYOUT_KEY = b"hub-partitions"


class LayoutMismatch(RuntimeError):
    """The hub topics' partition count is not the one the hub's state was built with (an
    operator changed it, or asked for another): the hub refuses to start."""


@dataclass(frozen=True)
class Judgement:
    """What a starting replica does: run, run after recording the count, or refuse."""

    record: int | None = None  # a count to record first (the first start on fresh topics)
    refusal: str | None = None


def judge(recorded: int | None, actual: Mapping[str, int], requested: int) -> Judgement:
    """Decide from the recorded count, the topics' real counts and the requested count."""
    counts = set(actual.values())
    built = recorded if recorded is not None else (counts.pop() if len(counts) == 1 else None)
    if built is None:
        listing = ", ".join(f"{t} {n}" for t, n in sorted(actual.items()))
        return Judgement(
            refusal=f"the hub topics disagree on their partition count ({listing}) and no count "
            "was recorded: the state cannot be placed; restore the topics' partition counts"
        )
    changed = sorted(t for t, n in actual.items() if n != built)
    if changed:
        listing = ", ".join(f"{t} has {actual[t]}" for t in changed)
        return Judgement(
            refusal=f"the hub's state was built with {built} partitions but {listing}: "
            "partition counts are fixed (a person's state lives in the partition of their key), "
            "so adding partitions splits persons from their state; grow with "
            "`renkei hub repartition`, never with `kafka-topics --alter`"
        )
    if requested != built:
        return Judgement(
            refusal=f"--partitions {requested} was asked for, but the hub's topics and state "
            f"have {built} partitions; start the hub with --partitions {built}, or grow them "
            "with `renkei hub repartition`"
        )
    return Judgement(record=built if recorded is None else None)


def encode_count(partitions: int) -> bytes:
    return json.dumps({"partitions": partitions}).encode()


def decode_count(value: bytes) -> int:
    count = json.loads(value)["partitions"]
    if not isinstance(count, int) or count < 1:
        raise ValueError(f"{LAYOUT} holds an invalid partition count")
    return count


async def partition_counts(bootstrap: str, topics: tuple[str, ...]) -> dict[str, int]:
    """The real partition count of each existing topic."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return {d["topic"]: len(d["partitions"]) for d in described if d["partitions"]}


async def read_recorded(bootstrap: str) -> int | None:
    """The last partition count recorded on the layout topic; None if none was."""
    tp = TopicPartition(LAYOUT, 0)
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False,
                                isolation_level="read_committed")  # fmt: skip
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        count = None
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            for r in batch.get(tp, []):
                if r.key == LAYOUT_KEY and r.value is not None:
                    count = decode_count(r.value)
        return count
    finally:
        await consumer.stop()


async def record(bootstrap: str, partitions: int) -> None:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(LAYOUT, encode_count(partitions), key=LAYOUT_KEY)
    finally:
        await producer.stop()


async def guard(bootstrap: str, requested: int) -> int:
    """Refuse (LayoutMismatch) or return the partition count the hub runs with; the topics
    must exist (ensure_topics first)."""
    actual = await partition_counts(bootstrap, PARTITIONED_HUB_TOPICS)
    verdict = judge(await read_recorded(bootstrap), actual, requested)
    if verdict.refusal is not None:
        raise LayoutMismatch(verdict.refusal)
    if verdict.record is not None:
        await record(bootstrap, verdict.record)
    return requested
