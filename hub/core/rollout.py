"""The rollout (スモールスタート): which sectors are live and which agencies are in scope.

The plan is data (`hub/data/rollout.json` or the plan_json of a RolloutChange): ordered phases,
each listing the sectors switched on and the agencies in scope (a pilot list of ids and/or
whole agency kinds). The rollout state is the plan, the current phase (0 = nothing live yet)
and the paused sectors. Operators change it with RolloutChange control messages; applying one
is a pure function of (rollout, change), so every hub replica reaches the same state.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from schemas.vocabulary import AgencyKind, Sector, is_agency_id


class RolloutPlanError(ValueError):
    """The plan document is invalid (the operator's fault); the message names the phase."""


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    sectors: frozenset[Sector]
    agency_ids: frozenset[str]
    agency_kinds: frozenset[AgencyKind]


@dataclass(frozen=True, slots=True)
class RolloutPlan:
    version: str
    phases: tuple[Phase, ...]


@dataclass(frozen=True, slots=True)
class Rollout:
    plan: RolloutPlan
    phase: int = 0  # 1-based index into plan.phases; 0 before the first advance
    paused: frozenset[Sector] = frozenset()
    # derived once, so the per-request checks are set lookups
    live_sectors: frozenset[Sector] = field(init=False)
    scope_ids: frozenset[str] = field(init=False)
    scope_kinds: frozenset[AgencyKind] = field(init=False)

    def __post_init__(self) -> None:
        current = self.plan.phases[self.phase - 1] if self.phase else None
        sectors = current.sectors if current else frozenset()
        object.__setattr__(self, "live_sectors", sectors - self.paused)
        object.__setattr__(self, "scope_ids", current.agency_ids if current else frozenset())
        object.__setattr__(self, "scope_kinds", current.agency_kinds if current else frozenset())

    def sector_live(self, sector: Sector) -> bool:
        return sector in self.live_sectors

    def in_scope(self, agency: str, kind: AgencyKind) -> bool:
        return kind in self.scope_kinds or agency in self.scope_ids


@dataclass(frozen=True, slots=True)
class RolloutRefused:
    """A control message that cannot be applied; the rollout stays as it was."""

    message: str


def _phase(raw: object, index: int) -> Phase:
    where = f"rollout plan phase #{index + 1}"
    if not isinstance(raw, Mapping):
        raise RolloutPlanError(f"{where} is not an object")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise RolloutPlanError(f"{where} has no name")
    where = f"rollout plan phase {name!r}"
    try:
        sectors = frozenset(Sector(s) for s in raw.get("sectors", []))
        agencies = raw.get("agencies", {})
        kinds = frozenset(AgencyKind(k) for k in agencies.get("kinds", []))
    except (ValueError, AttributeError) as exc:
        raise RolloutPlanError(f"{where}: unknown sector or agency kind") from exc
    ids = frozenset(agencies.get("ids", []))
    for agency in ids:
        if not is_agency_id(agency):
            raise RolloutPlanError(f"{where}: {agency!r} is not an agency id")
    return Phase(name, sectors, ids, kinds)


def parse_plan(text: str) -> RolloutPlan:
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RolloutPlanError("rollout plan is not valid JSON") from exc
    if not isinstance(document, Mapping) or not isinstance(document.get("phases"), list):
        raise RolloutPlanError("rollout plan needs a list of phases")
    if not document["phases"]:
        raise RolloutPlanError("rollout plan needs at least one phase")
    phases = tuple(_phase(p, i) for i, p in enumerate(document["phases"]))
    return RolloutPlan(str(document.get("version", "")), phases)


def default_plan_text() -> str:
    return resources.files("hub").joinpath("data/rollout.json").read_text("utf-8")


def initial_rollout(plan: RolloutPlan | None = None) -> Rollout:
    """The rollout before any control message: the plan loaded, nothing live."""
    return Rollout(parse_plan(default_plan_text()) if plan is None else plan)


def apply_rollout_change(
    rollout: Rollout, operation: str, sector: Sector | None, plan_json: str | None
) -> Rollout | RolloutRefused:
    """Apply a RolloutChange (operation LOAD_PLAN, ADVANCE, ROLL_BACK, PAUSE_SECTOR,
    RESUME_SECTOR). Pure: the same change on the same rollout gives the same rollout."""
    last = len(rollout.plan.phases)
    match operation:
        case "ADVANCE":
            if rollout.phase >= last:
                return RolloutRefused(f"already at the last phase ({last})")
            return Rollout(rollout.plan, rollout.phase + 1, rollout.paused)
        case "ROLL_BACK":
            if rollout.phase == 0:
                return RolloutRefused("nothing to roll back: no phase is live")
            return Rollout(rollout.plan, rollout.phase - 1, rollout.paused)
        case "PAUSE_SECTOR" | "RESUME_SECTOR":
            if sector is None:
                return RolloutRefused(f"{operation} needs a sector")
            paused = (
                rollout.paused | {sector}
                if operation == "PAUSE_SECTOR"
                else rollout.paused - {sector}
            )
            return Rollout(rollout.plan, rollout.phase, paused)
        case "LOAD_PLAN":
            if plan_json is None:
                return RolloutRefused("LOAD_PLAN needs plan_json")
            try:
                plan = parse_plan(plan_json)
            except RolloutPlanError as exc:
                return RolloutRefused(str(exc))
            return Rollout(plan, min(rollout.phase, len(plan.phases)), rollout.paused)
        case _:
            return RolloutRefused(f"unknown rollout operation {operation!r}")
