"""The projector: Kafka -> the read model, exactly once into the database.

It reads the provision records and the portal's inbox (`agency.portal.in`) without a consumer
group (partitions assigned, positions kept by itself), `read_committed`. Each batch of records
becomes one database transaction holding both the rows (`portal.projection`) and, per
partition, the offset after the last record applied (`consumed_offsets`). Either both commit or
neither does; a restart seeks every partition to its stored offset. So a crash at any point
neither loses nor duplicates a row, and the broker's consumer-group offsets play no part.

A batch that fails (the database or the broker went away) is read again from the stored
offsets once `run()` retries, so a failure costs time, never a row. Undecodable records are
counted and skipped (reason only in the log): bad input never stops
the projector, and its offset still advances with the batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Table, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from portal import readmodel
from portal.projection import ChainHead, Insert, RowChange, Update, project, project_record
from producers import Connection
from renkei.logs import get_logger
from schemas.codec import DecodeError, decode
from schemas.models import ProvisionRecord
from schemas.topics import PROVISION_RECORDS, inbound

log = get_logger("portal.projector")

TABLES: dict[str, Table] = {t.name: t for t in readmodel.metadata.sorted_tables}


class Projector:
    """Consumes the portal's topics into the read model; `run()` until `stop()`."""

    def __init__(
        self,
        engine: AsyncEngine,
        connection: Connection,
        *,
        records_topic: str = PROVISION_RECORDS,
        inbox_topic: str = inbound("portal"),
        max_records: int = 2_000,
        verify_keys: Mapping[int, Ed25519PublicKey] | None = None,
    ) -> None:
        """`verify_keys`: the hub's public record keys (`renkei keys public`); without them
        each record's chain position is verified and its signature is not."""
        self.engine = engine
        self.connection = connection
        self.records_topic = records_topic
        self.topics = (records_topic, inbox_topic)
        self.max_records = max_records
        self.verify_keys = dict(verify_keys or {})
        self.applied = 0  # records applied since start (rows or not)
        self.failures = 0  # batches that failed and were read again
        self.retry_seconds = 1.0
        self.undecodable = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._partitions: list[TopicPartition] = []
        self._heads: dict[int, ChainHead] = {}
        self._stopping = asyncio.Event()
        self._done: dict[TopicPartition, int] = {}  # positions fully applied and committed

    # ---- lifecycle -----------------------------------------------------------------------

    async def start(self, *, within: float = 60.0) -> None:
        consumer = AIOKafkaConsumer(
            **self.connection.client_options(),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
        )
        await consumer.start()
        self._consumer = consumer
        self._partitions = await self._wait_for_partitions(consumer, within)
        consumer.assign(self._partitions)
        resumed = await self._resume()
        log.info("projector.started", partitions=len(self._partitions), resumed=resumed)

    async def _resume(self) -> int:
        """Seek every partition to the offset the database holds (the beginning if none) and
        load the chain heads committed with them: the database, not the consumer, says where
        the read model stands. The number of partitions resumed from a stored offset."""
        consumer = self._consumer
        assert consumer is not None
        stored = await self._stored_offsets()
        for tp in self._partitions:
            if tp in stored:
                consumer.seek(tp, stored[tp])
            else:
                await consumer.seek_to_beginning(tp)
        async with self.engine.connect() as db:
            rows = (await db.execute(select(readmodel.chain_heads))).all()
        self._heads = {r.chain_partition: ChainHead(r.sequence, r.record_hash) for r in rows}
        return len(stored)

    async def stop(self) -> None:
        self._stopping.set()
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    async def run(self) -> None:
        """Apply batches until `stop()`; starts itself if needed."""
        if self._consumer is None:
            await self.start()
        while not self._stopping.is_set():
            try:
                await self.step()
            except (SQLAlchemyError, KafkaError, OSError) as exc:
                # The batch's transaction rolled back (or never began) while the consumer had
                # moved past it: go back to what the database holds and try again.
                self.failures += 1
                log.warning("projector.retrying", error=type(exc).__name__)
                await asyncio.sleep(self.retry_seconds)
                if not self._stopping.is_set():
                    await self._resume()

    async def step(self, timeout_ms: int = 500) -> int:
        """Fetch one batch and apply it in one transaction; the number of records applied."""
        consumer = self._consumer
        if consumer is None:
            return 0
        batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=self.max_records)
        # Positions past what was fetched (and past transaction markers), applied once the
        # batch's transaction commits.
        positions = {tp: await consumer.position(tp) for tp in self._partitions}
        count = await self.apply(batches) if batches else 0
        self._done = positions
        return count

    async def caught_up(self, within: float = 60.0) -> None:
        """Wait until every partition is applied up to its end offset as of now."""
        consumer = self._consumer
        assert consumer is not None, "start the projector first"
        ends = await consumer.end_offsets(self._partitions)
        deadline = time.monotonic() + within
        while not all(self._done.get(tp, 0) >= end for tp, end in ends.items()):
            if time.monotonic() > deadline:
                raise TimeoutError("the projector did not catch up in time")
            await asyncio.sleep(0.1)

    # ---- one transaction per batch --------------------------------------------------------

    async def apply(self, batches: dict[TopicPartition, list[Any]]) -> int:
        received_at = datetime.now(UTC)
        heads = dict(self._heads)
        changes: list[RowChange] = []
        offsets: dict[TopicPartition, int] = {}
        count = 0
        for tp, records in batches.items():
            for record in records:
                count += 1
                offsets[tp] = record.offset + 1
                changes.extend(self._changes(tp, record.value or b"", heads, received_at))
        async with self.engine.begin() as db:
            for change in changes:
                await _apply(db, change)
            for partition, head in heads.items():
                if self._heads.get(partition) != head:
                    await _upsert(
                        db,
                        readmodel.chain_heads,
                        {"chain_partition": partition},
                        {"sequence": head.sequence, "record_hash": head.record_hash},
                    )
            for tp, next_offset in offsets.items():
                await _upsert(
                    db,
                    readmodel.consumed_offsets,
                    {"topic": tp.topic, "partition": tp.partition},
                    {"next_offset": next_offset},
                )
        self._heads = heads  # only once the transaction committed
        self.applied += count
        return count

    def _changes(
        self, tp: TopicPartition, value: bytes, heads: dict[int, ChainHead], at: datetime
    ) -> Iterable[RowChange]:
        try:
            message = decode(value)
        except DecodeError as exc:
            self.undecodable += 1
            log.warning("projector.undecodable", topic=tp.topic, reason=exc.reason.value)
            return ()
        if isinstance(message, ProvisionRecord):
            if tp.topic != self.records_topic:
                return ()  # only the hub's record topic is trusted to carry records
            head = heads.get(message.chain_partition, ChainHead())
            row, heads[message.chain_partition] = project_record(
                message, value, head, self.verify_keys
            )
            return (row,)
        return project(message, value, at)

    # ---- helpers ------------------------------------------------------------------------

    async def _stored_offsets(self) -> dict[TopicPartition, int]:
        async with self.engine.connect() as db:
            rows = (await db.execute(select(readmodel.consumed_offsets))).all()
        return {
            TopicPartition(r.topic, r.partition): r.next_offset
            for r in rows
            if r.topic in self.topics
        }

    async def _wait_for_partitions(
        self, consumer: AIOKafkaConsumer, within: float
    ) -> list[TopicPartition]:
        deadline = time.monotonic() + within
        while True:
            found = {t: consumer.partitions_for_topic(t) for t in self.topics}
            if all(found.values()):
                return [TopicPartition(t, p) for t in self.topics for p in sorted(found[t] or ())]
            if time.monotonic() > deadline:
                missing = [t for t, p in found.items() if not p]
                raise TimeoutError(f"topics not found: {', '.join(missing)}")
            with contextlib.suppress(Exception):
                await consumer._client.force_metadata_update()
            await asyncio.sleep(0.5)


def _insert(db: AsyncConnection, table: Table) -> Any:
    dialect = db.dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


async def _apply(db: AsyncConnection, change: RowChange) -> None:
    table = TABLES[change.table]
    if isinstance(change, Insert):
        # A row that is already there (the same event published twice) stays as it is.
        await db.execute(_insert(db, table).values(change.values).on_conflict_do_nothing())
        return
    assert isinstance(change, Update)
    statement = update(table).values(change.values)
    for column, value in change.where.items():
        if isinstance(value, tuple):
            statement = statement.where(table.c[column].in_(value))
        elif value is None:
            statement = statement.where(table.c[column].is_(None))
        else:
            statement = statement.where(table.c[column] == value)
    for column in change.unset:
        statement = statement.where(table.c[column].is_(None))
    await db.execute(statement)


async def _upsert(
    db: AsyncConnection, table: Table, key: dict[str, Any], values: dict[str, Any]
) -> None:
    statement = _insert(db, table).values({**key, **values})
    await db.execute(statement.on_conflict_do_update(index_elements=list(key), set_=values))
