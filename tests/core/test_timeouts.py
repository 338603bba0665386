"""No request without an outcome (DOMAIN.md §12): a provider that does not answer in time
times the request out, by stream time (passed in), and its late answer is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hub.core import (
    Keyring,
    Provision,
    Route,
    TokenRefused,
    check_answer,
    index_waiting,
    record_answer,
    record_reply,
    timed_out,
)
from hub.core.state import HubState, prune
from schemas.models import AttributeAnswer, AttributeValue

from .test_decision import Moved, moved_from_osaka_to_chiyoda
from .world import World, metadata

TIMEOUT = 60  # seconds: the test keyring's reply tokens live as long (below)


def _asked() -> tuple[Moved, Route]:
    moved = moved_from_osaka_to_chiyoda()
    moved.world.keys = _with_ttl(moved.world, TIMEOUT)
    route = moved.ask_osaka_for_income(attributes=["taxable_income"])
    assert isinstance(route, Route)
    return moved, route


def _with_ttl(w: World, seconds: int) -> Keyring:
    return replace(w.keys, token_ttl_seconds=seconds)


def _answer(w: World, route: Route) -> AttributeAnswer:
    return AttributeAnswer(
        metadata=metadata("mun-27100", w.now),
        reply_token=w.keys.seal_route(route).reply_token,
        values=[AttributeValue(name="taxable_income", value=3_200_000)],
    )


def _seconds(w: World) -> int:
    return int(w.now.timestamp())


def _give_outcome(state: HubState, route: Route, at: int) -> None:
    """What the shell does with each timed-out request: sends the reply and keeps it."""
    record_reply(state, route.requester, route.request_id.int, b"timeout reply", at)


def test_a_request_waits_until_its_deadline_and_times_out_once_stream_time_passes_it() -> None:
    moved, route = _asked()
    w = moved.world
    asked_at = _seconds(w)
    assert timed_out(w.state, asked_at + TIMEOUT, TIMEOUT) == []  # the deadline itself is in time

    expired = timed_out(w.state, asked_at + TIMEOUT + 1, TIMEOUT)

    assert [t.request_id for t in expired] == [route.request_id]
    ticket = expired[0]
    assert (ticket.requester, ticket.provider, ticket.row) == ("mun-13101", "mun-27100", "hi-01")
    assert ticket.attributes == ("taxable_income",)
    assert ticket.person_id == route.person_id
    assert ticket.issued_at == asked_at
    _give_outcome(w.state, route, asked_at + TIMEOUT + 1)
    assert timed_out(w.state, asked_at + 10 * TIMEOUT, TIMEOUT) == []  # exactly once


def test_an_answer_in_time_means_no_timeout() -> None:
    moved, route = _asked()
    w = moved.world
    asked_at = _seconds(w)
    w.later(seconds=TIMEOUT - 1)
    checked = check_answer(_answer(w, route), w.state, w.keys, w.now)
    assert not isinstance(checked, TokenRefused)
    record_answer(w.state, checked, w.keys)
    record_reply(w.state, route.requester, route.request_id.int, b"response", _seconds(w))

    assert timed_out(w.state, asked_at + 10 * TIMEOUT, TIMEOUT) == []


def test_an_answer_after_the_timeout_went_out_is_late_even_with_a_live_token() -> None:
    moved, route = _asked()
    w = moved.world
    long = _with_ttl(w, 10 * TIMEOUT)  # the token alone would still admit the answer
    asked_at = _seconds(w)
    (_ticket,) = timed_out(w.state, asked_at + TIMEOUT + 1, TIMEOUT)
    _give_outcome(w.state, route, asked_at + TIMEOUT + 1)
    w.later(seconds=TIMEOUT + 2)

    refused = check_answer(_answer(w, route), w.state, long, w.now)

    assert refused == TokenRefused("timed out")
    assert refused.why in TokenRefused.LATE


def test_an_answer_after_the_deadline_is_refused_as_expired_before_any_timer_ran() -> None:
    moved, route = _asked()
    w = moved.world
    w.later(seconds=TIMEOUT + 1)
    refused = check_answer(_answer(w, route), w.state, w.keys, w.now)
    assert isinstance(refused, TokenRefused)
    assert refused.why in TokenRefused.LATE
    # ... and the timer still gives the request its one outcome.
    assert [t.request_id for t in timed_out(w.state, _seconds(w), TIMEOUT)] == [route.request_id]


def test_requests_time_out_oldest_first_and_a_restored_index_finds_every_waiting_one() -> None:
    moved, first = _asked()
    w = moved.world
    asked_at = _seconds(w)
    w.later(seconds=5)
    second = moved.ask_osaka_for_income(attributes=["taxable_income"])
    assert isinstance(second, Route)
    w.later(seconds=5)
    answered = moved.ask_osaka_for_income(attributes=["taxable_income"])
    assert isinstance(answered, Route)
    record_reply(w.state, answered.requester, answered.request_id.int, b"response", asked_at + 11)

    w.state.waiting = []  # as after a restart: the changelog restores `processed` only
    index_waiting(w.state)

    assert timed_out(w.state, asked_at + TIMEOUT, TIMEOUT) == []  # nothing due yet
    due = timed_out(w.state, asked_at + TIMEOUT + 6, TIMEOUT)
    assert [t.request_id for t in due] == [first.request_id, second.request_id]


def test_a_waiting_request_outlives_the_idempotency_horizon_until_it_times_out() -> None:
    moved, route = _asked()
    w = moved.world
    keep_for = 10  # shorter than the timeout
    prune(w.state, w.now + timedelta(seconds=TIMEOUT), 3_600, keep_for)
    assert (route.requester, route.request_id.int) in w.state.processed
    assert len(timed_out(w.state, _seconds(w) + TIMEOUT + 1, TIMEOUT)) == 1


def test_the_timeout_record_names_what_was_asked_and_provides_nothing() -> None:
    moved, route = _asked()
    w = moved.world
    (ticket,) = timed_out(w.state, _seconds(w) + TIMEOUT + 1, TIMEOUT)

    record = Provision.timed_out(ticket)

    assert record.provider_timeout
    assert record.reason is None
    assert record.attributes == ("taxable_income",)
    assert record.over_provided == ()
    assert (record.requester, record.provider, record.row) == ("mun-13101", "mun-27100", "hi-01")
    assert record.request_id == route.request_id
