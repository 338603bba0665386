"""`renkei hub repartition`: grow the hub's partition count by rebuilding its state.

A person's state lives in the partition of their key, so more partitions means moving every
piece of state to the partition its key maps to under the new count (DOMAIN.md §13). This is an
offline migration, run with every hub replica stopped:

1. refuse unless the count grows, no replica is in the hub's consumer groups, and the router has
   processed everything on `renkei.hub.persons` (its input would otherwise be lost);
2. copy the state changelog, as it is, to `renkei.hub.state.<old count>-partitions` (a backup,
   and the source if the command is run again after a failure);
3. delete and recreate `renkei.hub.persons` and `renkei.hub.state` with the new count, and add
   partitions to `renkei.provision-records` (its records and hash chains stay where they are;
   the new partitions start chains of their own);
4. write every piece of state to its new partition (`place`), point the router's group at the
   start of the new input, and record the new count, which the hub's start-up guard checks.

`place` is pure and knows the changelog's key tags (hub/partition_state.py): per-person and
per-number state moves with its key; a partition's own chain head and delivery sequences stay
at its partition number; used reply tokens and decided request ids are copied to every
partition, so a replayed answer or request is still recognised wherever it now arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from aiokafka.partitioner import murmur2
from aiokafka.structs import OffsetAndMetadata, TopicPartition

from hub.layout import partition_counts, read_recorded, record
from hub.service import INGRESS_GROUP, ROUTER_GROUP
from hub.topics import (
    PARTITIONED_HUB_TOPICS,
    PERSONS,
    PROVISION_RECORDS,
    STATE,
    TopicLayout,
    ensure_topics,
)
from producers.connection import kafka_options

# Where each kind of router state (hub/partition_state.py, one tag byte per table) goes.
MOVED_WITH_KEY = (b"p", b"n", b"r")  # persons, blind indexes, revoked numbers
KEPT_IN_PLACE = (b"h", b"s")  # provision-record chain head, delivery sequence numbers
COPIED_EVERYWHERE = (b"t", b"d")  # used reply tokens, decided request ids and their replies
DROPPED = (b"b",)  # an agency's rate-budget share in one partition

StateRecord = tuple[int, bytes, bytes]  # (partition, key, value): latest value per key


class RepartitionRefused(RuntimeError):
    """The migration cannot run now (the operator's call to fix: stop replicas, wait, …)."""


@dataclass(frozen=True)
class Outcome:
    old: int
    new: int
    state_records: int
    moved: int  # persons whose state moved to another partition
    backup: str


def partition_of(key: bytes, partitions: int) -> int:
    """Where the producers' default partitioner (murmur2, as Java's) puts `key`."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


def place(records: Iterable[StateRecord], new: int) -> list[StateRecord]:
    """Every state record at its partition under the new count (see the module doc)."""
    placed: list[StateRecord] = []
    for partition, key, value in records:
        tag, rest = key[:1], key[1:]
        if tag in MOVED_WITH_KEY:  # a person by person_id; a number by its blind index
            placed.append((partition_of(rest, new), key, value))
        elif tag in KEPT_IN_PLACE:  # this partition's chain head and delivery sequences
            placed.append((partition, key, value))
        elif tag in COPIED_EVERYWHERE:  # used tokens, decided requests: wherever they recur
            placed.extend((p, key, value) for p in range(new))
        elif tag in DROPPED:  # a share of a rate budget under the old count: shares start anew
            continue
        else:
            raise RepartitionRefused(
                f"the state changelog holds a key tagged {tag!r} that this command does not know "
                "how to place; nothing was changed"
            )
    return placed


def backup_topic(old: int) -> str:
    return f"{STATE}.{old}-partitions"


async def _read_all(
    bootstrap: str, topic: str, partitions: int, keep: Callable[[int, bytes, bytes | None], None]
) -> None:
    """Every committed record of `topic`, partition by partition, in offset order."""
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), enable_auto_commit=False,
                                isolation_level="read_committed")  # fmt: skip
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5_000)
                for r in batch.get(tp, []):
                    if r.key is not None:
                        keep(tp.partition, r.key, r.value)
    finally:
        await consumer.stop()


async def read_state(bootstrap: str, topic: str, partitions: int) -> list[StateRecord]:
    """The latest value of every key of a changelog (tombstoned keys left out)."""
    latest: dict[tuple[int, bytes], bytes | None] = {}

    def keep(partition: int, key: bytes, value: bytes | None) -> None:
        latest[(partition, key)] = value

    await _read_all(bootstrap, topic, partitions, keep)
    return [(p, k, v) for (p, k), v in latest.items() if v is not None]


async def _unprocessed(bootstrap: str, partitions: int) -> int:
    """Records on the router's input that the router has not committed as processed."""
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), group_id=ROUTER_GROUP,
                                enable_auto_commit=False, isolation_level="read_committed",
                                auto_offset_reset="earliest")  # fmt: skip
    await consumer.start()
    try:
        tps = [TopicPartition(PERSONS, p) for p in range(partitions)]
        consumer.assign(tps)  # no subscription: reads committed offsets without joining
        ends = await consumer.end_offsets(tps)
        pending = 0
        for tp in tps:
            # Positions start at the committed offsets; a transaction marker is no record.
            while await consumer.position(tp) < ends[tp]:
                batch = await consumer.getmany(tp, timeout_ms=1000, max_records=5_000)
                pending += len(batch.get(tp, []))
        return pending
    finally:
        await consumer.stop()


