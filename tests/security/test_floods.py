"""Floods on the real broker (DOMAIN.md §5 step 9, §13): one agency's 5,000 requests sent as
fast as it can, against the hub's default budget, and another's 3,000 requests with forged
person codes, under a budget an operator set for it (`renkei hub budget`). Each is throttled to
what its budget allows, burst + rate x elapsed by the broker's clock; the rest is refused
RATE_LIMITED, recorded and counted per agency; another agency's good traffic in the same run
gets through untouched. A spent budget stays spent when a second replica joins and leaves
(each partition's share is restored from its changelog, not refilled).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from hub.cli import hub_app, read_topic
from hub.core import Keyring
from hub.core.state import DEFAULT_BURST, DEFAULT_PER_SECOND, RatePolicy
from hub.service import Hub
from producers.connection import kafka_options
from schemas.codec import decode, decode_as, encode
from schemas.models import (
    AttributeQuery,
    AttributeRequest,
    Outcome,
    ProvisionRecord,
    Relocation,
    RequestDenied,
)
from schemas.topics import PROVISION_RECORDS, outbound
from schemas.vocabulary import DenialReason as R

from ..hub.harness import (
    ScriptedAgency,
    control_applied,
    dev_keys,
    hub_with_agencies,
    meta,
    new_number,
    running_hub,
    wait_until,
)

pytestmark = pytest.mark.kafka

PROVIDER, FLOODER, GOOD, FORGER = "mun-13101", "mun-27100", "mun-01100", "mun-14100"
ALL = (PROVIDER, FLOODER, GOOD, FORGER)
PERSONS = 12  # the flood is about several people, so it spreads over the hub's partitions
FLOOD, FORGED, GOOD_REQUESTS = 5_000, 3_000, 20


@dataclass
class World:
    bootstrap: str
    hub: Hub
    agencies: dict[str, ScriptedAgency]
    codes: dict[tuple[str, int], bytes] = field(default_factory=dict)  # (agency, person)
    triggers: dict[tuple[str, int], uuid.UUID] = field(default_factory=dict)

    def __getitem__(self, agency: str) -> ScriptedAgency:
        return self.agencies[agency]

    def request(self, requester: str, person: int) -> AttributeRequest:
        return AttributeRequest(
            metadata=meta(requester), request_id=uuid.uuid4(),
            person_code=self.codes[(requester, person)], provider=PROVIDER,
            purpose="resident_tax_assessment", legal_basis_row="tx-01",
            attributes=["taxable_income"], trigger_event_id=self.triggers[(requester, person)],
        )  # fmt: skip


@pytest.fixture(scope="module")
def keys() -> Keyring:
    return dev_keys()


@pytest.fixture(scope="module")
async def world(isolated_kafka: str, keys: Keyring) -> AsyncIterator[World]:
    async with hub_with_agencies(
        isolated_kafka,
        keys,
        ALL,
        phases=2,  # tax live in every municipality
        rate_policy=RatePolicy(),
    ) as (hub, started):
        w = World(isolated_kafka, hub, started)
        for person in range(PERSONS):
            number = new_number()
            for agency in ALL:
                w.codes[(agency, person)] = await started[agency].enrol(number)
            for municipality in (FLOODER, GOOD):
                moved = Relocation(
                    metadata=meta(municipality), person_code=w.codes[(municipality, person)],
                    from_municipality=PROVIDER, to_municipality=municipality,
                    moved_on="2026-04-01",
                )  # fmt: skip
                await started[municipality].send(moved)
                w.triggers[(municipality, person)] = moved.metadata.message_id
        yield w


async def send_all_at_once(agency: str, bootstrap: str, requests: list[AttributeRequest]) -> None:
    """Encoded first, then written in large batches without waiting for each acknowledgement,
    on the agency's own topic, as fast as a hostile agency could."""
    values = [(encode(r), r.person_code) for r in requests]
    producer = AIOKafkaProducer(
        **kafka_options(bootstrap), acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        sent = [await producer.send(outbound(agency), value, key=key) for value, key in values]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def seconds_spanned_by_broker_time(bootstrap: str, agency: str, ids: set[uuid.UUID]) -> float:
    """From the first to the last of these requests, by the time the broker stamped them."""
    stamps: list[int] = []

    def keep(_p: int, _o: int, value: bytes | None, record: object) -> None:
        message = decode(value or b"")
        if isinstance(message, AttributeRequest) and message.request_id in ids:
            stamps.append(record.timestamp)  # type: ignore[attr-defined]

    await read_topic(bootstrap, outbound(agency), keep)
    assert len(stamps) == len(ids)
    return (max(stamps) - min(stamps)) / 1000


def denied_with(agency: ScriptedAgency, ids: set[uuid.UUID]) -> Counter[R]:
    return Counter(d.reason for d in agency.received(RequestDenied) if d.request_id in ids)


async def recorded(bootstrap: str, requester: str, ids: set[uuid.UUID]) -> Counter[R | None]:
    """The provision records of these requests, by denial reason (None: not a denial)."""
    found: Counter[R | None] = Counter()

    def keep(_p: int, _o: int, value: bytes | None, _r: object) -> None:
        record = decode_as(value or b"", ProvisionRecord)
        if record.requester == requester and record.request_id in ids:
            found[record.reason if record.outcome is Outcome.DENIED else None] += 1

    await read_topic(bootstrap, PROVISION_RECORDS, keep)
    return found


def metered(agency: str, outcome: str) -> float:
    labels = {"agency": agency, "outcome": outcome}
    return REGISTRY.get_sample_value("renkei_metered_requests_total", labels) or 0.0


def allowed(elapsed: float) -> float:
    """What the default budget lets through in `elapsed` seconds from a full bucket."""
    return DEFAULT_BURST + DEFAULT_PER_SECOND * elapsed


async def test_a_flood_of_5000_requests_is_throttled_and_good_traffic_is_not(
    world: World,
) -> None:
    w = world
    flood = [w.request(FLOODER, i % PERSONS) for i in range(FLOOD)]
    good = [w.request(GOOD, i % PERSONS) for i in range(GOOD_REQUESTS)]
    flood_ids = {r.request_id for r in flood}
    good_ids = {r.metadata.message_id for r in good}

    def routed(ids: set[uuid.UUID]) -> int:
        queries = w[PROVIDER].received(AttributeQuery)
        return sum(1 for q in queries if q.metadata.correlation_id in ids)

    flood_messages = {r.metadata.message_id for r in flood}
    before = {o: metered(FLOODER, o) for o in ("routed", "RATE_LIMITED")}
    await asyncio.gather(
        send_all_at_once(FLOODER, w.bootstrap, flood), send_all_at_once(GOOD, w.bootstrap, good)
    )
    await wait_until(
        lambda: (
            routed(flood_messages) + sum(denied_with(w[FLOODER], flood_ids).values()) == FLOOD
            and routed(good_ids) == GOOD_REQUESTS
        ),
        timeout=600,
    )
    elapsed = await seconds_spanned_by_broker_time(w.bootstrap, FLOODER, flood_ids)
    through = routed(flood_messages)
    limited = denied_with(w[FLOODER], flood_ids)
    print(f"flood: {FLOOD} offered in {elapsed:.3f} s, {through} routed, {limited} denied")
    assert through <= allowed(elapsed)
    assert limited == Counter({R.RATE_LIMITED: FLOOD - through})
    assert FLOOD - through >= FLOOD - allowed(elapsed)
    # Every refusal recorded, once; the good agency's requests all routed in the same run.
    records = await recorded(w.bootstrap, FLOODER, flood_ids)
    assert records[R.RATE_LIMITED] == FLOOD - through
    assert metered(FLOODER, "RATE_LIMITED") - before["RATE_LIMITED"] == FLOOD - through
    assert metered(FLOODER, "routed") - before["routed"] == through
    assert routed(good_ids) == GOOD_REQUESTS
    assert not denied_with(w[GOOD], {r.request_id for r in good})


async def test_a_flood_of_forged_codes_is_throttled_to_the_budget_an_operator_set(
    world: World,
) -> None:
    w = world
    # The operator sets the forger's budget with the signed control command.
    applied = w.hub.control.applied
    result = await asyncio.to_thread(
        CliRunner().invoke, hub_app,
        ["budget", "--agency", FORGER, "--burst", "300", "--per-second", "100",
         "--bootstrap", w.bootstrap],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    await wait_until(control_applied(w.hub, applied + 1))
    assert w.hub.control.refused == 0
    template = w.request(GOOD, 0)
    code_length = len(w.codes[(FORGER, 0)])
    forged = [
        template.model_copy(update={
            "metadata": meta(FORGER), "request_id": uuid.uuid4(),
            "person_code": os.urandom(code_length),
        })
        for _ in range(FORGED)
    ]  # fmt: skip
    ids = {r.request_id for r in forged}
    before = {o: metered(FORGER, o) for o in ("UNKNOWN_CODE", "RATE_LIMITED")}
    await send_all_at_once(FORGER, w.bootstrap, forged)
    await wait_until(lambda: sum(denied_with(w[FORGER], ids).values()) == FORGED, timeout=600)
    elapsed = await seconds_spanned_by_broker_time(w.bootstrap, FORGER, ids)
    reasons = denied_with(w[FORGER], ids)
    print(f"forged codes: {FORGED} offered in {elapsed:.3f} s, denied {reasons}")
    assert set(reasons) == {R.UNKNOWN_CODE, R.RATE_LIMITED}
    assert reasons[R.UNKNOWN_CODE] <= 300 + 100 * elapsed
    # Throttled and visible: counted per agency, and each refusal recorded once.
    for outcome, before_count in before.items():
        assert metered(FORGER, outcome) - before_count == reasons[R(outcome)]
    assert await recorded(w.bootstrap, FORGER, ids) == reasons


async def test_a_second_replica_and_a_restart_neither_double_nor_refill_a_budget(
    world: World, keys: Keyring
) -> None:
    w = world
    applied = w.hub.control.applied
    result = await asyncio.to_thread(
        CliRunner().invoke, hub_app,
        ["budget", "--agency", GOOD, "--burst", "6", "--per-second", "0",
         "--bootstrap", w.bootstrap],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    await wait_until(control_applied(w.hub, applied + 1))

    async def outcomes(count: int) -> tuple[int, Counter[R]]:
        """Send `count` requests, one per person (every partition); (routed, denied)."""
        batch = [w.request(GOOD, i % PERSONS) for i in range(count)]
        messages = {r.metadata.message_id for r in batch}
        ids = {r.request_id for r in batch}

        def routed() -> int:
            queries = w[PROVIDER].received(AttributeQuery)
            return sum(1 for q in queries if q.metadata.correlation_id in messages)

        await send_all_at_once(GOOD, w.bootstrap, batch)
        await wait_until(
            lambda: routed() + sum(denied_with(w[GOOD], ids).values()) == count, timeout=300
        )
        return routed(), denied_with(w[GOOD], ids)

    # Three requests about each person: every partition that serves anyone is emptied.
    first, limited = await outcomes(3 * PERSONS)
    assert first <= 6
    assert limited == Counter({R.RATE_LIMITED: 3 * PERSONS - first})
    # A second replica joins: the partitions it takes over restore their shares from the
    # changelog, so the two together allow nothing more.
    async with running_hub(w.bootstrap, keys, rate_policy=RatePolicy()) as second:
        await wait_until(lambda: second.ready and w.hub.ready, timeout=120)
        routed, limited = await outcomes(PERSONS)
        assert (routed, limited) == (0, Counter({R.RATE_LIMITED: PERSONS}))
    # It leaves again (a restart of the partitions it held): still nothing more.
    await wait_until(lambda: w.hub.ready, timeout=120)
    routed, limited = await outcomes(PERSONS)
    assert (routed, limited) == (0, Counter({R.RATE_LIMITED: PERSONS}))
