"""Test agencies on raw aiokafka and a hub running in the test's event loop.

Deliberately not the agency SDK: the hub's tests must not depend on the code they would be
used to check. Everything goes through the real broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from hub.core import Keyring, parse_key_set
from hub.core.keyring import DEFAULT_TOKEN_TTL_SECONDS
from hub.core.keys import generate_key_set
from hub.core.state import RatePolicy
from hub.onboarding import change_rollout, onboard_agency
from hub.readers import partitions_of
from hub.service import Hub, HubConfig
from hub.topics import TopicLayout
from producers.connection import kafka_options
from schemas import individual_number
from schemas.codec import decode, encode
from schemas.models import (
    Enrolment,
    EnrolmentConfirmed,
    Message,
    Metadata,
    NumberChanged,
    RolloutOperation,
)
from schemas.sealed_number import (
    HubSealingKey,
    enrolment_context,
    number_change_context,
    seal_number,
)
from schemas.topics import SEQUENCE_HEADER, inbound, outbound

M = TypeVar("M", bound=Message)


def dev_keys() -> Keyring:
    return Keyring.from_key_set(parse_key_set(generate_key_set(os.urandom)))


def meta(sender: str, at: datetime | None = None, correlation: uuid.UUID | None = None) -> Metadata:
    return Metadata(
        message_id=uuid.uuid4(),
        correlation_id=correlation,
        occurred_at=at or datetime.now(UTC),
        sender=sender,
    )


def days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


class ScriptedAgency:
    """Writes agency.<id>.out, reads agency.<id>.in (every partition, from the beginning)."""

    def __init__(self, bootstrap: str, agency: str, hub_key: HubSealingKey) -> None:
        self.bootstrap = bootstrap
        self.id = agency
        self.hub_key = hub_key
        self.inbox: list[tuple[Message, dict[str, bytes]]] = []
        self._arrived = asyncio.Condition()
        self._producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all")
        self._consumer = AIOKafkaConsumer(
            **kafka_options(bootstrap),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._producer.start()
        await self._consumer.start()
        topic = inbound(self.id)
        parts = await partitions_of(self.bootstrap, topic)
        while not parts:
            await asyncio.sleep(0.2)
            parts = await partitions_of(self.bootstrap, topic)
        tps = [TopicPartition(topic, p) for p in parts]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._consumer.stop()
        await self._producer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            records = [r for rs in batch.values() for r in rs]
            if records:
                async with self._arrived:
                    for r in records:
                        self.inbox.append((decode(r.value or b""), dict(r.headers)))
                    self._arrived.notify_all()

    async def send(self, message: Message) -> None:
        # Keyed by the person's code, as agencies must: one partition per person keeps an event
        # ahead of the request that cites it.
        key = getattr(message, "person_code", None) or getattr(message, "principal_code", None)
        await self._producer.send_and_wait(outbound(self.id), encode(message), key=key)

    async def send_raw(self, value: bytes) -> None:
        await self._producer.send_and_wait(outbound(self.id), value)

    async def expect(
        self, kind: type[M], where: Callable[[M], bool] = lambda _m: True, timeout: float = 60
    ) -> M:
        """The first message of `kind` in the inbox satisfying `where` (waits for it)."""

        def found() -> M | None:
            for message, _headers in self.inbox:
                if isinstance(message, kind) and where(message):
                    return message
            return None

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(found), timeout)
        result = found()
        assert result is not None
        return result

    def received(self, kind: type[M]) -> list[M]:
        return [m for m, _ in self.inbox if isinstance(m, kind)]

    def sequences(self) -> list[bytes]:
        return [h[SEQUENCE_HEADER] for _, h in self.inbox]

    def enrolment(self, number: str, request_id: uuid.UUID | None = None) -> Enrolment:
        """An Enrolment as the SDK makes it: the number sealed to the hub's key."""
        rid = request_id or uuid.uuid4()
        sealed = seal_number(number, self.hub_key, enrolment_context(self.id, rid))
        return Enrolment(metadata=meta(self.id), request_id=rid, sealed_number=sealed)

    def number_changed(self, person_code: bytes, number: str) -> NumberChanged:
        """A NumberChanged as the SDK makes it: the new number sealed to the hub's key."""
        context = number_change_context(self.id, person_code)
        sealed = seal_number(number, self.hub_key, context)
        return NumberChanged(
            metadata=meta(self.id), person_code=person_code, sealed_new_number=sealed
        )

    async def enrol(self, number: str) -> bytes:
        enrolment = self.enrolment(number)
        request_id = enrolment.request_id
        await self.send(enrolment)
        confirmed = await self.expect(EnrolmentConfirmed, lambda m: m.request_id == request_id)
        return confirmed.person_code


