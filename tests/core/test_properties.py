"""Properties of the decision over generated worlds and requests (hypothesis).

Whatever the rollout phase, the consents, the proxies, the rows and attributes asked for and the
trigger cited, a request is routed only when a row matches, its sector is live, the trigger is
valid, the person consented when the attributes are sensitive, and any proxy was confirmed by
someone other than the proxy.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from hub.core.entitlement import Refused
from hub.core.outcomes import Deny, Route
from hub.core.state import ALL_SCOPES
from schemas.models import ConsentGiven, ProxyRegistered
from schemas.vocabulary import AgencyKind

from .conftest import rollout_at
from .world import World, metadata

AGENCIES = (
    "mun-13101",
    "mun-27100",
    "mun-13104",
    "jps",
    "mhlw-ei",
    "hi-kyokai",
    "med-0001",
    "med-0002",
    "portal",
)
TABLE = World().table
ROW_IDS = sorted(TABLE.rows)
ATTRIBUTES = sorted({a for r in TABLE.rows.values() for a in r.attributes})


BY_KIND = {
    AgencyKind.MUNICIPALITY: ("mun-13101", "mun-27100", "mun-13104"),
    AgencyKind.JPS: ("jps",),
    AgencyKind.MHLW_EI: ("mhlw-ei",),
    AgencyKind.HEALTH_INSURER: ("hi-kyokai",),
    AgencyKind.MEDICAL: ("med-0001", "med-0002"),
    AgencyKind.NTA: ("nta",),
}
TRIGGERS = ("Relocation", "ApplicationReceived", "IncomeDetermined", "ClinicalUpdate", "none")


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly plausible requests (so that many are routed), with every kind of flaw mixed in."""
    row = TABLE.rows[draw(st.sampled_from(ROW_IDS))]
    plausible = draw(st.booleans()) or draw(st.booleans())
    requester = draw(st.sampled_from(BY_KIND[row.requester_kind] if plausible else AGENCIES))
    provider = draw(
        st.sampled_from(BY_KIND[row.provider_kind] if plausible else AGENCIES).filter(
            lambda p: p != requester
        )
    )
    attributes = draw(st.lists(st.sampled_from(sorted(row.attributes)), min_size=1, max_size=3))
    if not plausible:
        attributes += draw(st.lists(st.sampled_from(ATTRIBUTES), max_size=1))
    triggers = sorted(t.value for t in row.triggers)
    return {
        "phase": draw(st.sampled_from([4, 4, 4, 3, 2, 1, 0])),
        "requester": requester,
        "provider": provider,
        "row": row.id if plausible or draw(st.booleans()) else "zz-00",
        "purpose": row.purpose if plausible or draw(st.booleans()) else "other_purpose",
        "attributes": attributes,
        "trigger": draw(st.sampled_from(triggers if plausible else TRIGGERS)),
        "procedure": row.purpose if plausible else draw(st.sampled_from(["x", row.purpose])),
        "age_days": draw(st.integers(0, 30) if plausible else st.integers(0, 400)),
        "consent": draw(st.booleans()),
        "proxy": draw(
            st.sampled_from([None, None, "PROXY", "PRINCIPAL", "MUNICIPAL_COUNTER_CHECK"])
        ),
    }