async def _check_idle(bootstrap: str) -> None:
    """Refuse while a hub replica is in either group. A commit from outside any generation (a
    "simple" commit) is accepted by the group coordinator only while a group has no members;
    re-committing the router's own offset (or, for ingress, an offset on the router's input,
    which ingress never reads and which goes with the topic) changes nothing else."""
    tp = TopicPartition(PERSONS, 0)
    for group in (INGRESS_GROUP, ROUTER_GROUP):
        consumer = AIOKafkaConsumer(**kafka_options(bootstrap), group_id=group,
                                    enable_auto_commit=False)  # fmt: skip
        await consumer.start()
        try:
            consumer.assign([tp])
            offset = await consumer.committed(tp) or 0
            await consumer.commit({tp: OffsetAndMetadata(offset, "")})
        except (CommitFailedError, UnknownMemberIdError, IllegalGenerationError,
                RebalanceInProgressError) as exc:  # fmt: skip
            raise RepartitionRefused(
                f"consumer group {group} has members: stop every hub replica first"
            ) from exc
        finally:
            await consumer.stop()


async def _write(bootstrap: str, topic: str, records: Iterable[StateRecord]) -> None:
    producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all", linger_ms=20)
    await producer.start()
    try:
        sent = [
            await producer.send(topic, value, key=key, partition=partition)
            for partition, key, value in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _recreate(admin: AIOKafkaAdminClient, topics: list[NewTopic]) -> None:
    """Delete and create again with the new layout (deletion completes asynchronously)."""
    names = [t.name for t in topics]
    existing = set(await admin.list_topics())
    if gone := [n for n in names if n in existing]:
        await admin.delete_topics(gone)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        response = await admin.create_topics(topics)
        pending = [t for t in topics if any(e[0] == t.name and e[1] != 0
                                            for e in response.topic_errors)]  # fmt: skip
        if not pending:
            return
        if loop.time() > deadline:
            raise RepartitionRefused(f"could not create {[t.name for t in pending]} again")
        topics = pending
        await asyncio.sleep(0.5)


async def repartition(bootstrap: str, new: int, replication: int) -> Outcome:
    """Grow the hub's partition count to `new` (see the module doc for the steps)."""
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        actual = await partition_counts(bootstrap, PARTITIONED_HUB_TOPICS)
        old = await read_recorded(bootstrap)
        if old is None:
            raise RepartitionRefused("no partition count is recorded: start the hub once first")
        backup = backup_topic(old)
        resuming = backup in set(await admin.list_topics())
        if new <= old and not resuming:
            raise RepartitionRefused(
                f"the hub has {old} partitions; a repartition only grows it (asked: {new})"
            )
        await _check_idle(bootstrap)
        if not resuming and PERSONS in actual:
            pending = await _unprocessed(bootstrap, actual[PERSONS])
            if pending:
                raise RepartitionRefused(
                    f"the router has {pending} records on {PERSONS} not yet processed: run the "
                    f"hub with {old} partitions until `renkei hub lag` shows none, then stop it"
                )
        if not resuming:
            records = await read_state(bootstrap, STATE, old)
            await ensure_topics(
                bootstrap,
                [NewTopic(backup, old, replication, topic_configs={"cleanup.policy": "compact"})],
            )
            await _write(bootstrap, backup, records)
        records = await read_state(bootstrap, backup, old)

        layout = TopicLayout(hub_partitions=new, replication=replication)
        await _recreate(admin, [t for t in layout.hub_topics() if t.name in (PERSONS, STATE)])
        if actual.get(PROVISION_RECORDS, new) < new:
            with contextlib.suppress(KafkaError):  # already grown by an earlier attempt
                await admin.create_partitions({PROVISION_RECORDS: NewPartitions(new)})
        placed = place(records, new)
        await _write(bootstrap, STATE, placed)
        await _start_router_at_the_beginning(bootstrap, new)
        await record(bootstrap, new)
    finally:
        await admin.close()
    moved = sum(1 for p, k, _v in records if k[:1] == b"p" and partition_of(k[1:], new) != p)
    return Outcome(old, new, len(records), moved, backup)


async def _start_router_at_the_beginning(bootstrap: str, partitions: int) -> None:
    consumer = AIOKafkaConsumer(**kafka_options(bootstrap), group_id=ROUTER_GROUP,
                                enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    try:
        tps = [TopicPartition(PERSONS, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in tps})
    finally:
        await consumer.stop()
