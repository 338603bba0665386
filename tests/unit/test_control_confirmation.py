"""What a control command makes of its replicas' answers, and what a retirement changes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from hub.control import ControlState
from hub.control_acks import Confirmation
from hub.onboarding import registration, retirement
from schemas.models import ControlAcknowledged, Metadata


def answer(replica: str, reason: str | None = None) -> ControlAcknowledged:
    return ControlAcknowledged(
        metadata=Metadata(message_id=uuid.uuid4(), occurred_at=datetime.now(UTC), sender="hub"),
        replica=replica, control_offset=7, message_type="RolloutChange",
        applied=reason is None, reason=reason,
    )  # fmt: skip


def confirmation(live: set[str], *answers: ControlAcknowledged) -> Confirmation:
    return Confirmation(7, "RolloutChange", frozenset(live), {a.replica: a for a in answers})


def test_every_live_replica_applied_is_a_success() -> None:
    done = confirmation({"r1", "r2"}, answer("r1"), answer("r2"))
    assert done.complete
    assert done.succeeded
    assert done.applied == ["r1", "r2"]


def test_one_refusal_fails_the_command_even_if_another_replica_applied_it() -> None:
    split = confirmation({"r1", "r2"}, answer("r1"), answer("r2", "refused_by_rule"))
    assert split.complete
    assert not split.succeeded
    assert [a.replica for a in split.refused] == ["r2"]


def test_a_silent_replica_is_named_and_the_others_answers_still_count() -> None:
    partial = confirmation({"r1", "r2"}, answer("r1"))
    assert not partial.complete
    assert partial.silent == ["r2"]
    assert partial.succeeded


def test_no_live_replica_is_never_complete_and_never_a_success() -> None:
    nobody = confirmation(set())
    assert not nobody.complete
    assert not nobody.succeeded


def test_a_replica_that_joined_late_and_answered_counts() -> None:
    late = confirmation(set(), answer("r3"))
    assert late.succeeded
    assert late.silent == []


def test_a_retired_agency_leaves_the_registry_ingress_holds_and_retiring_again_is_harmless() -> (
    None
):  # fmt: skip
    state = ControlState()
    held_by_ingress = state.agencies  # ingress and every partition share this very dict
    assert state.apply(registration("mun-13101", ["Relocation"], operator="op-test")) is None
    assert "mun-13101" in held_by_ingress
    assert state.apply(retirement("mun-13101", operator="op-test")) is None
    assert "mun-13101" not in held_by_ingress
    assert state.apply(retirement("mun-13101", operator="op-test")) is None