def run(s: dict[str, Any]) -> tuple[World, Route | Deny, uuid.UUID, bytes | None]:
    w = World(rollout=rollout_at(s["phase"]))
    w.register(*AGENCIES, "nta")
    requester, provider = s["requester"], s["provider"]
    number = w.new_number()
    code = w.enrol(requester, number)
    provider_code = w.enrol(provider, number)
    trigger = uuid.uuid4()
    if (
        s["trigger"] == "Relocation"
        and requester.startswith("mun-")
        and provider.startswith("mun-")
    ):
        trigger = w.relocation(code, provider, requester)
    elif s["trigger"] == "ApplicationReceived":
        trigger = w.application(requester, code, s["procedure"])
    elif s["trigger"] == "IncomeDetermined":
        trigger = w.income_determined(requester, code)
    elif s["trigger"] == "ClinicalUpdate":
        trigger = w.clinical_update(provider, provider_code, referred_to=requester)
    if s["consent"]:
        w.consent(requester, code, s["purpose"])
    proxy_code = None
    if s["proxy"] is not None:
        proxy_code = w.enrol(requester, w.new_number())
        codes = w.keys.codes
        w.publish(
            ProxyRegistered(
                metadata=metadata("mun-13101", w.now),
                principal_code=codes.translate(requester, code, "mun-13101") or b"",
                proxy_code=codes.translate(requester, proxy_code, "mun-13101") or b"",
                kind="VOLUNTARY",
                scope=[ALL_SCOPES],
                registered_by=s["proxy"],
            )
        )
    w.later(days=s["age_days"])
    decision = w.request(
        requester,
        code,
        provider,
        s["row"],
        s["attributes"],
        trigger,
        purpose=s["purpose"],
        proxy_code=proxy_code,
    )
    return w, decision, trigger, proxy_code


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_nothing_is_routed_without_row_live_sector_valid_trigger_consent_and_real_proxy(
    s: dict[str, Any],
) -> None:
    w, decision, trigger, proxy_code = run(s)
    if not isinstance(decision, Route):
        return
    row = TABLE.rows[s["row"]]
    assert row.requester_kind is w.state.agencies[s["requester"]].kind
    assert row.provider_kind is w.state.agencies[s["provider"]].kind
    assert row.purpose == s["purpose"]
    assert set(decision.attributes) <= row.attributes
    assert row.sector in w.rollout.live_sectors
    event = w.state.person(decision.person_id).event(trigger.bytes)
    assert event is not None
    assert event.type in row.triggers
    assert s["requester"] in event.entitled
    assert s["age_days"] * 86_400 <= row.window_seconds
    if row.needs_consent(decision.attributes):
        assert s["consent"]
    if proxy_code is not None:
        assert s["proxy"] != "PROXY"
    sealed = w.keys.seal_route(decision)
    assert sealed.provider_code == w.keys.codes.encode(s["provider"], decision.person_id)


def test_the_generated_requests_do_include_routed_ones() -> None:
    """Guards the property above against passing vacuously."""
    found = find(
        scenarios(),
        lambda s: isinstance(run(s)[1], Route) and s["proxy"] is not None,
        settings=settings(max_examples=2_000, deadline=None, database=None),
    )
    assert found["proxy"] != "PROXY"


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(["portal", "mun-13101", "med-0001"]),
    st.lists(
        st.sampled_from(["welfare", "health_insurance", "medical", "*", "child_allowance"]),
        min_size=1,
        max_size=3,
    ),
)
def test_a_voluntary_proxy_registered_by_the_proxy_alone_never_authorises_anything(
    publisher: str, scope: list[str]
) -> None:
    w = World()
    w.register(*AGENCIES)
    number = w.new_number()
    principal = w.enrol(publisher, number)
    proxy = w.enrol(publisher, w.new_number())
    plan = w.try_publish(
        ProxyRegistered(
            metadata=metadata(publisher, w.now),
            principal_code=principal,
            proxy_code=proxy,
            kind="VOLUNTARY",
            scope=scope,
            registered_by="PROXY",
        )
    )
    principal_id = w.keys.codes.decode(publisher, principal)
    assert principal_id is not None
    grants = w.state.person(principal_id).proxies
    if publisher == "med-0001":  # not even recorded: a hospital registers no proxies
        assert isinstance(plan, Refused)
        assert grants == ()
        return
    assert len(grants) == 1
    for sector in ("welfare", "health_insurance", "medical", "tax"):
        for purpose in ("child_allowance", "continuity_of_care"):
            assert not grants[0].authorises(int(w.now.timestamp()) + 1, sector, purpose)


def test_a_portal_confirmation_by_the_principal_does_authorise() -> None:
    w = World()
    w.register(*AGENCIES)
    principal = w.enrol("portal", w.new_number())
    proxy = w.enrol("portal", w.new_number())
    w.publish(
        ProxyRegistered(
            metadata=metadata("portal", w.now),
            principal_code=principal,
            proxy_code=proxy,
            kind="VOLUNTARY",
            scope=["welfare"],
            registered_by="PRINCIPAL",
            expires_at=w.now + timedelta(days=30),
        )
    )
    w.publish(
        ConsentGiven(
            metadata=metadata("portal", w.now), person_code=principal, purpose="continuity_of_care"
        )
    )
    principal_id = w.keys.codes.decode("portal", principal)
    assert principal_id is not None
    grant = w.state.person(principal_id).proxies[0]
    at = int(w.now.timestamp()) + 1
    assert grant.authorises(at, "welfare", "child_allowance")
    assert not grant.authorises(at + 31 * 86_400, "welfare", "child_allowance")
    assert w.state.agencies["portal"].kind is AgencyKind.PORTAL
