"""No request without an outcome, on a real broker (DOMAIN.md §12): a provider that does not
answer in time gets its requester PROVIDER_TIMEOUT and one provision record; its late answer is
dead-lettered and never delivered; a replay of the request id gets the recorded timeout."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from hub.cli import read_dead_letters, verify_chains
from hub.core import Keyring
from hub.deadletters import DeadLetterReason
from schemas.codec import decode_as
from schemas.models import (
    AttributeAnswer,
    AttributeQuery,
    AttributeRequest,
    AttributeResponse,
    AttributeValue,
    Outcome,
    ProviderTimeout,
    Relocation,
)

from .harness import ScriptedAgency, dev_keys, hub_with_agencies, meta, new_number, wait_until
from .test_exchange import read_records

pytestmark = pytest.mark.kafka

FORMER, NEW = "mun-13101", "mun-27100"
TIMEOUT = 4  # seconds a provider has to answer (the hub's setting for this module)


@pytest.fixture(scope="module")
def keys() -> Keyring:
    return dev_keys()


@pytest.fixture(scope="module")
async def agencies(
    isolated_kafka: str, keys: Keyring
) -> AsyncIterator[tuple[ScriptedAgency, ScriptedAgency]]:
    subscriptions = {NEW: ["Relocation"]}
    async with hub_with_agencies(
        isolated_kafka,
        keys,
        (FORMER, NEW),
        subscriptions=subscriptions,
        phases=1,  # phase 1: tax, pilot municipalities
        provider_timeout_s=TIMEOUT,
    ) as (_hub, started):
        yield started[FORMER], started[NEW]


async def ask(
    former: ScriptedAgency, new: ScriptedAgency
) -> tuple[AttributeRequest, AttributeQuery]:
    """The new municipality asks the former one for income after a move; the query arrives."""
    number = new_number()
    await former.enrol(number)
    code = await new.enrol(number)
    relocation = Relocation(
        metadata=meta(NEW), person_code=code, from_municipality=FORMER, to_municipality=NEW,
        moved_on="2026-04-01",
    )  # fmt: skip
    await new.send(relocation)
    request = AttributeRequest(
        metadata=meta(NEW), request_id=uuid.uuid4(), person_code=code, provider=FORMER,
        purpose="resident_tax_assessment", legal_basis_row="tx-01",
        attributes=["taxable_income"], trigger_event_id=relocation.metadata.message_id,
    )  # fmt: skip
    await new.send(request)
    query = await former.expect(
        AttributeQuery, lambda q: q.metadata.correlation_id == request.metadata.message_id
    )
    return request, query


def _timeouts(new: ScriptedAgency, request: AttributeRequest) -> list[ProviderTimeout]:
    return [t for t in new.received(ProviderTimeout) if t.request_id == request.request_id]


async def test_a_provider_that_never_answers_times_out_with_one_outcome_and_one_record(
    isolated_kafka: str, agencies: tuple[ScriptedAgency, ScriptedAgency], keys: Keyring
) -> None:
    former, new = agencies
    request, _query = await ask(former, new)
    asked = time.monotonic()

    # Nothing else flows through the hub meanwhile: wall time drives the timeout.
    timeout = await new.expect(ProviderTimeout, lambda t: t.request_id == request.request_id)

    assert time.monotonic() - asked >= TIMEOUT - 1  # not before the provider's time ran out
    assert timeout.provider == FORMER
    assert timeout.metadata.sender == "hub"
    assert "mun-13101 did not answer" in timeout.message
    records = [r for r in await read_records(isolated_kafka) if r.request_id == request.request_id]
    assert len(records) == 1
    (record,) = records
    assert record.provider_timeout
    assert record.outcome is Outcome.DENIED
    assert record.reason is None
    assert (record.requester, record.provider) == (NEW, FORMER)
    assert record.legal_basis_row == "tx-01"
    assert record.attributes == ["taxable_income"]
    report = await verify_chains(isolated_kafka, keys.record_verify_keys)
    assert report.intact, report.breaks

    # The requester retries the same request id: the recorded timeout again, not a new query.
    await new.send(request)
    await wait_until(lambda: len(_timeouts(new, request)) == 2, timeout=60)
    assert _timeouts(new, request)[1].message == timeout.message
    queries = [
        q for q in former.received(AttributeQuery)
        if q.metadata.correlation_id == request.metadata.message_id
    ]  # fmt: skip
    assert len(queries) == 1
    records = [r for r in await read_records(isolated_kafka) if r.request_id == request.request_id]
    assert len(records) == 1


async def test_an_answer_after_the_timeout_is_dead_lettered_and_never_delivered(
    isolated_kafka: str, agencies: tuple[ScriptedAgency, ScriptedAgency]
) -> None:
    former, new = agencies
    request, query = await ask(former, new)
    await new.expect(ProviderTimeout, lambda t: t.request_id == request.request_id)

    late = AttributeAnswer(
        metadata=meta(FORMER),
        reply_token=query.reply_token,
        values=[AttributeValue(name="taxable_income", value=4_100_000)],
    )
    await former.send(late)

    async def late_letters() -> list[AttributeAnswer]:
        letters = await read_dead_letters(isolated_kafka)
        return [
            decode_as(d.value, AttributeAnswer)
            for d in letters
            if d.reason == DeadLetterReason.LATE_ANSWER
            and decode_as(d.value, AttributeAnswer).metadata.message_id == late.metadata.message_id
        ]

    for _ in range(300):
        kept = await late_letters()
        if kept:
            break
        await asyncio.sleep(0.1)
    assert len(kept) == 1
    assert kept[0].values == []  # no attribute value rests in the dead-letter topic
    assert kept[0].not_held == ["taxable_income"]
    await new.enrol(new_number())  # let anything still in flight to the requester arrive
    assert [r for r in new.received(AttributeResponse) if r.request_id == request.request_id] == []
    assert len(_timeouts(new, request)) == 1
    records = [r for r in await read_records(isolated_kafka) if r.request_id == request.request_id]
    assert [r.provider_timeout for r in records] == [True]


async def test_an_answer_in_time_is_delivered_and_never_followed_by_a_timeout(
    isolated_kafka: str, agencies: tuple[ScriptedAgency, ScriptedAgency]
) -> None:
    former, new = agencies
    request, query = await ask(former, new)
    await former.send(
        AttributeAnswer(
            metadata=meta(FORMER),
            reply_token=query.reply_token,
            values=[AttributeValue(name="taxable_income", value=2_900_000)],
        )
    )
    response = await new.expect(AttributeResponse, lambda r: r.request_id == request.request_id)
    assert response.values[0].value == 2_900_000

    await asyncio.sleep(TIMEOUT + 4)  # past the deadline, the grace and a tick
    assert _timeouts(new, request) == []
    records = [r for r in await read_records(isolated_kafka) if r.request_id == request.request_id]
    assert [(r.outcome, r.provider_timeout) for r in records] == [(Outcome.PROVIDED, False)]
