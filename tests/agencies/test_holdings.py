"""Each reference agency's slice: typed per the catalogue, and held where reality holds it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from agencies import (
    REFERENCE_AGENCY_IDS,
    Population,
    Portal,
    ReferenceAgency,
    generate,
    reference_agency,
    slice_for,
)
from producers import Connection
from schemas.catalogue import default_catalogue
from schemas.models import (
    AttributeQuery,
    AttributeValue,
    Metadata,
    Notice,
    Outcome,
    ProvisionRecord,
    Relocation,
)

UNUSED = Connection("127.0.0.1:9")  # nothing here connects


@pytest.fixture(scope="module")
def population() -> Population:
    return generate(seed=5, persons=1500)


@pytest.mark.parametrize("agency_id", REFERENCE_AGENCY_IDS)
def test_every_held_value_is_of_the_catalogues_type(population: Population, agency_id: str) -> None:
    catalogue = default_catalogue()
    held = slice_for(population, agency_id)
    if agency_id == "portal":
        assert held == {}
        return
    assert held, f"{agency_id} holds nothing"
    for values in held.values():
        for name, value in values.items():
            assert catalogue.conforms(name, value), (agency_id, name)


def test_a_person_who_moved_has_income_at_the_former_municipality_only(
    population: Population,
) -> None:
    mover = next(p for p in population.persons if p.former_municipality)
    assert mover.former_municipality is not None
    former = slice_for(population, mover.former_municipality)[mover.individual_number]
    current = slice_for(population, mover.municipality)[mover.individual_number]
    assert former["taxable_income"] == mover.taxable_income
    assert "taxable_income" not in current
    assert "household_members" in current
    assert "household_members" not in former


def test_sensitive_attributes_are_held_only_by_medical_institutions(
    population: Population,
) -> None:
    catalogue = default_catalogue()
    for agency_id in REFERENCE_AGENCY_IDS:
        names = {n for values in slice_for(population, agency_id).values() for n in values}
        if catalogue.any_sensitive(names):
            assert agency_id.startswith("med-")


def hub_metadata() -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="hub")


async def test_a_reference_agency_answers_from_its_slice_by_link_code(
    population: Population,
) -> None:
    jps = reference_agency("jps", UNUSED, population)
    retiree = next(p for p in population.persons if p.age >= 70)
    jps.learn(retiree.individual_number, b"jps-code-1")
    asked = AttributeQuery(
        metadata=hub_metadata(),
        person_code=b"jps-code-1",
        purpose="long_term_care_premium",
        legal_basis_row="lt-01",
        attributes=["pension_benefit_amount"],
        reply_token=b"t",
    )
    values, not_held = await jps.agency.handlers.answer(asked)
    assert values == [
        AttributeValue(name="pension_benefit_amount", value=retiree.pension_benefit_amount)
    ]
    assert not_held == []
    stranger = asked.model_copy(update={"person_code": b"never-enrolled"})
    assert await jps.agency.handlers.answer(stranger) == ([], ["pension_benefit_amount"])


async def test_received_events_are_kept_for_citing_as_trigger(population: Population) -> None:
    municipality = reference_agency("mun-27100", UNUSED, population)
    assert isinstance(municipality, ReferenceAgency)
    moved = Relocation(
        metadata=Metadata(
            message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="mun-13101"
        ),
        person_code=b"c",
        from_municipality="mun-27100",
        to_municipality="mun-13101",
        moved_on=date(2026, 4, 1),
    )
    handler = municipality.agency.handlers.handler_for(moved)
    assert handler is not None
    await handler(moved)
    assert list(municipality.received["Relocation"]) == [moved]


async def test_the_portal_keeps_records_and_notices_per_person_code(
    population: Population,
) -> None:
    portal = reference_agency("portal", UNUSED, population)
    assert isinstance(portal, Portal)
    assert len(portal.serves) == len(population.persons)
    record = ProvisionRecord(
        metadata=hub_metadata(),
        record_id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        requester="mun-13101",
        provider="mun-27100",
        attributes=["taxable_income"],
        subject_code=b"portal-code",
        outcome=Outcome.PROVIDED,
        chain_partition=0,
        chain_sequence=1,
        previous_hash=b"0",
        record_hash=b"1",
    )
    notice = Notice(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="jps"),
        notice_id=uuid.uuid4(),
        person_code=b"portal-code",
        category="pension_statement",
        title="ねんきん定期便",
        body="...",
    )
    for message in (record, notice):
        handler = portal.agency.handlers.handler_for(message)
        assert handler is not None
        await handler(message)
    assert portal.records[b"portal-code"] == [record]
    assert portal.notices[b"portal-code"] == [notice]
    assert portal.acknowledged == {}
