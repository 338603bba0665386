"""A signed control command counts once: copies and commands signed long ago are refused."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hub.core.control_replay import CLOCK_SKEW, FRESHNESS, ControlHistory, ReplayRefusal

SIGNED = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def test_a_fresh_command_is_admitted_and_its_copy_is_refused_as_replayed() -> None:
    history, command = ControlHistory(), uuid.uuid4()
    assert history.admit(command, SIGNED, SIGNED + timedelta(seconds=1)) is None
    later = SIGNED + timedelta(seconds=30)  # the copy published again, well within the window
    assert history.admit(command, SIGNED, later) is ReplayRefusal.REPLAYED


def test_every_command_of_its_own_id_is_admitted() -> None:
    history = ControlHistory()
    assert all(history.admit(uuid.uuid4(), SIGNED, SIGNED) is None for _ in range(100))


def test_a_command_appended_long_after_it_was_signed_is_refused_as_stale() -> None:
    history = ControlHistory()
    assert history.admit(uuid.uuid4(), SIGNED, SIGNED + FRESHNESS) is None
    old = SIGNED + FRESHNESS + timedelta(seconds=1)
    assert history.admit(uuid.uuid4(), SIGNED, old) is ReplayRefusal.STALE


def test_a_command_dated_further_ahead_than_the_clock_skew_is_refused_as_stale() -> None:
    history = ControlHistory()
    assert history.admit(uuid.uuid4(), SIGNED + CLOCK_SKEW, SIGNED) is None
    ahead = SIGNED + CLOCK_SKEW + timedelta(seconds=1)
    assert history.admit(uuid.uuid4(), ahead, SIGNED) is ReplayRefusal.STALE


def test_a_stale_commands_copy_is_refused_as_replayed() -> None:
    history, command = ControlHistory(), uuid.uuid4()
    stale_at = SIGNED + FRESHNESS * 2
    assert history.admit(command, SIGNED, stale_at) is ReplayRefusal.STALE
    assert history.admit(command, SIGNED, SIGNED) is ReplayRefusal.REPLAYED
