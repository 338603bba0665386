"""Anomaly rules: each fires at its documented threshold, once per agency and window, and never
names a person. Streams of observations built without a broker."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from hub.deadletters import DeadLetterReason
from oversight.clock import ScenarioClock
from oversight.rules import (
    DenialBurst,
    ManyPersonsOneTrigger,
    NumberChangeSurge,
    OffHoursBulk,
    RefusedAssertions,
    RepeatedOverProvision,
    VolumeAboveBaseline,
)
from oversight.signals import Watch, message
from schemas.codec import decode, encode
from schemas.vocabulary import DenialReason
from tests.oversight.records import NOON, number_change, provision, refused

BROWSER = "mun-13102"
NIGHT = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # 02:00 in Tokyo


def person(i: int) -> bytes:
    return i.to_bytes(4, "big") * 9


def test_off_hours_bulk_fires_at_fifty_requests_at_night_and_not_at_noon() -> None:
    watch = Watch([OffHoursBulk()])
    day = watch.observe_all(provision(BROWSER, at=NOON) for _ in range(200))
    night = watch.observe_all(
        provision(BROWSER, at=NIGHT + timedelta(seconds=i)) for i in range(60)
    )
    assert day == []
    [signal] = night
    assert (signal.rule, signal.agency, signal.count, signal.threshold) == (
        "OFF_HOURS_BULK", BROWSER, 50, 50,
    )  # fmt: skip
    assert signal.window_start == NIGHT
    assert signal.window_seconds == 600


def test_forty_nine_requests_at_night_are_not_bulk() -> None:
    watch = Watch([OffHoursBulk()])
    assert watch.observe_all(provision(BROWSER, at=NIGHT) for _ in range(49)) == []


def test_a_scenario_clock_makes_noon_traffic_count_as_night_from_the_moment_it_is_set() -> None:
    clock = ScenarioClock()
    clock.set(reads=NIGHT, now=NOON + timedelta(minutes=5))
    watch = Watch([OffHoursBulk()], clock=clock)
    before = watch.observe_all(provision(BROWSER, at=NOON) for _ in range(60))
    after = watch.observe_all(provision(BROWSER, at=NOON + timedelta(minutes=6)) for _ in range(60))
    assert before == []
    assert [s.rule for s in after] == ["OFF_HOURS_BULK"]


def test_many_persons_citing_one_trigger_fires_at_five_persons() -> None:
    trigger = uuid.uuid4()
    watch = Watch([ManyPersonsOneTrigger()])
    same_person = watch.observe_all(
        provision(BROWSER, trigger=trigger, subject=person(0)) for _ in range(20)
    )
    four = watch.observe_all(
        provision(BROWSER, trigger=trigger, subject=person(i)) for i in range(4)
    )
    fifth = watch.observe(provision(BROWSER, trigger=trigger, subject=person(5)))
    assert same_person == four == []
    [signal] = fifth
    assert (signal.rule, signal.count, signal.threshold) == ("MANY_PERSONS_ONE_TRIGGER", 5, 5)


def test_persons_spread_over_their_own_triggers_are_not_browsing() -> None:
    watch = Watch([ManyPersonsOneTrigger()])
    assert (
        watch.observe_all(
            provision(BROWSER, trigger=uuid.uuid4(), subject=person(i)) for i in range(100)
        )
        == []
    )


def test_a_denial_burst_needs_thirty_denials_that_are_half_the_requests() -> None:
    mostly_provided = Watch([DenialBurst()])
    assert (
        mostly_provided.observe_all(
            provision(BROWSER, reason=DenialReason.TRIGGER_MISMATCH if i % 3 == 0 else None)
            for i in range(120)
        )
        == []
    )  # 40 denials, a third of the requests
    watch = Watch([DenialBurst()])
    signals = watch.observe_all(
        provision(BROWSER, reason=DenialReason.TRIGGER_MISMATCH) for _ in range(40)
    )
    [signal] = signals
    assert (signal.count, signal.threshold) == (30, 30)
    assert "TRIGGER_MISMATCH 30" in signal.summary


def test_provider_timeouts_are_no_denial_burst_of_the_requester() -> None:
    from dataclasses import replace

    timeout = replace(provision(BROWSER), reason="PROVIDER_TIMEOUT")  # type: ignore[type-var]
    assert Watch([DenialBurst()]).observe_all([timeout] * 100) == []


def test_volume_above_baseline_waits_two_hours_then_fires_at_five_times_the_baseline() -> None:
    watch = Watch([VolumeAboveBaseline()])
    start = NOON
    early = watch.observe_all(provision("jps", at=start) for _ in range(1_000))  # no baseline yet
    steady = watch.observe_all(
        provision("jps", at=start + timedelta(minutes=10 * w))
        for w in range(1, 13)
        for _ in range(60)
    )
    burst_at = start + timedelta(minutes=130)
    # the baseline is the 12 windows before the burst's: 60 each; five times that is 300
    below = watch.observe_all(provision("jps", at=burst_at) for _ in range(299))
    at = watch.observe(provision("jps", at=burst_at))
    assert early == steady == below == []
    [signal] = at
    assert (signal.rule, signal.count, signal.threshold) == ("VOLUME_ABOVE_BASELINE", 300, 300)


def test_volume_needs_at_least_two_hundred_requests_even_after_a_quiet_baseline() -> None:
    watch = Watch([VolumeAboveBaseline()])
    watch.observe(provision("jps", at=NOON))
    later = NOON + timedelta(hours=3)
    assert watch.observe_all(provision("jps", at=later) for _ in range(199)) == []
    assert [s.count for s in watch.observe(provision("jps", at=later))] == [200]


def test_a_number_change_surge_is_twenty_in_an_hour_at_one_municipality() -> None:
    watch = Watch([NumberChangeSurge()])
    assert watch.observe_all(number_change("mun-13101") for _ in range(19)) == []
    [signal] = watch.observe(number_change("mun-13101"))
    assert (signal.agency, signal.count) == ("mun-13101", 20)


def test_refused_assertions_count_not_entitled_only() -> None:
    watch = Watch([RefusedAssertions()])
    other = watch.observe_all(
        refused("portal", DeadLetterReason.UNDECODABLE, "TRUNCATED: ends early") for _ in range(9)
    )
    two = watch.observe_all(refused("portal") for _ in range(2))
    [signal] = watch.observe(refused("portal"))
    assert other == two == []
    assert (signal.rule, signal.agency, signal.count) == ("REFUSED_ASSERTIONS", "portal", 3)


def test_repeated_over_provision_is_held_against_the_provider() -> None:
    watch = Watch([RepeatedOverProvision()])
    signals = watch.observe_all(
        provision("mun-27100", provider="jps", over_provided=("bank_account",)) for _ in range(9)
    )
    [signal] = signals
    assert (signal.agency, signal.count, signal.threshold) == ("jps", 5, 5)


@pytest.mark.parametrize("hours", [0, 1])
def test_a_rule_fires_once_per_window_and_again_in_the_next(hours: int) -> None:
    watch = Watch([OffHoursBulk()])
    first = watch.observe_all(provision(BROWSER, at=NIGHT) for _ in range(500))
    again = watch.observe_all(
        provision(BROWSER, at=NIGHT + timedelta(hours=hours, minutes=5)) for _ in range(500)
    )
    assert len(first) == 1
    assert len(again) == hours  # the same window fires no more; the next one fires anew


def test_a_published_signal_names_agency_rule_window_and_counts_never_a_person() -> None:
    trigger = uuid.uuid4()
    watch = Watch()
    signals = watch.observe_all(
        provision(BROWSER, at=NIGHT, trigger=trigger, subject=person(i),
                  reason=DenialReason.TRIGGER_MISMATCH)
        for i in range(300)
    )  # fmt: skip
    assert {s.rule for s in signals} == {
        "OFF_HOURS_BULK", "MANY_PERSONS_ONE_TRIGGER", "DENIAL_BURST",
    }  # fmt: skip
    for signal in signals:
        wire = encode(message(signal))
        assert decode(wire).model_dump()["agency"] == BROWSER  # type: ignore[attr-defined]
        assert str(trigger) not in repr(asdict(signal))
        assert not any(person(i) in wire for i in range(300))


def test_every_rule_is_documented_with_its_threshold() -> None:
    import re
    from pathlib import Path

    from oversight.rules import default_rules

    page = (Path(__file__).parents[2] / "docs" / "oversight.md").read_text("utf-8")
    for rule in default_rules():
        row = next(line for line in page.splitlines() if line.startswith(f"| `{rule.name}` |"))
        assert re.search(rf"\b{rule.minimum}\b", row), rule.name
        assert rule.__doc__ is not None
        assert rule.__doc__.startswith(f"{rule.name}: ")


def test_receiving_disclosed_events_at_night_is_no_act_of_the_receiver() -> None:
    disclosures = []
    for i in range(300):
        event = uuid.uuid4()
        disclosures.append(
            provision("mun-13101", provider=BROWSER, at=NIGHT, trigger=event, request_id=event,
                      subject=person(i))
        )  # fmt: skip
    assert Watch().observe_all(disclosures) == []
