"""Who may assert what (DOMAIN.md §14): the trust table as data and the checks made before a
fact changes anything. No Kafka."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from hub.core.entitlement import RefusalReason, Refused, assertion_refusal
from hub.core.state import GrantProxy, ProxyGrant, apply, prune
from hub.core.trust import Condition, TrustTableError, default_trust_table, parse_trust_table
from schemas.consent_token import issue_consent_token
from schemas.models import (
    ApplicationReceived,
    ClinicalUpdate,
    ConsentGiven,
    ConsentWithdrawn,
    IncomeDetermined,
    Message,
    ProxyKind,
    ProxyRegistered,
    ProxyRegistrant,
    ProxyRevoked,
    Relocation,
)
from schemas.vocabulary import AgencyKind, agency_kind

from .world import World, metadata

TRUST = default_trust_table()
PORTAL_KEY = Ed25519PrivateKey.generate()


def world() -> World:
    w = World()
    w.keys = replace(w.keys, consent_token_issuers={"portal-1": PORTAL_KEY.public_key()})
    w.register("mun-13101", "mun-27100", "jps", "med-0001", "med-0002", "portal")
    return w


def check(w: World, event: Message, **persons: bytes) -> Refused | None:
    publisher = event.metadata.sender
    decoded = {field: w.keys.codes.decode(publisher, code) for field, code in persons.items()}
    assert all(p is not None for p in decoded.values())
    return assertion_refusal(
        event,
        agency_kind(publisher),
        decoded,  # type: ignore[arg-type]
        w.state,
        TRUST,
        w.table,
        w.keys,
        w.now,
    )


def person(w: World, *agencies: str) -> dict[str, bytes]:
    number = w.new_number()
    return {agency: w.enrol(agency, number) for agency in agencies}


def consent(w: World, publisher: str, code: bytes, **fields: Any) -> ConsentGiven:
    return ConsentGiven(
        metadata=metadata(publisher, w.now),
        person_code=code,
        purpose="continuity_of_care",
        **fields,
    )


def token(w: World, portal_code: bytes, institution: str = "med-0002", **kw: Any) -> str:
    return issue_consent_token(
        PORTAL_KEY,
        "portal-1",
        portal_person_code=portal_code,
        institution=institution,
        purpose=kw.pop("purpose", "continuity_of_care"),
        now=w.now,
        **kw,
    )


def test_the_shipped_trust_table_names_who_asserts_each_fact() -> None:
    assert TRUST.rule("ClinicalUpdate").asserted_by == {AgencyKind.MEDICAL}
    assert TRUST.rule("ConsentGiven").asserted_by == {AgencyKind.PORTAL}
    assert TRUST.rule("ConsentGiven").with_consent_token == {AgencyKind.MEDICAL}
    assert TRUST.rule("NoticeAcknowledged").conditions == {Condition.DELIVERED_NOTICE}
    assert TRUST.future_tolerance_seconds == 300
    assert not TRUST.rule("NoSuchFact").may_assert(AgencyKind.PORTAL)  # unlisted: nobody


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"version": ""}, "version"),
        ({"future_tolerance_seconds": -1}, "future_tolerance_seconds"),
        ({"facts": [{"fact": "Gossip", "asserted_by": []}]}, "unknown fact"),
        ({"facts": [{"fact": "Relocation", "asserted_by": ["king"]}]}, "unknown agency kind"),
        ({"facts": [{"fact": "Relocation", "conditions": ["vibes"]}]}, "unknown condition"),
        ({"facts": [{"fact": "Relocation"}, {"fact": "Relocation"}]}, "twice"),
        ({"facts": [{"fact": "Relocation", "with_consent_token": ["medical"]}]}, "token"),
        ({"facts": [{"fact": "Relocation", "asserted_by": ["municipality"], "x": 1}]}, "x"),
    ],
)
def test_an_invalid_trust_table_is_refused_naming_what_is_wrong(
    change: dict[str, Any], message: str
) -> None:
    document = {"version": "t", "future_tolerance_seconds": 300, "facts": []} | change
    with pytest.raises(TrustTableError, match=message):
        parse_trust_table(document)


def test_the_shipped_file_round_trips_through_the_validator() -> None:
    from importlib import resources

    text = resources.files("hub").joinpath("data/trust.json").read_text("utf-8")
    assert parse_trust_table(json.loads(text)) == TRUST


def test_a_requesting_hospital_cannot_assert_its_own_consent() -> None:
    w = world()
    codes = person(w, "med-0002", "portal")
    refused = check(w, consent(w, "med-0002", codes["med-0002"], recipient="med-0002"),
                    person_code=codes["med-0002"])  # fmt: skip
    assert refused is not None
    assert refused.reason is RefusalReason.NOT_ENTITLED
    assert "consent token" in refused.message


def test_the_portal_asserts_a_consent_for_the_signed_in_person() -> None:
    w = world()
    codes = person(w, "portal")
    assert check(w, consent(w, "portal", codes["portal"]), person_code=codes["portal"]) is None


def test_a_hospital_presenting_the_persons_consent_token_is_believed() -> None:
    w = world()
    codes = person(w, "med-0002", "portal")
    event = consent(w, "med-0002", codes["med-0002"], recipient="med-0002",
                    consent_token=token(w, codes["portal"]))  # fmt: skip
    assert check(w, event, person_code=codes["med-0002"]) is None


@pytest.mark.parametrize(
    "tamper",
    ["other_person", "other_institution", "other_purpose", "expired", "recipient", "untrusted",
     "outlasts"],
)  # fmt: skip
def test_a_consent_token_for_anything_else_is_refused(tamper: str) -> None:
    w = world()
    codes = person(w, "med-0002", "portal")
    other = person(w, "portal")
    fields: dict[str, Any] = {"recipient": "med-0002"}
    kw: dict[str, Any] = {}
    portal_code = codes["portal"]
    if tamper == "other_person":
        portal_code = other["portal"]
    elif tamper == "other_institution":
        kw["institution"] = "med-0001"
    elif tamper == "other_purpose":
        kw["purpose"] = "medication_reconciliation"
    elif tamper == "recipient":
        fields["recipient"] = None
    elif tamper == "outlasts":
        kw["consent_until"] = w.now + timedelta(days=1)
    issued = token(w, portal_code, **kw)
    if tamper == "untrusted":
        issued = issue_consent_token(
            Ed25519PrivateKey.generate(), "portal-1", portal_person_code=portal_code,
            institution="med-0002", purpose="continuity_of_care", now=w.now,
        )  # fmt: skip
    if tamper == "expired":
        w.later(minutes=16)
    event = consent(w, "med-0002", codes["med-0002"], consent_token=issued, **fields)
    refused = check(w, event, person_code=codes["med-0002"])
    assert refused is not None
    assert refused.reason is RefusalReason.NOT_ENTITLED


def test_a_municipality_cannot_publish_a_clinical_update() -> None:
    w = world()
    codes = person(w, "mun-13101")
    event = ClinicalUpdate(metadata=metadata("mun-13101", w.now), person_code=codes["mun-13101"],
                           document_category="referral", documented_on=date(2026, 4, 1),
                           referred_to="med-0002")  # fmt: skip
    refused = check(w, event, person_code=codes["mun-13101"])
    assert refused == Refused(
        RefusalReason.NOT_ENTITLED, "a municipality agency may not assert ClinicalUpdate"
    )


def test_a_relocation_is_believed_only_from_the_destination() -> None:
    w = world()
    codes = person(w, "mun-13101", "mun-27100")
    moved = Relocation(metadata=metadata("mun-13101", w.now), person_code=codes["mun-13101"],
                       from_municipality="mun-13101", to_municipality="mun-27100",
                       moved_on=w.now.date())  # fmt: skip
    assert check(w, moved, person_code=codes["mun-13101"]) is not None
    moved_in = moved.model_copy(update={"metadata": metadata("mun-27100", w.now),
                                        "person_code": codes["mun-27100"]})  # fmt: skip
    assert check(w, moved_in, person_code=codes["mun-27100"]) is None


def test_an_application_is_believed_only_for_the_publishers_own_procedures() -> None:
    w = world()
    codes = person(w, "jps", "mun-13101")

    def applied(agency: str, procedure: str) -> ApplicationReceived:
        return ApplicationReceived(metadata=metadata(agency, w.now), person_code=codes[agency],
                                   procedure=procedure, received_on=w.now.date())  # fmt: skip

    own = applied("jps", "national_pension_premium_exemption")
    assert check(w, own, person_code=codes["jps"]) is None
    foreign = applied("jps", "child_allowance")  # a municipality's procedure
    refused = check(w, foreign, person_code=codes["jps"])
    assert refused is not None
    assert refused.reason is RefusalReason.NOT_ENTITLED


def test_an_event_dated_ten_years_ahead_is_refused_and_five_minutes_ahead_is_not() -> None:
    w = world()
    codes = person(w, "mun-13101")

    def income(at: datetime) -> IncomeDetermined:
        return IncomeDetermined(metadata=metadata("mun-13101", at),
                                person_code=codes["mun-13101"], fiscal_year=2025)  # fmt: skip

    ahead = check(w, income(w.now + timedelta(days=3650)), person_code=codes["mun-13101"])
    assert ahead is not None
    assert ahead.reason is RefusalReason.FUTURE_DATED
    assert check(w, income(w.now + timedelta(minutes=5)), person_code=codes["mun-13101"]) is None


@given(st.integers(-(10**6), 10**8))
def test_only_what_is_dated_beyond_the_tolerance_is_future_dated(seconds: int) -> None:
    w = World()
    w.register("mun-13101")
    code = w.enrol("mun-13101", w.new_number())
    event = IncomeDetermined(metadata=metadata("mun-13101", w.now + timedelta(seconds=seconds)),
                             person_code=code, fiscal_year=2025)  # fmt: skip
    refused = check(w, event, person_code=code)
    assert (refused is not None) == (seconds > 300)


def test_a_suspended_agency_asserts_nothing() -> None:
    w = world()
    codes = person(w, "mun-13101")
    w.state.suspended["mun-13101"] = "browsing"
    event = IncomeDetermined(metadata=metadata("mun-13101", w.now),
                             person_code=codes["mun-13101"], fiscal_year=2025)  # fmt: skip
    refused = check(w, event, person_code=codes["mun-13101"])
    assert refused is not None
    assert refused.reason is RefusalReason.AGENCY_SUSPENDED


def _proxy_revoked(w: World, agency: str, principal: bytes, proxy: bytes) -> ProxyRevoked:
    return ProxyRevoked(metadata=metadata(agency, w.now), principal_code=principal,
                        proxy_code=proxy)  # fmt: skip


def test_a_legal_guardian_is_revoked_only_by_a_municipality() -> None:
    w = world()
    ward = person(w, "jps", "mun-13101", "portal")
    guardian = person(w, "jps", "mun-13101", "portal")
    ward_id = w.keys.codes.decode("jps", ward["jps"])
    guardian_id = w.keys.codes.decode("jps", guardian["jps"])
    assert ward_id is not None
    assert guardian_id is not None
    grant = ProxyGrant(guardian_id, True, frozenset({"*"}), 0, None, "DEPENDENCY")
    apply(w.state, GrantProxy(ward_id, grant))
    for agency, allowed in (("jps", False), ("portal", False), ("mun-13101", True)):
        refused = check(w, _proxy_revoked(w, agency, ward[agency], guardian[agency]),
                        principal_code=ward[agency], proxy_code=guardian[agency])  # fmt: skip
        assert (refused is None) == allowed, agency


def test_a_voluntary_proxy_is_revoked_through_the_portal_or_a_municipality_only() -> None:
    w = world()
    principal = person(w, "jps", "portal")
    proxy = person(w, "jps", "portal")
    principal_id = w.keys.codes.decode("portal", principal["portal"])
    proxy_id = w.keys.codes.decode("portal", proxy["portal"])
    assert principal_id is not None
    assert proxy_id is not None
    grant = ProxyGrant(proxy_id, False, frozenset({"pension"}), 0, None, "PRINCIPAL")
    apply(w.state, GrantProxy(principal_id, grant))
    by_portal = _proxy_revoked(w, "portal", principal["portal"], proxy["portal"])
    assert check(w, by_portal, principal_code=principal["portal"],
                 proxy_code=proxy["portal"]) is None  # fmt: skip
    by_jps = _proxy_revoked(w, "jps", principal["jps"], proxy["jps"])
    assert check(w, by_jps, principal_code=principal["jps"], proxy_code=proxy["jps"]) is not None


def test_a_legal_proxy_is_registered_only_by_a_municipality() -> None:
    w = world()
    principal = person(w, "portal", "mun-13101")
    proxy = person(w, "portal", "mun-13101")

    def registered(agency: str, kind: ProxyKind) -> ProxyRegistered:
        return ProxyRegistered(
            metadata=metadata(agency, w.now), principal_code=principal[agency],
            proxy_code=proxy[agency], kind=kind, scope=["pension"],
            registered_by=ProxyRegistrant.PRINCIPAL,
        )  # fmt: skip

    for agency, kind, allowed in (
        ("portal", ProxyKind.VOLUNTARY, True),
        ("portal", ProxyKind.LEGAL, False),
        ("mun-13101", ProxyKind.LEGAL, True),
    ):
        refused = check(w, registered(agency, kind), principal_code=principal[agency],
                        proxy_code=proxy[agency])  # fmt: skip
        assert (refused is None) == allowed, (agency, kind)


def test_an_institution_withdraws_only_a_consent_addressed_to_itself() -> None:
    w = world()
    codes = person(w, "med-0002")

    def withdrawn(recipient: str | None) -> ConsentWithdrawn:
        return ConsentWithdrawn(metadata=metadata("med-0002", w.now),
                                person_code=codes["med-0002"], purpose="continuity_of_care",
                                recipient=recipient)  # fmt: skip

    assert check(w, withdrawn("med-0002"), person_code=codes["med-0002"]) is None
    assert check(w, withdrawn(None), person_code=codes["med-0002"]) is not None


def test_a_refusal_message_names_no_person() -> None:
    w = world()
    codes = person(w, "med-0002", "portal")
    event = consent(w, "med-0002", codes["med-0002"], recipient="med-0002",
                    consent_token=token(w, codes["portal"], institution="med-0001"))  # fmt: skip
    refused = check(w, event, person_code=codes["med-0002"])
    assert refused is not None
    for code in codes.values():
        assert code.hex() not in refused.message
    assert str(uuid.UUID(int=0)) not in refused.message


def test_a_consent_token_cannot_give_a_withdrawn_consent_again() -> None:
    w = world()
    codes = person(w, "med-0002", "portal")
    issued = token(w, codes["portal"])

    def presented() -> ConsentGiven:
        return consent(w, "med-0002", codes["med-0002"], recipient="med-0002",
                       consent_token=issued)  # fmt: skip

    w.publish(presented())
    w.later(minutes=1)
    w.publish(ConsentWithdrawn(metadata=metadata("portal", w.now), person_code=codes["portal"],
                               purpose="continuity_of_care", recipient="med-0002"))  # fmt: skip
    w.later(minutes=1)
    refused = w.try_publish(presented())
    assert isinstance(refused, Refused)
    assert refused.reason is RefusalReason.NOT_ENTITLED
    assert "withdrew" in refused.message
    assert not w.state.person(w.keys.codes.decode("portal", codes["portal"]) or b"").consents
    # A token the person issues after withdrawing gives the consent again.
    issued = token(w, codes["portal"])
    assert check(w, presented(), person_code=codes["med-0002"]) is None


def test_withdrawing_a_consent_for_any_recipient_stops_every_earlier_token() -> None:
    w = world()
    codes = person(w, "med-0002", "portal")
    event = consent(w, "med-0002", codes["med-0002"], recipient="med-0002",
                    consent_token=token(w, codes["portal"]))  # fmt: skip
    w.publish(ConsentWithdrawn(metadata=metadata("portal", w.now), person_code=codes["portal"],
                               purpose="continuity_of_care"))  # fmt: skip
    assert check(w, event, person_code=codes["med-0002"]) is not None


def test_a_withdrawal_is_forgotten_once_no_earlier_token_can_still_be_valid() -> None:
    w = world()
    codes = person(w, "portal")
    w.publish(ConsentWithdrawn(metadata=metadata("portal", w.now), person_code=codes["portal"],
                               purpose="continuity_of_care"))  # fmt: skip
    person_id = w.keys.codes.decode("portal", codes["portal"]) or b""
    prune(w.state, w.now + timedelta(minutes=30), keep_events_for=0, keep_processed_for=0)
    assert w.state.person(person_id).withdrawals
    prune(w.state, w.now + timedelta(hours=2), keep_events_for=0, keep_processed_for=0)
    assert not w.state.person(person_id).withdrawals
