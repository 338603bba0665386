"""The oversight body's read of Kafka: the Kafka shell around `oversight.observations`.

It reads, as the `ppc` principal and with read access only, the provision records, the dead
letters, the control topic and every agency's outbound topic, from the beginning, without a
consumer group (nothing is committed, so nothing is written), and yields one observation per
record that counts. `read_to_end` stops at the ends the topics had when it started (statistics);
`follow` goes on for as long as it runs, picking up agencies onboarded meanwhile (anomaly
signals).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from hub.topics import owner_of
from oversight.observations import Observation, observe
from oversight.statistics import Filter, Statistics
from producers import Connection
from schemas.topics import CONTROL, DEAD_LETTERS, PROVISION_RECORDS

OVERSIGHT_PRINCIPAL = "ppc"
READ_TOPICS = frozenset({PROVISION_RECORDS, DEAD_LETTERS, CONTROL})
REFRESH_TOPICS_S = 10.0  # how soon a newly onboarded agency's topic is read


def is_read(topic: str) -> bool:
    return topic in READ_TOPICS or owner_of(topic) is not None


@dataclass(frozen=True, slots=True)
class Seen:
    """An observation with where it came from (for progress and tests)."""

    topic: str
    observation: Observation


class Feed:
    """One consumer over everything the oversight body reads."""

    def __init__(self, connection: Connection, since_ms: int = 0) -> None:
        self.since_ms = since_ms  # records older than this (Kafka timestamp) are passed over
        self.done: dict[TopicPartition, int] = {}  # positions whose records were all handled
        self.consumer = AIOKafkaConsumer(
            **connection.client_options(),
            enable_auto_commit=False,
            isolation_level="read_committed",
            group_id=None,
        )
        self.admin = AIOKafkaAdminClient(**connection.client_options())
        self.records = 0

    async def __aenter__(self) -> Feed:
        await self.admin.start()
        try:
            await self.consumer.start()
        except BaseException:
            await self.admin.close()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        try:
            await self.consumer.stop()
        finally:
            await self.admin.close()

    async def _assign_new(self) -> None:
        """Assign every readable partition, keeping the positions of those already read."""
        wanted = {
            TopicPartition(topic["topic"], partition["partition"])
            for topic in await self.admin.describe_topics()
            if is_read(topic["topic"])
            for partition in topic["partitions"]
        }
        current = self.consumer.assignment()
        if wanted <= current:
            return
        positions = {tp: await self.consumer.position(tp) for tp in current}
        self.consumer.assign(sorted(wanted | current))
        for tp, position in positions.items():
            self.consumer.seek(tp, position)
        await self.consumer.seek_to_beginning(*(wanted - current))

    async def _batch(self) -> list[Seen]:
        batch = await self.consumer.getmany(timeout_ms=200, max_records=5_000)
        seen = []
        for tp, records in batch.items():
            for record in records:
                self.records += 1
                if record.timestamp < self.since_ms:
                    continue
                observation = observe(
                    tp.topic, record.value, record.headers or (), record.timestamp
                )
                if observation is not None:
                    seen.append(Seen(tp.topic, observation))
        return seen

    async def read_to_end(self) -> AsyncIterator[Seen]:
        """Everything committed when the read began, once."""
        await self._assign_new()
        assigned = list(self.consumer.assignment())
        if not assigned:
            return
        ends = await self.consumer.end_offsets(assigned)
        remaining = {tp for tp in assigned if ends[tp] > 0}
        while remaining:
            for seen in await self._batch():
                yield seen
            for tp in list(remaining):
                if await self.consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)

    async def follow(self, stop: asyncio.Event) -> AsyncIterator[list[Seen]]:
        """Batches of observations from the beginning, until `stop` is set."""
        refreshed = 0.0
        while not stop.is_set():
            if time.monotonic() - refreshed > REFRESH_TOPICS_S:
                await self._assign_new()
                refreshed = time.monotonic()
            assigned = self.consumer.assignment()
            if not assigned:
                await asyncio.sleep(0.2)
                continue
            yield await self._batch()
            # back here once the caller has handled the whole batch
            for tp in assigned:
                self.done[tp] = await self.consumer.position(tp)

    async def settled(self, within: float = 60.0) -> None:
        """Return once every record committed before this call has been handled."""
        assigned = list(self.consumer.assignment())
        ends = await self.consumer.end_offsets(assigned)
        deadline = time.monotonic() + within
        while any(self.done.get(tp, 0) < end for tp, end in ends.items() if end > 0):
            if time.monotonic() > deadline:
                raise TimeoutError("the oversight feed did not catch up in time")
            await asyncio.sleep(0.1)


def connection(bootstrap: str | None = None) -> Connection:
    """The `ppc` principal's connection: credentials from RENKEI_KAFKA_* (configuration)."""
    return replace(Connection.from_environment(bootstrap), client_id=OVERSIGHT_PRINCIPAL)


async def read_statistics(connection: Connection, only: Filter | None = None) -> Statistics:
    """Statistics of everything committed to the topics the oversight body reads."""
    statistics = Statistics(only or Filter())
    async with Feed(connection) as feed:
        async for seen in feed.read_to_end():
            statistics.add(seen.observation)
    return statistics
