"""A request still waiting for its provider when the hub stops is timed out by the hub that
comes after it: the waiting request lives in the changelog, not in one replica's memory."""

from __future__ import annotations

import asyncio

import pytest

from hub.cli import verify_chains
from schemas.models import AttributeQuery, AttributeResponse, ProviderTimeout

from .harness import (
    ScriptedAgency,
    advance_rollout,
    control_applied,
    dev_keys,
    new_number,
    onboard,
    running_hub,
    wait_until,
)
from .test_exchange import read_records
from .test_timeouts import FORMER, NEW, TIMEOUT, ask

pytestmark = pytest.mark.kafka


async def test_a_request_waiting_when_the_hub_stops_times_out_once_after_the_restart(
    isolated_kafka: str,
) -> None:
    keys = dev_keys()
    await onboard(isolated_kafka, FORMER, [])
    await onboard(isolated_kafka, NEW, ["Relocation"])
    await advance_rollout(isolated_kafka, 1)
    former = ScriptedAgency(isolated_kafka, FORMER, keys.public_sealing_key)
    new = ScriptedAgency(isolated_kafka, NEW, keys.public_sealing_key)
    async with running_hub(isolated_kafka, keys, provider_timeout_s=TIMEOUT) as first:
        await wait_until(control_applied(first, 3))
        for agency in (former, new):
            await agency.start()
        request, _query = await ask(former, new)
    try:
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
    finally:
        for agency in (former, new):
            await agency.stop()
