"""A watcher that fails on Kafka is replaced; the oversight body does not go blind."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.errors import KafkaConnectionError

from oversight import watcher
from oversight.watcher import SignalWatcher, watch_until
from producers import Connection


async def test_a_watcher_failing_on_kafka_is_replaced_until_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(watcher, "RESTART_AFTER_S", 0.01)
    stop = asyncio.Event()
    runs: list[int] = []

    class Flaky(SignalWatcher):
        async def run(self, stop: asyncio.Event) -> None:
            runs.append(1)
            if len(runs) < 3:
                raise KafkaConnectionError("broker away")
            stop.set()

    await asyncio.wait_for(watch_until(stop, lambda: Flaky(Connection("localhost:1"))), 10)
    assert len(runs) == 3


async def test_a_bug_is_not_hidden_by_restarting() -> None:
    class Broken(SignalWatcher):
        async def run(self, stop: asyncio.Event) -> None:
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await watch_until(asyncio.Event(), lambda: Broken(Connection("localhost:1")))
