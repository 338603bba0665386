"""A request still waiting for its provider when the hub stops is timed out by the hub that
comes after it: the waiting request lives in the changelog, not in one replica's memory."""

from __future__ import annotations

import asyncio

import pytest

from hub.cli import verify_chains
from schemas.models import AttributeQuery, AttributeResponse, ProviderTimeout

from .harness import (
    control_applied,
    dev_keys,
    new_number,
    onboard_agencies,
    running_hub,
    started_agencies,
    wait_until,
)
from .test_exchange import read_records
from .test_timeouts import FORMER, NEW, TIMEOUT, ask

pytestmark = pytest.mark.kafka


async def test_a_request_waiting_when_the_hub_stops_times_out_once_after_the_restart(
    isolated_kafka: str,
) -> None:
    keys = dev_keys()
    subscriptions = {NEW: ["Relocation"]}
    await onboard_agencies(isolated_kafka, (FORMER, NEW), subscriptions=subscriptions, phases=1)
    async with started_agencies(isolated_kafka, keys, (FORMER, NEW)) as started:
        former, new = started[FORMER], started[NEW]
        async with running_hub(isolated_kafka, keys, provider_timeout_s=TIMEOUT) as first:
            await wait_until(control_applied(first, 3))
            request, _query = await ask(former, new)
        await asyncio.sleep(TIMEOUT + 1)  # the deadline passes while no hub runs
        assert new.received(ProviderTimeout) == []
        async with running_hub(isolated_kafka, keys, provider_timeout_s=TIMEOUT):
            timeout = await new.expect(
                ProviderTimeout, lambda t: t.request_id == request.request_id
            )
            assert timeout.provider == FORMER
            await new.enrol(new_number())  # let anything else in flight to it arrive first
        assert len(new.received(ProviderTimeout)) == 1
        assert new.received(AttributeResponse) == []
        assert len(former.received(AttributeQuery)) == 1
        records = [
            r for r in await read_records(isolated_kafka) if r.request_id == request.request_id
        ]
        assert [r.provider_timeout for r in records] == [True]
        report = await verify_chains(isolated_kafka, keys.record_verify_keys)
        assert report.intact, report.breaks
