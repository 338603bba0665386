"""The rollout (スモールスタート) as data, changed by control messages replicas apply alike."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.core.rollout import (
    Rollout,
    RolloutPlanError,
    RolloutRefused,
    apply_rollout_change,
    default_plan_text,
    initial_rollout,
    parse_plan,
)
from schemas.vocabulary import AgencyKind, Sector

from .conftest import rollout_at


def test_nothing_is_live_before_the_first_advance() -> None:
    rollout = initial_rollout()
    assert rollout.live_sectors == frozenset()
    assert not rollout.sector_live(Sector.TAX)
    assert not rollout.in_scope("jps", AgencyKind.JPS)


def test_the_default_plan_starts_with_tax_and_pension_in_three_pilot_cities() -> None:
    pilot = rollout_at(1)
    assert pilot.live_sectors == {Sector.TAX, Sector.PENSION}
    assert pilot.sector_live(Sector.PENSION)
    assert all(
        pilot.in_scope(m, AgencyKind.MUNICIPALITY) for m in ("mun-13101", "mun-27100", "mun-01100")
    )
    assert not pilot.in_scope("mun-13104", AgencyKind.MUNICIPALITY)
    assert pilot.in_scope("jps", AgencyKind.JPS)
    second = rollout_at(2)
    assert second.in_scope("mun-13104", AgencyKind.MUNICIPALITY)
    assert {Sector.WELFARE, Sector.LONG_TERM_CARE} <= second.live_sectors
    assert {Sector.HEALTH_INSURANCE, Sector.EMPLOYMENT} <= rollout_at(3).live_sectors
    assert Sector.MEDICAL not in rollout_at(3).live_sectors
    assert rollout_at(4).in_scope("med-0001", AgencyKind.MEDICAL)


def test_pausing_and_resuming_a_sector_and_rolling_back_a_phase() -> None:
    rollout = rollout_at(2)
    paused = apply_rollout_change(rollout, "PAUSE_SECTOR", Sector.WELFARE, None)
    assert isinstance(paused, Rollout)
    assert Sector.WELFARE not in paused.live_sectors
    advanced = apply_rollout_change(paused, "ADVANCE", None, None)
    assert isinstance(advanced, Rollout)
    assert Sector.WELFARE not in advanced.live_sectors  # a pause survives phase changes
    resumed = apply_rollout_change(advanced, "RESUME_SECTOR", Sector.WELFARE, None)
    assert isinstance(resumed, Rollout)
    assert Sector.WELFARE in resumed.live_sectors
    back = apply_rollout_change(resumed, "ROLL_BACK", None, None)
    assert back == rollout_at(2)


@pytest.mark.parametrize(
    ("rollout", "operation", "sector", "plan", "complaint"),
    [
        (rollout_at(4), "ADVANCE", None, None, "last phase"),
        (initial_rollout(), "ROLL_BACK", None, None, "nothing to roll back"),
        (rollout_at(1), "PAUSE_SECTOR", None, None, "needs a sector"),
        (rollout_at(1), "LOAD_PLAN", None, None, "needs plan_json"),
        (rollout_at(1), "LOAD_PLAN", None, "{", "not valid JSON"),
        (rollout_at(1), "SKIP", None, None, "unknown rollout operation"),
    ],
)
def test_an_impossible_rollout_change_is_refused_and_changes_nothing(
    rollout: Rollout, operation: str, sector: Sector | None, plan: str | None, complaint: str
) -> None:
    refused = apply_rollout_change(rollout, operation, sector, plan)
    assert isinstance(refused, RolloutRefused)
    assert complaint in refused.message


def test_loading_a_shorter_plan_keeps_the_phase_within_it() -> None:
    plan = json.dumps(
        {
            "version": "2",
            "phases": [{"name": "only", "sectors": ["tax"], "agencies": {"ids": ["mun-13101"]}}],
        }
    )
    loaded = apply_rollout_change(rollout_at(3), "LOAD_PLAN", None, plan)
    assert isinstance(loaded, Rollout)
    assert loaded.phase == 1
    assert loaded.live_sectors == {Sector.TAX}


@pytest.mark.parametrize(
    ("document", "complaint"),
    [
        ({"phases": []}, "at least one phase"),
        ({}, "list of phases"),
        ({"phases": [1]}, "phase #1 is not an object"),
        ({"phases": [{"sectors": []}]}, "phase #1 has no name"),
        ({"phases": [{"name": "x", "sectors": ["defence"]}]}, "phase 'x': unknown sector"),
        ({"phases": [{"name": "x", "agencies": {"kinds": ["bank"]}}]}, "unknown sector or agency"),
        ({"phases": [{"name": "x", "agencies": {"ids": ["mun-1"]}}]}, "not an agency id"),
    ],
)
def test_an_invalid_plan_is_refused_naming_the_phase(document: object, complaint: str) -> None:
    with pytest.raises(RolloutPlanError, match=complaint):
        parse_plan(json.dumps(document))


operations = st.lists(
    st.tuples(
        st.sampled_from(["ADVANCE", "ROLL_BACK", "PAUSE_SECTOR", "RESUME_SECTOR", "LOAD_PLAN"]),
        st.sampled_from(list(Sector)),
    ),
    max_size=20,
)


@given(operations)
def test_every_replica_applying_the_same_changes_reaches_the_same_rollout(
    changes: list[tuple[str, Sector]],
) -> None:
    def replay() -> Rollout:
        rollout = initial_rollout()
        for operation, sector in changes:
            plan = default_plan_text() if operation == "LOAD_PLAN" else None
            result = apply_rollout_change(rollout, operation, sector, plan)
            rollout = result if isinstance(result, Rollout) else rollout
        return rollout

    first, second = replay(), replay()
    assert first == second
    assert first.live_sectors <= (
        first.plan.phases[first.phase - 1].sectors if first.phase else frozenset()
    )
    assert not (first.live_sectors & first.paused)
