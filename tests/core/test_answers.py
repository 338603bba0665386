"""Finishing an exchange: the reply token and the answer's values (DOMAIN.md §5)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from hub.core.answers import check_answer, record_answer, withheld
from hub.core.outcomes import Route
from hub.core.tokens import TokenRefused
from schemas.models import (
    AttributeAnswer,
    AttributeValue,
    HealthInsuranceStatus,
    HouseholdMember,
    LongTermCareLevel,
    Relationship,
)
from schemas.vocabulary import DenialReason

from .test_decision import moved_from_osaka_to_chiyoda
from .world import World, metadata


def _routed(attributes: list[str]) -> tuple[World, Route]:
    moved = moved_from_osaka_to_chiyoda()
    w = moved.world
    if "long_term_care_level" in attributes:
        route = moved.ask_osaka_for_income(row="lt-02", attributes=attributes)
    else:
        route = moved.ask_osaka_for_income(attributes=attributes)
    assert isinstance(route, Route)
    return w, route


def _answer(
    w: World,
    route: Route,
    values: list[AttributeValue],
    sender: str = "mun-27100",
    not_held: list[str] | None = None,
) -> AttributeAnswer:
    return AttributeAnswer(
        metadata=metadata(sender, w.now),
        reply_token=w.keys.seal_route(route).reply_token,
        values=values,
        not_held=not_held or [],
    )


def test_the_requester_gets_only_authorised_well_typed_values_and_extras_are_reported() -> None:
    w, route = _routed(["taxable_income", "dependants_count"])
    answer = _answer(
        w,
        route,
        [
            AttributeValue(name="taxable_income", value=3_200_000),
            AttributeValue(
                name="household_members",
                value=[HouseholdMember(relationship=Relationship.HEAD, birth_year=1980)],
            ),
            AttributeValue(name="taxable_income", value=1),
            AttributeValue(name="dependants_count", value="two"),
        ],
    )
    checked = check_answer(answer, w.state, w.keys, w.now)
    assert not isinstance(checked, TokenRefused)
    assert [(v.name, v.value) for v in checked.values] == [("taxable_income", 3_200_000)]
    assert checked.over_provided == ("household_members", "taxable_income")
    assert checked.ill_typed == ("dependants_count",)
    assert checked.not_held == ("dependants_count",)
    assert checked.ticket.request_id == route.request_id
    assert checked.ticket.person_id == route.person_id


def test_typed_values_of_every_shape_pass_and_a_wrong_enum_does_not() -> None:
    w, route = _routed(["long_term_care_level"])
    good = check_answer(
        _answer(
            w, route, [AttributeValue(name="long_term_care_level", value=LongTermCareLevel.CARE_2)]
        ),
        w.state,
        w.keys,
        w.now,
    )
    assert not isinstance(good, TokenRefused)
    assert good.not_held == ()
    wrong = check_answer(
        _answer(
            w,
            route,
            [AttributeValue(name="long_term_care_level", value=HealthInsuranceStatus.NONE)],
        ),
        w.state,
        w.keys,
        w.now,
    )
    assert not isinstance(wrong, TokenRefused)
    assert wrong.ill_typed == ("long_term_care_level",)
    empty = check_answer(
        _answer(w, route, [AttributeValue(name="long_term_care_level", value=None)]),
        w.state,
        w.keys,
        w.now,
    )
    assert not isinstance(empty, TokenRefused)
    assert len(empty.values) == 1


def test_household_members_travel_as_records() -> None:
    moved = moved_from_osaka_to_chiyoda()
    w = moved.world
    application = w.application("mun-13101", moved.chiyoda, "child_allowance")
    route = moved.ask_osaka_for_income(
        row="we-01", attributes=["household_members"], trigger=application
    )
    assert isinstance(route, Route)
    members = [HouseholdMember(relationship=Relationship.CHILD, birth_year=2015)]
    checked = check_answer(
        _answer(w, route, [AttributeValue(name="household_members", value=members)]),
        w.state,
        w.keys,
        w.now,
    )
    assert not isinstance(checked, TokenRefused)
    assert checked.values[0].value == members


def test_a_token_answered_once_is_refused_as_replayed() -> None:
    w, route = _routed(["taxable_income"])
    answer = _answer(w, route, [AttributeValue(name="taxable_income", value=1)])
    checked = check_answer(answer, w.state, w.keys, w.now)
    assert not isinstance(checked, TokenRefused)
    record_answer(w.state, checked, w.keys)
    assert check_answer(answer, w.state, w.keys, w.now) == TokenRefused("replayed")


def test_a_token_presented_by_another_agency_forged_or_late_is_refused() -> None:
    w, route = _routed(["taxable_income"])
    values = [AttributeValue(name="taxable_income", value=1)]
    stolen = _answer(w, route, values, sender="mun-01100")
    assert check_answer(stolen, w.state, w.keys, w.now) == TokenRefused("forged")
    forged = AttributeAnswer(
        metadata=metadata("mun-27100", w.now), reply_token=b"\x01" * 80, values=values
    )
    assert check_answer(forged, w.state, w.keys, w.now) == TokenRefused("forged")
    empty = AttributeAnswer(metadata=metadata("mun-27100", w.now), reply_token=b"", values=[])
    assert check_answer(empty, w.state, w.keys, w.now) == TokenRefused("forged")
    late = w.now + timedelta(seconds=w.keys.token_ttl_seconds + 1)
    assert check_answer(_answer(w, route, values), w.state, w.keys, late) == TokenRefused("expired")
    assert uuid.UUID(int=route.request_id.int) not in w.state.used_tokens


def test_an_answer_is_withheld_while_its_provider_or_requester_is_suspended() -> None:
    w, route = _routed(["taxable_income"])
    answer = _answer(w, route, [AttributeValue(name="taxable_income", value=3_200_000)])
    checked = check_answer(answer, w.state, w.keys, w.now)
    assert not isinstance(checked, TokenRefused)
    assert withheld(checked, w.state) is None  # nobody suspended: delivered

    w.state.suspended["mun-13101"] = "browsing"  # the requester, since the query went out
    refused = withheld(checked, w.state)
    assert refused is not None
    assert refused.reason is DenialReason.AGENCY_SUSPENDED
    assert refused.message == "mun-13101 is suspended by the oversight body"

    w.state.suspended["mun-27100"] = "over-provision"  # the provider too: it is named first
    refused = withheld(checked, w.state)
    assert refused is not None
    assert refused.message == "mun-27100 is suspended by the oversight body"
