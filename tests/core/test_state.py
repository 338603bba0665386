"""Hub state: small per-person records that survive a changelog round trip; budgets; pruning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.state import (
    DEFAULT_BURST,
    DEFAULT_PER_SECOND,
    Confirmation,
    Consent,
    EventRecord,
    GrantProxy,
    HubState,
    PersonRecord,
    ProxyGrant,
    RatePolicy,
    Withdrawal,
    apply,
    budget_available,
    budget_of,
    prune,
    set_budget,
    spend_budget,
)
from schemas.vocabulary import EventType

from .world import World

agencies = st.sampled_from(["mun-13101", "mun-27100", "jps", "portal", "med-0001"])
seconds = st.integers(1_600_000_000, 1_900_000_000)
events = st.builds(
    EventRecord,
    event_id=st.binary(min_size=16, max_size=16),
    type=st.sampled_from(list(EventType)),
    at=seconds,
    publisher=agencies,
    entitled=st.lists(agencies, max_size=3).map(tuple),
    counterpart=st.none() | agencies,
    procedure=st.none() | st.sampled_from(["child_allowance", "public_assistance"]),
)
consents = st.builds(
    Consent, st.sampled_from(["continuity_of_care"]), st.none() | agencies, st.none() | seconds
)
grants = st.builds(
    ProxyGrant,
    st.binary(min_size=16, max_size=16),
    st.booleans(),
    st.frozensets(st.sampled_from(["*", "welfare", "child_allowance"])),
    seconds,
    st.none() | seconds,
    st.sampled_from([Confirmation.PRINCIPAL, Confirmation.UNCONFIRMED]),
)
records = st.builds(
    PersonRecord,
    holders=st.lists(agencies, unique=True, max_size=5).map(tuple),
    events=st.lists(events, max_size=4).map(tuple),
    consents=st.lists(consents, max_size=2).map(tuple),
    proxies=st.lists(grants, max_size=2).map(tuple),
    number_index=st.none() | st.binary(min_size=16, max_size=16),
    withdrawals=st.lists(
        st.builds(
            Withdrawal,
            st.sampled_from(["continuity_of_care"]),
            st.none() | agencies,
            st.floats(1.6e9, 1.9e9),
        ),
        max_size=2,
    ).map(tuple),
)


@given(records)
def test_a_person_record_survives_the_changelog_round_trip(record: PersonRecord) -> None:
    assert PersonRecord.from_bytes(record.to_bytes()) == record


def test_the_rate_budget_refills_with_time_and_never_beyond_capacity() -> None:
    state = HubState(rate_policy=RatePolicy(capacity=2, per_second=1, overrides={"jps": (5, 1)}))
    assert budget_available(state, "mun-13101", 100.0) == 2
    spend_budget(state, "mun-13101", 100.0)
    spend_budget(state, "mun-13101", 100.0)
    assert budget_available(state, "mun-13101", 100.0) == 0
    assert budget_available(state, "mun-13101", 100.5) == 0.5
    assert budget_available(state, "mun-13101", 1000.0) == 2
    assert budget_available(state, "jps", 0.0) == 5


def routed(state: HubState, agency: str, stamps: list[float]) -> int:
    """How many requests stamped at `stamps` (in arrival order) the budget lets through."""
    count = 0
    for at in stamps:
        if budget_available(state, agency, at) >= 1.0:
            spend_budget(state, agency, at)
            count += 1
    return count


def test_the_default_budget_routes_1250_of_a_flood_of_5000_in_half_a_second() -> None:
    assert (DEFAULT_BURST, DEFAULT_PER_SECOND) == (1_000.0, 500.0)
    stamps = [100.0 + i * 0.5 / 4_999 for i in range(5_000)]  # the last at 100.5
    assert 1_249 <= routed(HubState(), "mun-13101", stamps) <= 1_000 + 0.5 * 500


def test_the_demos_peak_of_200_a_second_is_never_limited_by_the_default() -> None:
    stamps = [100.0 + i / 200 for i in range(200 * 60)]  # a minute of it, over 3 partitions
    shares = [HubState(budget_share=3) for _ in range(3)]
    assert sum(routed(shares[k], "jps", stamps[k::3]) for k in range(3)) == len(stamps)


def test_a_budget_set_on_the_control_channel_overrides_the_replicas_own() -> None:
    state = HubState(rate_policy=RatePolicy(capacity=2, per_second=1, overrides={"jps": (5, 1)}))
    set_budget(state.budgets_set, None, 30, 3)
    assert budget_of(state, "jps") == (30, 3)  # every agency's, over the replica's override
    set_budget(state.budgets_set, "jps", 7, 0)
    assert budget_of(state, "jps") == (7, 0)
    assert budget_of(state, "mun-13101") == (30, 3)
    assert budget_available(state, "jps", 100.0) == 7


def test_a_request_stamped_earlier_than_the_last_counted_refills_nothing() -> None:
    state = HubState(rate_policy=RatePolicy(capacity=2, per_second=1))
    spend_budget(state, "mun-13101", 100.0)
    spend_budget(state, "mun-13101", 100.0)
    # Alternating an old and a new time (two source partitions, or a sender's games) cannot
    # refill the same interval twice.
    assert routed(state, "mun-13101", [90.0, 101.0, 90.0, 101.0, 90.0, 102.0]) == 2


@given(
    st.lists(st.floats(0, 60), min_size=1, max_size=300),
    st.floats(1, 50),
    st.floats(0, 20),
    st.integers(1, 6),
)
def test_requests_routed_never_exceed_burst_plus_rate_times_elapsed(
    stamps: list[float], burst: float, per_second: float, partitions: int
) -> None:
    policy = RatePolicy(capacity=burst, per_second=per_second)
    shares = [HubState(rate_policy=policy, budget_share=partitions) for _ in range(partitions)]
    total = sum(routed(shares[i % partitions], "jps", stamps[i::partitions])
                for i in range(partitions))  # fmt: skip
    elapsed = max(stamps) - min(stamps)
    # a share is at least one request, so tiny budgets allow one per partition at once
    assert total <= max(burst, partitions) + per_second * elapsed + 1e-6


def test_a_confirmed_proxy_cannot_be_overwritten_by_the_proxy_alone() -> None:
    state = HubState()
    principal, proxy = bytes(16), b"\x01" * 16
    confirmed = ProxyGrant(proxy, False, frozenset({"welfare"}), 0, None, Confirmation.PRINCIPAL)
    apply(state, GrantProxy(principal, confirmed))
    widened = ProxyGrant(proxy, False, frozenset({"*"}), 0, None, Confirmation.UNCONFIRMED)
    apply(state, GrantProxy(principal, widened))
    assert state.person(principal).proxies == (confirmed,)


def test_pruning_forgets_old_events_expired_consents_proxies_requests_and_tokens() -> None:
    moved_world = World()
    moved_world.register("mun-13101", "mun-27100")
    number = moved_world.new_number()
    moved_world.enrol("mun-27100", number)
    code = moved_world.enrol("mun-13101", number)
    moved_world.relocation(code, "mun-27100", "mun-13101")
    moved_world.consent(
        "mun-13101", code, "continuity_of_care", expires_at=moved_world.now + timedelta(days=1)
    )
    moved_world.request(
        "mun-13101",
        code,
        "mun-27100",
        "hi-01",
        ["taxable_income"],
        moved_world.state.person(moved_world.keys.codes.decode("mun-13101", code) or b"")
        .events[0]
        .event_id
        and __import__("uuid").uuid4(),
    )
    state = moved_world.state
    state.used_tokens[__import__("uuid").uuid4()] = 0
    person_id = moved_world.keys.codes.decode("mun-13101", code)
    assert person_id is not None
    later = moved_world.now + timedelta(days=400)
    prune(state, later, keep_events_for=365 * 86_400, keep_processed_for=86_400)
    record = state.person(person_id)
    assert record.events == ()
    assert record.consents == ()
    assert record.holders == ("mun-27100", "mun-13101")
    assert state.processed == {}
    assert state.used_tokens == {}
    unchanged = dict(state.persons)
    prune(state, later, keep_events_for=365 * 86_400, keep_processed_for=86_400)
    assert state.persons == unchanged


def test_a_consent_without_expiry_stays_live() -> None:
    assert Consent("continuity_of_care", None, None).live(
        datetime(2099, 1, 1, tzinfo=UTC).timestamp()
    )


def test_partitions_sharing_a_budget_together_allow_no_more_than_the_budget() -> None:
    policy = RatePolicy(capacity=6, per_second=3)
    shares = [HubState(rate_policy=policy, budget_share=3) for _ in range(3)]
    allowed = 0
    for state in shares:
        while budget_available(state, "mun-13101", 1_000.0) >= 1.0:
            spend_budget(state, "mun-13101", 1_000.0)
            allowed += 1
    assert allowed == 6
    later = sum(budget_available(state, "mun-13101", 1_001.0) for state in shares)
    assert later == 3.0  # refilled together at the agency's rate, not three times it


def test_budgets_are_set_for_everyone_or_one_agency_and_a_malformed_one_is_named() -> None:
    policy = RatePolicy(10_000, 2_000).with_budgets(["500/50", "mun-13101=20/1.5"])
    assert policy.for_agency("jps") == (500.0, 50.0)
    assert policy.for_agency("mun-13101") == (20.0, 1.5)
    for bad in ("500", "mun-13101=x/1", "0/5", "10/-1"):
        with pytest.raises(ValueError, match="CAPACITY/PER_SECOND") as refused:
            policy.with_budgets([bad])
        assert repr(bad) in str(refused.value)


def test_the_metered_requests_metric_counts_routes_budgeted_denials_and_rate_limits_only() -> None:
    from hub.core.outcomes import Deny
    from hub.core.state import metered_as
    from schemas.vocabulary import DenialReason as R

    assert metered_as(Deny(R.UNKNOWN_CODE, "m")) == "UNKNOWN_CODE"
    assert metered_as(Deny(R.MALFORMED, "m")) == "MALFORMED"
    assert metered_as(Deny(R.RATE_LIMITED, "m")) == "RATE_LIMITED"
    assert metered_as(Deny(R.NO_LEGAL_BASIS, "m")) is None