async def onboard(bootstrap: str, agency: str, subscriptions: list[str] | None = None) -> None:
    await onboard_agency(bootstrap, agency, subscriptions, operator="op-test")


async def advance_rollout(bootstrap: str, phases: int) -> None:
    await change_rollout(bootstrap, RolloutOperation.ADVANCE, times=phases, operator="op-test")


async def wait_until(predicate: Callable[[], bool], timeout: float = 30) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_hub(
    bootstrap: str,
    keys: Keyring,
    *,
    partitions: int = 3,
    rate_policy: RatePolicy | None = None,
    http_port: int | None = None,
    provider_timeout_s: int = DEFAULT_TOKEN_TTL_SECONDS,
) -> AsyncIterator[Hub]:
    config = HubConfig(
        bootstrap,
        TopicLayout(hub_partitions=partitions),
        http_port=http_port,
        rate_policy=rate_policy or RatePolicy(10_000.0, 2_000.0),
        provider_timeout_s=provider_timeout_s,
    )
    hub = Hub(config, keys)
    task = asyncio.create_task(hub.run())
    try:
        await wait_until(lambda: hub.ready or task.done(), timeout=60)
        if task.done():
            task.result()
        yield hub
    finally:
        hub.stop()
        await asyncio.wait_for(task, 60)


async def onboard_agencies(
    bootstrap: str,
    agencies: Sequence[str],
    *,
    subscriptions: Mapping[str, list[str]] | None = None,
    phases: int,
) -> None:
    """Each agency onboarded (with its subscriptions, none unless named), then the rollout
    advanced `phases` phases."""
    for agency in agencies:
        await onboard(bootstrap, agency, (subscriptions or {}).get(agency, []))
    await advance_rollout(bootstrap, phases)


@contextlib.asynccontextmanager
async def started_agencies(
    bootstrap: str, keys: Keyring, agencies: Sequence[str]
) -> AsyncIterator[dict[str, ScriptedAgency]]:
    """A scripted agency for each id, started in order; all stopped on leaving."""
    started = {a: ScriptedAgency(bootstrap, a, keys.public_sealing_key) for a in agencies}
    running: list[ScriptedAgency] = []
    try:
        for agency in started.values():
            await agency.start()
            running.append(agency)
        yield started
    finally:
        for agency in running:
            await agency.stop()


class HubWithAgencies(NamedTuple):
    hub: Hub
    agencies: dict[str, ScriptedAgency]


@contextlib.asynccontextmanager
async def hub_with_agencies(
    bootstrap: str,
    keys: Keyring,
    agencies: Sequence[str],
    *,
    subscriptions: Mapping[str, list[str]] | None = None,
    phases: int,
    **hub_options: Any,
) -> AsyncIterator[HubWithAgencies]:
    """What a module's hub fixture sets up: the agencies onboarded and the rollout advanced
    (`onboard_agencies`), a hub (`running_hub` with `hub_options`) that has applied those
    control commands, then a started scripted agency for each id."""
    await onboard_agencies(bootstrap, agencies, subscriptions=subscriptions, phases=phases)
    async with running_hub(bootstrap, keys, **hub_options) as hub:
        await wait_until(control_applied(hub, len(agencies) + phases), timeout=60)
        async with started_agencies(bootstrap, keys, agencies) as started:
            yield HubWithAgencies(hub, started)


def new_number() -> str:
    return individual_number.generate()


async def renkei(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the real `renkei` command line in a process of its own (its own event loop and its
    own environment, so the hubs of the test keep theirs); its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "renkei", *args,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(process.communicate(), timeout=300)
    assert process.returncode is not None
    return process.returncode, output.decode("utf-8", "replace")


def control_applied(hub: Hub, at_least: int) -> Callable[[], bool]:
    return lambda: hub.control.applied >= at_least


__all__: list[Any] = []
