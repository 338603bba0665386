"""Event fan-out: only subscribed, entitled agencies that already serve the person hear of it."""

from __future__ import annotations

from datetime import date

from hub.core.entitlement import RefusalReason, Refused
from hub.core.outcomes import Deny
from hub.core.state import set_suspension
from schemas.models import (
    ApplicationReceived,
    ClinicalUpdate,
    ConsentGiven,
    DependencyChanged,
    ProxyRegistered,
    ProxyRevoked,
    Relocation,
)
from schemas.vocabulary import DenialReason as R

from .conftest import rollout_at
from .world import World, metadata


def _country(world: World | None = None) -> tuple[World, str]:
    w = world or World()
    w.register("mun-13101", "mun-27100", "mun-01100", "jps", "portal", "med-0001", "med-0002")
    return w, w.new_number()


def test_the_former_municipality_hears_of_the_move_in_its_own_code_and_others_do_not() -> None:
    w, number = _country()
    codes = {a: w.enrol(a, number) for a in ("mun-13101", "mun-27100", "jps")}
    event = Relocation(
        metadata=metadata("mun-13101", w.now),
        person_code=codes["mun-13101"],
        from_municipality="mun-27100",
        to_municipality="mun-13101",
        moved_on=w.now.date(),
    )
    plan = w.publish(event)
    assert [d.agency for d in plan.deliveries] == ["mun-27100"]  # jps has no Relocation row
    delivered = plan.deliveries[0].event
    assert isinstance(delivered, Relocation)
    assert delivered.person_code == codes["mun-27100"]
    assert delivered.metadata.message_id == event.metadata.message_id
    # Sapporo does not serve the person: it learns nothing
    assert "mun-01100" not in w.state.person(plan.person_id).holders


def test_an_unsubscribed_agency_or_one_outside_the_live_rollout_hears_nothing() -> None:
    w, number = _country(World(rollout=rollout_at(1)))  # tax and pension, three pilot cities
    w.register("mun-13104")  # Shinjuku: subscribed, but outside the pilot
    w.register("mun-27100", subscriptions=["ApplicationReceived"])  # Osaka: not subscribed
    chiyoda = w.enrol("mun-13101", number)
    for agency in ("mun-13104", "mun-27100", "mun-01100"):
        w.enrol(agency, number)
    plan = w.publish(
        Relocation(
            metadata=metadata("mun-13101", w.now),
            person_code=chiyoda,
            from_municipality="mun-13104",
            to_municipality="mun-13101",
            moved_on=w.now.date(),
        )
    )
    # Sapporo: subscribed, in the pilot, entitled by the live tax row tx-01
    assert [d.agency for d in plan.deliveries] == ["mun-01100"]


def test_nobody_else_hears_that_a_person_applied_for_something() -> None:
    w, number = _country()
    chiyoda = w.enrol("mun-13101", number)
    w.enrol("mun-27100", number)
    w.enrol("jps", number)
    application = w.publish(
        ApplicationReceived(
            metadata=metadata("mun-13101", w.now),
            person_code=chiyoda,
            procedure="public_assistance",
            received_on=w.now.date(),
        )
    )
    assert application.deliveries == ()
    event = w.state.person(application.person_id).events[0]
    assert event.entitled == ("mun-13101",)
    assert event.procedure == "public_assistance"


def test_a_clinical_referral_goes_only_to_the_referred_institution() -> None:
    w, number = _country()
    first = w.enrol("med-0001", number)
    w.enrol("mun-13101", number)
    plan = w.publish(
        ClinicalUpdate(
            metadata=metadata("med-0001", w.now),
            person_code=first,
            document_category="referral",
            documented_on=date(2026, 4, 1),
            referred_to="med-0002",
        )
    )
    assert [d.agency for d in plan.deliveries] == ["med-0002"]
    assert "med-0002" in w.state.person(plan.person_id).holders
    row = plan.deliveries[0].row  # the disclosure names the row that allows it, for its record
    assert row is not None
    assert row.purpose == "continuity_of_care"
    unreferred = w.publish(
        ClinicalUpdate(
            metadata=metadata("med-0001", w.now),
            person_code=first,
            document_category="lab",
            documented_on=date(2026, 4, 1),
        )
    )
    assert unreferred.deliveries == ()


