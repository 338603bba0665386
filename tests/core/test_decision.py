"""How the hub decides (DOMAIN.md §5): one readable scenario per outcome, table-driven.

Every scenario starts from the same small country: Chiyoda (mun-13101), Osaka (mun-27100) and
Sapporo (mun-01100) in the pilot, Shinjuku (mun-13104) outside it, the pension service, the
employment-insurance office, a health insurer, two hospitals and the portal.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest

from hub.core.numbers import Enrolled
from hub.core.outcomes import Deny, Route
from hub.core.rollout import Rollout, apply_rollout_change
from hub.core.state import RatePolicy, set_suspension
from schemas.models import (
    DependencyChanged,
    ProxyRegistered,
)
from schemas.vocabulary import DenialReason as R

from .conftest import rollout_at
from .world import World, metadata

AGENCIES = (
    "mun-13101",
    "mun-27100",
    "mun-01100",
    "mun-13104",
    "jps",
    "mhlw-ei",
    "hi-kyokai",
    "med-0001",
    "med-0002",
    "portal",
)


@dataclass
class Moved:
    """A person who moved from Osaka to Chiyoda; both municipalities hold them."""

    world: World
    osaka: bytes  # Osaka's code for the person
    chiyoda: bytes  # Chiyoda's code
    relocation: uuid.UUID

    def ask_osaka_for_income(self, **kw: object) -> Route | Deny:
        args: dict[str, object] = {
            "requester": "mun-13101",
            "code": self.chiyoda,
            "provider": "mun-27100",
            "row": "hi-01",
            "attributes": ["taxable_income"],
            "trigger": self.relocation,
        }
        args.update(kw)
        return self.world.request(**args)  # type: ignore[arg-type]


def moved_from_osaka_to_chiyoda(world: World | None = None) -> Moved:
    w = world or World()
    w.register(*AGENCIES)
    number = w.new_number()
    osaka = w.enrol("mun-27100", number)
    chiyoda = w.enrol("mun-13101", number)
    return Moved(w, osaka, chiyoda, w.relocation(chiyoda, "mun-27100", "mun-13101"))


@dataclass
class Referred:
    """A patient referred by hospital med-0001 to med-0002 (which did not hold them before)."""

    world: World
    first: bytes
    second: bytes
    referral: uuid.UUID

    def ask_for_summary(self, **kw: object) -> Route | Deny:
        args: dict[str, object] = {
            "requester": "med-0002",
            "code": self.second,
            "provider": "med-0001",
            "row": "md-01",
            "attributes": ["clinical_summary"],
            "trigger": self.referral,
        }
        args.update(kw)
        return self.world.request(**args)  # type: ignore[arg-type]


def referred_patient() -> Referred:
    w = World()
    w.register(*AGENCIES)
    first = w.enrol("med-0001", w.new_number())
    referral = w.clinical_update("med-0001", first, referred_to="med-0002")
    second = w.keys.codes.translate("med-0001", first, "med-0002")
    assert second is not None
    return Referred(w, first, second, referral)


# ---- the granted paths --------------------------------------------------------------------


def test_relocation_lets_new_municipality_read_income_from_former_one() -> None:
    moved = moved_from_osaka_to_chiyoda()
    route = moved.ask_osaka_for_income(attributes=["taxable_income", "dependants_count"])
    assert isinstance(route, Route)
    assert route.provider == "mun-27100"
    sealed = moved.world.keys.seal_route(route)
    assert sealed.provider_code == moved.osaka  # Osaka receives its own code for the person
    assert route.attributes == ("taxable_income", "dependants_count")
    assert (route.row, route.table_version) == ("hi-01", "2026.1")
    assert sealed.reply_token


def test_an_attribute_named_twice_is_asked_for_once_in_the_order_first_named() -> None:
    moved = moved_from_osaka_to_chiyoda()
    route = moved.ask_osaka_for_income(
        attributes=["dependants_count", "taxable_income", "dependants_count"]
    )
    assert isinstance(route, Route)
    assert route.attributes == ("dependants_count", "taxable_income")


def test_a_pilot_municipality_gets_pension_exemption_income_in_phase_one() -> None:
    w = World(rollout=rollout_at(1))
    w.register(*AGENCIES)
    number = w.new_number()
    chiyoda = w.enrol("mun-13101", number)
    jps = w.enrol("jps", number)
    del chiyoda
    application = w.application("jps", jps, "national_pension_premium_exemption")
    decision = w.request("jps", jps, "mun-13101", "pe-01", ["taxable_income"], application)
    assert isinstance(decision, Route)


def test_a_referred_hospital_reads_the_clinical_summary_with_the_patients_consent() -> None:
    referred = referred_patient()
    referred.world.consent("med-0001", referred.first, "continuity_of_care")
    assert isinstance(referred.ask_for_summary(), Route)


def test_a_parent_acts_for_a_minor_through_the_dependency_fact() -> None:
    w = World()
    w.register(*AGENCIES)
    child_number, parent_number = w.new_number(), w.new_number()
    child = w.enrol("mun-13101", child_number)
    parent = w.enrol("mun-13101", parent_number)
    w.enrol("mun-27100", child_number)
    w.publish(
        DependencyChanged(
            metadata=metadata("mun-13101", w.now),
            person_code=child,
            related_person_code=parent,
            relationship="PARENT_OF_MINOR",
            change="ADDED",
            effective_on=w.now.date(),
        )
    )
    application = w.application("mun-13101", child, "child_allowance")
    decision = w.request(
        "mun-13101",
        child,
        "mun-27100",
        "we-01",
        ["household_members"],
        application,
        proxy_code=parent,
    )
    assert isinstance(decision, Route)
    assert decision.proxy_person_id == w.keys.codes.decode("mun-13101", parent)


def test_a_voluntary_proxy_checked_at_the_municipal_counter_may_act_within_scope() -> None:
    moved = moved_from_osaka_to_chiyoda()
    w = moved.world
    helper = w.enrol("mun-13101", w.new_number())
    w.publish(
        ProxyRegistered(
            metadata=metadata("mun-13101", w.now),
            principal_code=moved.chiyoda,
            proxy_code=helper,
            kind="VOLUNTARY",
            scope=["health_insurance"],
            registered_by="MUNICIPAL_COUNTER_CHECK",
        )
    )
    assert isinstance(moved.ask_osaka_for_income(proxy_code=helper), Route)


# ---- every denial reason, as it happens ---------------------------------------------------


def _operator_asks() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    return moved.ask_osaka_for_income(requester="op-night-shift")


def _code_of_another_municipality() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    return moved.ask_osaka_for_income(code=moved.osaka)


def _forged_code() -> Route | Deny:
    return moved_from_osaka_to_chiyoda().ask_osaka_for_income(code=bytes(33))


def _forged_proxy_code() -> Route | Deny:
    return moved_from_osaka_to_chiyoda().ask_osaka_for_income(proxy_code=b"\x01" * 33)


def _attribute_outside_the_row() -> Route | Deny:
    return moved_from_osaka_to_chiyoda().ask_osaka_for_income(
        attributes=["taxable_income", "household_members"]
    )


def _pension_service_cites_a_municipal_row() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    jps = moved.world.enrol("jps", "123456789018")
    return moved.ask_osaka_for_income(requester="jps", code=jps)


def _unknown_row() -> Route | Deny:
    return moved_from_osaka_to_chiyoda().ask_osaka_for_income(row="hi-99", purpose="anything")


def _purpose_not_of_the_row() -> Route | Deny:
    return moved_from_osaka_to_chiyoda().ask_osaka_for_income(purpose="child_allowance")


def _health_insurance_not_live_in_the_pilot() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda(World(rollout=rollout_at(1)))
    return moved.ask_osaka_for_income()


def _health_insurance_paused() -> Route | Deny:
    paused = apply_rollout_change(rollout_at(4), "PAUSE_SECTOR", "health_insurance", None)
    assert isinstance(paused, Rollout)
    return moved_from_osaka_to_chiyoda(World(rollout=paused)).ask_osaka_for_income()


def _municipality_outside_the_pilot() -> Route | Deny:
    w = World(rollout=rollout_at(1))
    w.register(*AGENCIES)
    number = w.new_number()
    w.enrol("mun-13104", number)
    jps = w.enrol("jps", number)
    application = w.application("jps", jps, "national_pension_premium_exemption")
    return w.request("jps", jps, "mun-13104", "pe-01", ["taxable_income"], application)


def _former_municipality_not_yet_onboarded() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    del moved.world.state.agencies["mun-27100"]  # enrolled people once, never onboarded
    return moved.ask_osaka_for_income()


def _same_request_without_relocation() -> Route | Deny:
    return moved_from_osaka_to_chiyoda().ask_osaka_for_income(trigger=uuid.uuid4())


def _relocation_the_requester_never_heard_of() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    w = moved.world
    w.register("mun-01100", subscriptions=[])  # Sapporo holds the person but did not subscribe
    sapporo = w.keys.codes.translate("mun-13101", moved.chiyoda, "mun-01100")
    assert sapporo is not None
    return moved.ask_osaka_for_income(requester="mun-01100", code=sapporo)


def _child_allowance_cites_a_relocation() -> Route | Deny:
    return moved_from_osaka_to_chiyoda().ask_osaka_for_income(
        row="we-01", attributes=["household_members"]
    )


def _application_for_another_procedure() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    application = moved.world.application("mun-13101", moved.chiyoda, "public_assistance")
    return moved.ask_osaka_for_income(
        row="we-01", attributes=["household_members"], trigger=application
    )


def _relocation_used_against_a_third_municipality() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    return moved.ask_osaka_for_income(provider="mun-01100")


def _relocation_too_old() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    moved.world.later(days=91)
    return moved.ask_osaka_for_income()


def _medical_request_without_consent() -> Route | Deny:
    return referred_patient().ask_for_summary()


def _consent_withdrawn() -> Route | Deny:
    referred = referred_patient()
    w = referred.world
    w.consent("med-0001", referred.first, "continuity_of_care")
    w.withdraw_consent("med-0001", referred.first, "continuity_of_care")
    return referred.ask_for_summary()


def _consent_expired() -> Route | Deny:
    referred = referred_patient()
    w = referred.world
    w.consent(
        "med-0001", referred.first, "continuity_of_care", expires_at=w.now + timedelta(days=1)
    )
    w.later(days=2)
    return referred.ask_for_summary()


def _consent_for_another_hospital() -> Route | Deny:
    referred = referred_patient()
    w = referred.world
    w.consent("med-0001", referred.first, "continuity_of_care", recipient="med-0003")
    return referred.ask_for_summary()


def _proxy_outside_scope() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    w = moved.world
    helper = w.enrol("mun-13101", w.new_number())
    w.publish(
        ProxyRegistered(
            metadata=metadata("portal", w.now),
            principal_code=w.keys.codes.translate("mun-13101", moved.chiyoda, "portal") or b"",
            proxy_code=w.keys.codes.translate("mun-13101", helper, "portal") or b"",
            kind="VOLUNTARY",
            scope=["pension"],
            registered_by="PRINCIPAL",
        )
    )
    return moved.ask_osaka_for_income(proxy_code=helper)


def _proxy_registered_by_the_proxy_alone() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    w = moved.world
    helper = w.enrol("mun-13101", w.new_number())
    w.publish(
        ProxyRegistered(
            metadata=metadata("mun-13101", w.now),
            principal_code=moved.chiyoda,
            proxy_code=helper,
            kind="VOLUNTARY",
            scope=["health_insurance"],
            registered_by="PROXY",
        )
    )
    return moved.ask_osaka_for_income(proxy_code=helper)


def _proxy_who_was_never_registered() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    stranger = moved.world.enrol("mun-13101", moved.world.new_number())
    return moved.ask_osaka_for_income(proxy_code=stranger)


def _requester_suspended() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    set_suspension(moved.world.state, "mun-13101", True, "investigation")
    return moved.ask_osaka_for_income()


def _provider_suspended() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    set_suspension(moved.world.state, "mun-27100", True, "investigation")
    return moved.ask_osaka_for_income()


def _second_request_beyond_the_budget() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    moved.world.state.rate_policy = RatePolicy(capacity=1.0, per_second=0.001)
    assert isinstance(moved.ask_osaka_for_income(), Route)
    return moved.ask_osaka_for_income()


def _forged_codes_beyond_the_budget() -> Route | Deny:
    # a flood of forged codes costs budget too, so it is throttled rather than answered
    moved = moved_from_osaka_to_chiyoda()
    moved.world.state.rate_policy = RatePolicy(capacity=2.0, per_second=0.001)
    for _ in range(2):
        forged = moved.ask_osaka_for_income(code=bytes(33))
        assert isinstance(forged, Deny)
        assert forged.reason is R.UNKNOWN_CODE
    return moved.ask_osaka_for_income(code=bytes(33))


def _forged_proxy_codes_beyond_the_budget() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    moved.world.state.rate_policy = RatePolicy(capacity=1.0, per_second=0.001)
    assert isinstance(moved.ask_osaka_for_income(proxy_code=b"\x01" * 33), Deny)
    return moved.ask_osaka_for_income(proxy_code=b"\x01" * 33)


def _malformed_requests_beyond_the_budget() -> Route | Deny:
    moved = moved_from_osaka_to_chiyoda()
    moved.world.state.rate_policy = RatePolicy(capacity=1.0, per_second=0.001)
    assert isinstance(moved.ask_osaka_for_income(requester="op-night-shift"), Deny)
    return moved.ask_osaka_for_income(requester="op-night-shift")


SCENARIOS: list[tuple[Callable[[], Route | Deny], R]] = [
    (_operator_asks, R.MALFORMED),
    (_code_of_another_municipality, R.UNKNOWN_CODE),
    (_forged_code, R.UNKNOWN_CODE),
    (_forged_proxy_code, R.UNKNOWN_CODE),
    (_attribute_outside_the_row, R.NO_LEGAL_BASIS),
    (_pension_service_cites_a_municipal_row, R.NO_LEGAL_BASIS),
    (_unknown_row, R.NO_LEGAL_BASIS),
    (_purpose_not_of_the_row, R.NO_LEGAL_BASIS),
    (_health_insurance_not_live_in_the_pilot, R.SECTOR_NOT_LIVE),
    (_health_insurance_paused, R.SECTOR_NOT_LIVE),
    (_municipality_outside_the_pilot, R.OUTSIDE_ROLLOUT),
    (_former_municipality_not_yet_onboarded, R.OUTSIDE_ROLLOUT),
    (_same_request_without_relocation, R.NO_TRIGGER_EVENT),
    (_relocation_the_requester_never_heard_of, R.NO_TRIGGER_EVENT),
    (_child_allowance_cites_a_relocation, R.TRIGGER_MISMATCH),
    (_application_for_another_procedure, R.TRIGGER_MISMATCH),
    (_relocation_used_against_a_third_municipality, R.TRIGGER_MISMATCH),
    (_relocation_too_old, R.TRIGGER_EXPIRED),
    (_medical_request_without_consent, R.CONSENT_REQUIRED),
    (_consent_withdrawn, R.CONSENT_REQUIRED),
    (_consent_expired, R.CONSENT_REQUIRED),
    (_consent_for_another_hospital, R.CONSENT_REQUIRED),
    (_proxy_outside_scope, R.PROXY_NOT_AUTHORISED),
    (_proxy_registered_by_the_proxy_alone, R.PROXY_NOT_AUTHORISED),
    (_proxy_who_was_never_registered, R.PROXY_NOT_AUTHORISED),
    (_requester_suspended, R.AGENCY_SUSPENDED),
    (_provider_suspended, R.AGENCY_SUSPENDED),
    (_second_request_beyond_the_budget, R.RATE_LIMITED),
    (_forged_codes_beyond_the_budget, R.RATE_LIMITED),
    (_forged_proxy_codes_beyond_the_budget, R.RATE_LIMITED),
    (_malformed_requests_beyond_the_budget, R.RATE_LIMITED),
]


@pytest.mark.parametrize(
    ("scenario", "reason"), SCENARIOS, ids=[s.__name__.strip("_") for s, _ in SCENARIOS]
)
def test_each_refusal_names_its_reason_in_plain_words(
    scenario: Callable[[], Route | Deny], reason: R
) -> None:
    decision = scenario()
    assert isinstance(decision, Deny)
    assert decision.reason is reason
    assert decision.message
    assert not any(
        ch.isdigit() for ch in decision.message.replace("2026.1", "").split("mun-")[0][:0]
    )


def test_every_denial_reason_of_a_request_has_a_scenario() -> None:
    covered = {reason for _, reason in SCENARIOS} | {R.NUMBER_REVOKED}
    assert covered == set(R)


# ---- enrolment ----------------------------------------------------------------------------


def test_first_enrolment_creates_the_person_and_the_second_agency_finds_them() -> None:
    w = World()
    w.register(*AGENCIES)
    number = w.new_number()
    first = w.try_enrol("mun-13101", number)
    second = w.try_enrol("jps", number)
    assert isinstance(first, Enrolled)
    assert isinstance(second, Enrolled)
    assert first.new_person
    assert not second.new_person
    assert first.person_id == second.person_id
    assert first.code != second.code
    assert number.encode() not in repr(w.state).encode()  # only the blind index is kept


def test_enrolment_with_a_malformed_number_or_by_a_non_agency_is_malformed() -> None:
    w = World()
    w.register("mun-13101")
    refused = w.try_enrol("mun-13101", "123456789012")  # ingress finds no valid number
    assert isinstance(refused, Deny)
    assert refused.reason is R.MALFORMED
    assert "123456789012" not in refused.message
    refused = w.try_enrol("op-admin", w.new_number())
    assert isinstance(refused, Deny)
    assert refused.reason is R.MALFORMED
