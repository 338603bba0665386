"""Every denial reason of DOMAIN.md §5, end to end through the real broker.

Each case is a realistic request; the requester gets a RequestDenied with the reason, a DENIED
provision record is written, and the provider never hears of it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from hub.cli import read_dead_letters, read_topic, verify_chains
from hub.control import operator_metadata, publish_control
from hub.core import Keyring
from hub.core.state import RatePolicy
from hub.service import Hub
from schemas.codec import decode_as
from schemas.models import (
    AgencySuspension,
    AttributeQuery,
    AttributeRequest,
    ClinicalUpdate,
    ConsentGiven,
    IncomeDetermined,
    NumberChanged,
    Outcome,
    ProvisionRecord,
    ProxyKind,
    ProxyRegistered,
    ProxyRegistrant,
    Relocation,
    RequestDenied,
)
from schemas.topics import PROVISION_RECORDS
from schemas.vocabulary import DenialReason as R

from .harness import (
    ScriptedAgency,
    advance_rollout,
    control_applied,
    days_ago,
    dev_keys,
    hub_with_agencies,
    meta,
    new_number,
    wait_until,
)

pytestmark = pytest.mark.kafka

FORMER, NEW, PILOT3, OUTSIDE = "mun-13101", "mun-27100", "mun-01100", "mun-13102"
JPS, MED1, MED2, PORTAL = "jps", "med-0001", "med-0002", "portal"
ALL = (FORMER, NEW, PILOT3, OUTSIDE, JPS, MED1, MED2, PORTAL)


@dataclass
class World:
    bootstrap: str
    hub: Hub
    agencies: dict[str, ScriptedAgency]
    codes: dict[tuple[str, str], bytes] = field(default_factory=dict)  # (agency, person)
    events: dict[str, uuid.UUID] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, agency: str) -> ScriptedAgency:
        return self.agencies[agency]

    async def ask(
        self, requester: str, person: str, **fields: Any
    ) -> RequestDenied | AttributeQuery:
        request = AttributeRequest(
            metadata=meta(requester),
            request_id=uuid.uuid4(),
            person_code=fields.pop("person_code", None) or self.codes[(requester, person)],
            provider=fields.pop("provider", FORMER),
            purpose=fields.pop("purpose", "resident_tax_assessment"),
            legal_basis_row=fields.pop("row", "tx-01"),
            attributes=fields.pop("attributes", ["taxable_income"]),
            trigger_event_id=fields.pop("trigger", None) or self.events[f"relocation:{requester}"],
            **fields,
        )
        await self[requester].send(request)
        provider = self[request.provider] if request.provider in self.agencies else None
        for _ in range(600):
            denied = [d for d in self[requester].received(RequestDenied)
                      if d.request_id == request.request_id]  # fmt: skip
            if denied:
                return denied[0]
            if provider is not None:
                routed = [q for q in provider.received(AttributeQuery)
                          if q.metadata.correlation_id == request.metadata.message_id]  # fmt: skip
                if routed:
                    return routed[0]
            await wait_tick()
        raise AssertionError("no outcome")


async def wait_tick() -> None:
    await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def keys() -> Keyring:
    return dev_keys()


@pytest.fixture(scope="module")
async def world(isolated_kafka: str, keys: Keyring) -> AsyncIterator[World]:
    subscriptions = {MED2: ["ClinicalUpdate"], PORTAL: []}
    limited = RatePolicy(10_000.0, 2_000.0, overrides={PILOT3: (1.0, 0.0001)})
    async with hub_with_agencies(
        isolated_kafka, keys, ALL, subscriptions=subscriptions, phases=1, rate_policy=limited
    ) as (hub, started):
        w = World(isolated_kafka, hub, started)
        for person in ("alice", "bob"):
            w.numbers[person] = new_number()
            for agency in ALL:
                w.codes[(agency, person)] = await started[agency].enrol(w.numbers[person])
        for municipality in (NEW, PILOT3, OUTSIDE):
            relocation = Relocation(
                metadata=meta(municipality), person_code=w.codes[(municipality, "alice")],
                from_municipality=FORMER, to_municipality=municipality, moved_on="2026-04-01",
            )  # fmt: skip
            await started[municipality].send(relocation)
            w.events[f"relocation:{municipality}"] = relocation.metadata.message_id
        old = Relocation(
            metadata=meta(NEW, at=days_ago(400)), person_code=w.codes[(NEW, "alice")],
            from_municipality=FORMER, to_municipality=NEW, moved_on="2025-01-01",
        )  # fmt: skip
        income = IncomeDetermined(metadata=meta(NEW), person_code=w.codes[(NEW, "alice")],
                                  fiscal_year=2025)  # fmt: skip
        for event in (old, income):
            await started[NEW].send(event)
        w.events["old-relocation"] = old.metadata.message_id
        w.events["income"] = income.metadata.message_id
        yield w


async def records_for(bootstrap: str, request_id: uuid.UUID) -> list[ProvisionRecord]:
    found: list[ProvisionRecord] = []

    def keep(_p: int, _o: int, value: bytes | None, _r: object) -> None:
        record = decode_as(value or b"", ProvisionRecord)
        if record.request_id == request_id:
            found.append(record)

    await read_topic(bootstrap, PROVISION_RECORDS, keep)
    return found


async def assert_denied(w: World, outcome: object, reason: R) -> None:
    assert isinstance(outcome, RequestDenied), f"expected {reason}, got {type(outcome).__name__}"
    assert outcome.reason is reason, outcome.message
    records = await records_for(w.bootstrap, outcome.request_id)
    assert [(r.outcome, r.reason) for r in records] == [(Outcome.DENIED, reason)]
    for number in w.numbers.values():
        assert number not in outcome.message


async def test_the_control_case_is_routed(world: World) -> None:
    assert isinstance(await world.ask(NEW, "alice"), AttributeQuery)


PILOT_CASES = {
    # a request whose person code the hub never issued to the requester
    R.UNKNOWN_CODE: dict(person_code=os.urandom(33)),
    # asking more than the row allows is a denial, not a silent trim
    R.NO_LEGAL_BASIS: dict(attributes=["taxable_income", "pension_benefit_amount"]),
    # national health insurance is not live in the pilot phase
    R.SECTOR_NOT_LIVE: dict(purpose="national_health_insurance_premium", row="hi-01"),
    # no event at all
    R.NO_TRIGGER_EVENT: dict(trigger=uuid.uuid4()),
    # an income determination does not trigger a relocation-based row
    R.TRIGGER_MISMATCH: dict(trigger="income"),
    # a relocation 400 days ago is outside the row's 365-day window
    R.TRIGGER_EXPIRED: dict(trigger="old-relocation"),
}


@pytest.mark.parametrize("reason", list(PILOT_CASES), ids=lambda r: r.value)
async def test_each_pilot_phase_denial_reaches_the_requester_with_its_reason(
    world: World, reason: R
) -> None:
    fields = dict(PILOT_CASES[reason])
    if isinstance(fields.get("trigger"), str):
        fields["trigger"] = world.events[fields["trigger"]]
    await assert_denied(world, await world.ask(NEW, "alice", **fields), reason)


async def test_a_municipality_outside_the_pilot_is_outside_the_rollout(world: World) -> None:
    await assert_denied(world, await world.ask(OUTSIDE, "alice"), R.OUTSIDE_ROLLOUT)


async def test_a_proxy_acts_inside_its_scope_and_not_outside_it(world: World) -> None:
    bob_as_proxy = world.codes[(NEW, "bob")]
    denied = await world.ask(NEW, "alice", proxy_code=bob_as_proxy)
    await assert_denied(world, denied, R.PROXY_NOT_AUTHORISED)
    # Alice confirms Bob on the portal as her proxy for tax matters.
    await world[PORTAL].send(
        ProxyRegistered(
            metadata=meta(PORTAL), principal_code=world.codes[(PORTAL, "alice")],
            proxy_code=world.codes[(PORTAL, "bob")], kind=ProxyKind.VOLUNTARY, scope=["tax"],
            registered_by=ProxyRegistrant.PRINCIPAL,
        )
    )  # fmt: skip
    # The registration travels on the portal's topic and the request on the municipality's:
    # Kafka does not order the two, so the request may overtake it. Until the registration
    # is applied the proxy is still not authorised; once it is, the request is routed.
    for _ in range(20):
        outcome = await world.ask(NEW, "alice", proxy_code=bob_as_proxy)
        if isinstance(outcome, AttributeQuery):
            break
        assert outcome.reason is R.PROXY_NOT_AUTHORISED, outcome.message
        await asyncio.sleep(0.5)
    assert isinstance(outcome, AttributeQuery)


async def test_a_suspended_agency_is_refused_until_reinstated(world: World) -> None:
    def suspension(on: bool) -> AgencySuspension:
        return AgencySuspension(
            metadata=operator_metadata("ppc"), agency=NEW, suspended=on, reason="audit"
        )

    applied = world.hub.control.applied
    await publish_control(world.bootstrap, suspension(True))
    await wait_until(control_applied(world.hub, applied + 1))
    await assert_denied(world, await world.ask(NEW, "alice"), R.AGENCY_SUSPENDED)
    await publish_control(world.bootstrap, suspension(False))
    await wait_until(control_applied(world.hub, applied + 2))
    assert isinstance(await world.ask(NEW, "alice"), AttributeQuery)


async def test_an_agency_over_its_rate_budget_is_refused(world: World) -> None:
    assert isinstance(await world.ask(PILOT3, "alice"), AttributeQuery)
    await assert_denied(world, await world.ask(PILOT3, "alice"), R.RATE_LIMITED)


async def test_a_changed_number_is_refused_at_enrolment_and_codes_survive(world: World) -> None:
    old, replacement = world.numbers["bob"], new_number()
    await world[FORMER].send(
        world[FORMER].number_changed(world.codes[(FORMER, "bob")], replacement)
    )
    notified = await world[JPS].expect(NumberChanged)
    assert notified.new_number is None  # the number never travels after enrolment
    assert notified.sealed_new_number is None
    assert notified.person_code == world.codes[(JPS, "bob")]
    enrolment = world[NEW].enrolment(old)
    request_id = enrolment.request_id
    await world[NEW].send(enrolment)
    denied = await world[NEW].expect(RequestDenied, lambda d: d.request_id == request_id)
    await assert_denied(world, denied, R.NUMBER_REVOKED)
    assert await world[NEW].enrol(replacement) == world.codes[(NEW, "bob")]


async def test_a_request_that_does_not_decode_is_dead_lettered_as_malformed(world: World) -> None:
    garbage = b"\xc3\x01" + bytes(8)
    await world[NEW].send_raw(garbage)
    for _ in range(200):
        if any(d.value == garbage for d in await read_dead_letters(world.bootstrap)):
            break
        await wait_tick()
    else:
        raise AssertionError("not dead-lettered")


async def test_medical_data_needs_consent_once_medical_is_live(world: World) -> None:
    applied = world.hub.control.applied
    await advance_rollout(world.bootstrap, 3)
    await wait_until(control_applied(world.hub, applied + 3))
    referral = ClinicalUpdate(
        metadata=meta(MED1), person_code=world.codes[(MED1, "alice")],
        document_category="referral", documented_on="2026-11-20", referred_to=MED2,
    )  # fmt: skip
    await world[MED1].send(referral)
    delivered = await world[MED2].expect(ClinicalUpdate)
    clinical = dict(
        provider=MED1, purpose="continuity_of_care", row="md-01",
        attributes=["clinical_summary"], trigger=referral.metadata.message_id,
        person_code=delivered.person_code,
    )  # fmt: skip
    await assert_denied(world, await world.ask(MED2, "alice", **clinical), R.CONSENT_REQUIRED)
    await world[PORTAL].send(
        ConsentGiven(
            metadata=meta(PORTAL),
            person_code=world.codes[(PORTAL, "alice")],
            purpose="continuity_of_care",
            recipient=MED2,
        )
    )
    # The consent and the request travel on different agencies' topics, so Kafka does not order
    # them: a request may overtake the consent and still be refused. An agency asks again; the
    # consent must take effect within a few attempts.
    outcomes = [await world.ask(MED2, "alice", **clinical)]
    while not isinstance(outcomes[-1], AttributeQuery) and len(outcomes) < 20:
        assert isinstance(outcomes[-1], RequestDenied)
        assert outcomes[-1].reason == R.CONSENT_REQUIRED
        await asyncio.sleep(0.5)
        outcomes.append(await world.ask(MED2, "alice", **clinical))
    assert isinstance(outcomes[-1], AttributeQuery)
    assert (await verify_chains(world.bootstrap, world.hub.keys.record_verify_keys)).intact