def test_consent_and_proxy_facts_go_to_the_portal_when_it_holds_everyone_named() -> None:
    w, number = _country()
    helper_number = w.new_number()
    principal = w.enrol("mun-13101", number)
    helper = w.enrol("mun-13101", helper_number)
    w.enrol("portal", number)
    consent = w.publish(
        ConsentGiven(
            metadata=metadata("med-0001", w.now),
            person_code=w.enrol("med-0001", number),
            purpose="continuity_of_care",
            recipient="med-0001",
            consent_token=w.consent_token("med-0001", number, "continuity_of_care"),
        )
    )
    assert [d.agency for d in consent.deliveries] == ["portal"]
    assert consent.deliveries[0].row is None  # the person's own view: no disclosure
    registered = ProxyRegistered(
        metadata=metadata("mun-13101", w.now),
        principal_code=principal,
        proxy_code=helper,
        kind="VOLUNTARY",
        scope=["welfare"],
        registered_by="MUNICIPAL_COUNTER_CHECK",
    )
    assert w.publish(registered).deliveries == ()  # the portal does not hold the helper
    w.enrol("portal", helper_number)
    revoked = w.publish(
        ProxyRevoked(
            metadata=metadata("mun-13101", w.now), principal_code=principal, proxy_code=helper
        )
    )
    assert [d.agency for d in revoked.deliveries] == ["portal"]
    principal_id = w.keys.codes.decode("mun-13101", principal)
    assert principal_id is not None
    assert w.state.person(principal_id).proxies == ()


def test_legal_proxies_come_only_from_a_municipalitys_dependency_fact() -> None:
    w, number = _country()
    child = w.enrol("mun-13101", number)
    parent = w.enrol("mun-13101", w.new_number())
    child_id = w.keys.codes.decode("mun-13101", child)
    assert child_id is not None

    def fact(publisher: str, relationship: str, change: str) -> DependencyChanged:
        codes = w.keys.codes
        return DependencyChanged(
            metadata=metadata(publisher, w.now),
            person_code=codes.translate("mun-13101", child, publisher) or b"",
            related_person_code=codes.translate("mun-13101", parent, publisher) or b"",
            relationship=relationship,
            change=change,
            effective_on=w.now.date(),
            until=date(2040, 1, 1),
        )

    not_believed = w.try_publish(fact("med-0001", "GUARDIAN", "ADDED"))
    assert isinstance(not_believed, Refused)
    assert not_believed.reason is RefusalReason.NOT_ENTITLED
    w.publish(fact("mun-13101", "DEPENDANT", "ADDED"))
    assert w.state.person(child_id).proxies == ()
    w.publish(fact("mun-13101", "GUARDIAN", "ADDED"))
    assert len(w.state.person(child_id).proxies) == 1
    w.publish(fact("mun-13101", "GUARDIAN", "REMOVED"))
    assert w.state.person(child_id).proxies == ()


def test_events_with_unknown_codes_wrong_publishers_or_from_non_agencies_are_refused() -> None:
    w, number = _country()
    chiyoda = w.enrol("mun-13101", number)
    osaka_says_chiyoda_moved_in = Relocation(
        metadata=metadata("mun-27100", w.now),
        person_code=w.keys.codes.translate("mun-13101", chiyoda, "mun-27100") or b"",
        from_municipality="mun-01100",
        to_municipality="mun-13101",
        moved_on=w.now.date(),
    )
    forged = ConsentGiven(
        metadata=metadata("mun-13101", w.now), person_code=b"x" * 33, purpose="continuity_of_care"
    )
    operator = ConsentGiven(
        metadata=metadata("op-admin", w.now), person_code=chiyoda, purpose="continuity_of_care"
    )
    for event, reason in ((forged, R.UNKNOWN_CODE), (operator, R.MALFORMED)):
        refused = w.try_publish(event)
        assert isinstance(refused, Deny)
        assert refused.reason is reason
    not_believed = w.try_publish(osaka_says_chiyoda_moved_in)
    assert isinstance(not_believed, Refused)
    assert not_believed.reason is RefusalReason.NOT_ENTITLED


def test_an_event_published_twice_is_delivered_once() -> None:
    w, number = _country()
    codes = {a: w.enrol(a, number) for a in ("mun-13101", "mun-27100")}
    event = Relocation(
        metadata=metadata("mun-13101", w.now),
        person_code=codes["mun-13101"],
        from_municipality="mun-27100",
        to_municipality="mun-13101",
        moved_on=w.now.date(),
    )
    first, again = w.publish(event), w.publish(event)
    assert [d.agency for d in first.deliveries] == ["mun-27100"]
    assert again.deliveries == ()
    assert again.changes == ()


def test_a_suspended_agency_receives_no_fan_out_until_reinstated() -> None:
    w, number = _country()
    w.enrol("portal", number)
    code = w.enrol("med-0001", number)
    token = w.consent_token("med-0001", number, "continuity_of_care")

    def consent() -> list[str]:
        plan = w.publish(
            ConsentGiven(
                metadata=metadata("med-0001", w.now),
                person_code=code,
                purpose="continuity_of_care",
                recipient="med-0001",
                consent_token=token,
            )
        )
        return [d.agency for d in plan.deliveries]

    set_suspension(w.state, "portal", True, "investigation")
    assert consent() == []
    set_suspension(w.state, "portal", False, "reinstated")
    assert consent() == ["portal"]
