"""A reference municipality on a real broker, with the test playing the hub by hand: it enrols
its residents, learns their codes, and answers a query from its slice by link code."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from agencies import Population, ReferenceAgency, generate, slice_for
from producers import Connection
from schemas.models import (
    AttributeAnswer,
    AttributeQuery,
    AttributeValue,
    Enrolment,
    EnrolmentConfirmed,
)

from ..sdk.hub_by_hand import HubByHand, hub_metadata, new_agency_id

pytestmark = pytest.mark.kafka


def osaka_under_a_new_id(
    bootstrap: str, population: Population, reply_timeout: float = 30.0
) -> tuple[HubByHand, ReferenceAgency]:
    """Osaka's reference data under a throw-away agency id, and the test playing its hub."""
    agency_id = new_agency_id("med")
    by_hand = HubByHand(bootstrap, agency_id)
    agency = ReferenceAgency(
        agency_id,
        Connection.from_environment(bootstrap),
        population,
        slice_of="mun-27100",
        hub_key=by_hand.hub_key,
        reply_timeout=reply_timeout,
    )
    return by_hand, agency


async def test_a_reference_municipality_enrols_its_people_and_answers_from_its_slice(
    kafka_bootstrap: str,
) -> None:
    population = generate(seed=3, persons=120)
    by_hand, municipality = osaka_under_a_new_id(kafka_bootstrap, population)
    held = slice_for(population, "mun-27100")
    async with by_hand as hub:
        await municipality.start()
        try:
            enrolling = asyncio.create_task(municipality.enrol_all(concurrency=8))
            issued: dict[str, bytes] = {}
            for _ in municipality.serves:
                enrolment = await hub.from_agency(Enrolment)
                code = uuid.uuid4().bytes
                number = hub.number_in(enrolment)
                assert number is not None
                issued[number] = code
                await hub.deliver(
                    EnrolmentConfirmed(
                        metadata=hub_metadata(), request_id=enrolment.request_id, person_code=code
                    )
                )
            summary = await enrolling
            assert summary.confirmed == len(municipality.serves) == len(issued)
            assert municipality.code_of == issued

            number, values = next((n, v) for n, v in held.items() if "taxable_income" in v)
            asked = AttributeQuery(
                metadata=hub_metadata(),
                person_code=issued[number],
                purpose="national_health_insurance_premium",
                legal_basis_row="hi-01",
                attributes=["taxable_income", "dependants_count"],
                reply_token=b"token-1",
            )
            await hub.deliver(asked, key=asked.person_code)
            answer = await hub.from_agency(AttributeAnswer)
        finally:
            await municipality.stop()
    assert answer.reply_token == b"token-1"
    assert answer.values == [
        AttributeValue(name="taxable_income", value=values["taxable_income"]),
        AttributeValue(name="dependants_count", value=values["dependants_count"]),
    ]
    assert answer.not_held == []


async def test_an_unanswered_enrolment_is_sent_again_under_the_same_request_id(
    kafka_bootstrap: str,
) -> None:
    """A hub replica failing over can leave an enrolment unanswered: the agency asks again,
    under the same request id (the hub answers a repeat from its record), and keeps going."""
    population = generate(seed=5, persons=40)
    by_hand, municipality = osaka_under_a_new_id(kafka_bootstrap, population, reply_timeout=2.0)
    people = municipality.serves[:3]
    async with by_hand as hub:
        await municipality.start()
        try:
            enrolling = asyncio.create_task(municipality.enrol_all(people, attempts=3))
            copies: dict[uuid.UUID, int] = {}
            ignored: uuid.UUID | None = None
            while len(copies) < len(people) or ignored not in copies or copies[ignored] < 2:
                enrolment = await hub.from_agency(Enrolment)
                copies[enrolment.request_id] = copies.get(enrolment.request_id, 0) + 1
                if ignored is None:
                    ignored = enrolment.request_id  # the first copy of the first one is lost
                    continue
                await hub.deliver(
                    EnrolmentConfirmed(
                        metadata=hub_metadata(),
                        request_id=enrolment.request_id,
                        person_code=uuid.uuid4().bytes,
                    )
                )
            summary = await enrolling
        finally:
            await municipality.stop()
    assert summary.confirmed == len(people)
    assert summary.denied == {}
    assert len(copies) == len(people)  # one request id per person, however often sent
    assert copies[ignored] == 2
