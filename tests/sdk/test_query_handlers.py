"""Query handlers alone: which handler answers which attribute, and what never leaves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from consumers import HandlerConflict, Handlers, InvalidAnswer, Values
from schemas.models import AttributeQuery, AttributeValue, HouseholdMember, Metadata, Relationship


def query(purpose: str, *attributes: str) -> AttributeQuery:
    return AttributeQuery(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="hub"),
        person_code=b"code",
        purpose=purpose,
        legal_basis_row="row",
        attributes=list(attributes),
        reply_token=b"token",
    )


async def test_attribute_handlers_are_combined_and_unheld_attributes_are_named() -> None:
    handlers = Handlers()

    @handlers.query("taxable_income", "dependants_count")
    async def income(q: AttributeQuery) -> Values:
        return {"taxable_income": 3_200_000, "dependants_count": None}

    @handlers.query("household_members")
    async def household(q: AttributeQuery) -> Values:
        return {
            "household_members": [HouseholdMember(relationship=Relationship.HEAD, birth_year=1980)]
        }

    values, not_held = await handlers.answer(
        query("child_allowance", "taxable_income", "household_members", "dependants_count")
    )
    assert [v.name for v in values] == ["taxable_income", "household_members"]
    assert values[0] == AttributeValue(name="taxable_income", value=3_200_000)
    assert not_held == ["dependants_count"]


async def test_a_purpose_handler_takes_precedence_over_an_attribute_handler() -> None:
    handlers = Handlers()

    @handlers.query("taxable_income")
    async def generic(q: AttributeQuery) -> Values:
        return {"taxable_income": 1}

    @handlers.query(purpose="child_allowance")
    async def for_child_allowance(q: AttributeQuery) -> Values:
        return {"taxable_income": 2}

    values, _ = await handlers.answer(query("child_allowance", "taxable_income"))
    assert values == [AttributeValue(name="taxable_income", value=2)]
    values, _ = await handlers.answer(query("national_health_insurance_premium", "taxable_income"))
    assert values == [AttributeValue(name="taxable_income", value=1)]


async def test_values_the_query_did_not_ask_for_never_leave_the_agency() -> None:
    handlers = Handlers()

    @handlers.query(purpose="public_assistance")
    async def everything(q: AttributeQuery) -> Values:
        return {"pension_benefit_amount": 1_000_000, "taxable_income": 5}

    values, not_held = await handlers.answer(query("public_assistance", "pension_benefit_amount"))
    assert [v.name for v in values] == ["pension_benefit_amount"]
    assert not_held == []


async def test_a_value_of_the_wrong_type_is_refused_without_quoting_it() -> None:
    handlers = Handlers()

    @handlers.query("taxable_income")
    async def wrong(q: AttributeQuery) -> Values:
        return {"taxable_income": "3200000"}

    with pytest.raises(InvalidAnswer) as refused:
        await handlers.answer(query("x", "taxable_income"))
    assert "3200000" not in str(refused.value)


def test_registering_twice_or_an_unknown_attribute_is_the_callers_mistake() -> None:
    handlers = Handlers()

    async def h(q: AttributeQuery) -> Values:
        return {}

    handlers.query("taxable_income")(h)
    with pytest.raises(HandlerConflict):
        handlers.query("taxable_income")(h)
    with pytest.raises(HandlerConflict):
        handlers.query("shoe_size")
    with pytest.raises(HandlerConflict):
        handlers.query()
