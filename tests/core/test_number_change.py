"""Number change (番号変更, DOMAIN.md §10): the index moves, the old number is revoked, codes and
history stay."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.core.events import EventPlan, plan_event
from hub.core.numbers import Enrolled, NumberClaimed, claim_number
from hub.core.outcomes import Deny
from hub.core.state import (
    ClaimNumber,
    ContinueNumberChange,
    Forward,
    MoveNumber,
    RevokeNumber,
    set_suspension,
)
from schemas.models import NumberChanged
from schemas.vocabulary import DenialReason as R

from .world import World, metadata


def _changed(w: World, publisher: str, code: bytes, new_number: str | None) -> object:
    event = NumberChanged.model_construct(
        metadata=metadata(publisher, w.now), person_code=code, new_number=new_number
    )
    return w.try_publish(event)


def test_a_changed_number_is_refused_at_enrolment_and_the_new_one_finds_the_same_person() -> None:
    w = World()
    w.register("mun-13101", "jps", "mun-27100")
    old, new = w.new_number(), w.new_number()
    chiyoda = w.enrol("mun-13101", old)
    jps = w.enrol("jps", old)
    plan = w.publish(
        NumberChanged(metadata=metadata("mun-13101", w.now), person_code=chiyoda, new_number=new)
    )
    notified = {d.agency: d.event for d in plan.deliveries}
    assert set(notified) == {"jps"}  # every other holder is told, without the new number
    assert isinstance(notified["jps"], NumberChanged)
    assert notified["jps"].new_number is None
    assert notified["jps"].person_code == jps
    refused = w.try_enrol("mun-27100", old)
    assert isinstance(refused, Deny)
    assert refused.reason is R.NUMBER_REVOKED
    again = w.try_enrol("mun-27100", new)
    assert isinstance(again, Enrolled)
    assert again.person_id == w.keys.codes.decode("mun-13101", chiyoda)
    assert w.enrol("jps", new) == jps  # codes do not change


def test_a_number_change_from_a_non_municipality_or_without_a_valid_number_is_malformed() -> None:
    w = World()
    w.register("mun-13101", "jps")
    number = w.new_number()
    chiyoda = w.enrol("mun-13101", number)
    jps = w.enrol("jps", number)
    by_jps = _changed(w, "jps", jps, w.new_number())
    assert isinstance(by_jps, Deny)
    assert by_jps.reason is R.MALFORMED
    for bad in (None, "123456789012"):
        refused = _changed(w, "mun-13101", chiyoda, bad)
        assert isinstance(refused, Deny)
        assert refused.reason is R.MALFORMED
        assert "123456789012" not in refused.message


def test_a_number_change_cannot_take_another_persons_or_a_revoked_number() -> None:
    w = World()
    w.register("mun-13101")
    mine, theirs, newer = w.new_number(), w.new_number(), w.new_number()
    me = w.enrol("mun-13101", mine)
    w.enrol("mun-13101", theirs)
    taken = _changed(w, "mun-13101", me, theirs)
    assert isinstance(taken, Deny)
    assert taken.reason is R.MALFORMED
    w.publish(
        NumberChanged(metadata=metadata("mun-13101", w.now), person_code=me, new_number=newer)
    )
    back = _changed(w, "mun-13101", me, mine)
    assert isinstance(back, Deny)
    assert back.reason is R.NUMBER_REVOKED


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.randoms(use_true_random=False))
def test_a_number_change_keeps_every_code_and_all_history(changes: int, rng: object) -> None:
    w = World()
    agencies = ("mun-13101", "mun-27100", "jps", "portal")
    w.register(*agencies)
    number = w.new_number()
    codes = {a: w.enrol(a, number) for a in agencies}
    w.relocation(codes["mun-13101"], "mun-27100", "mun-13101")
    person_id = w.keys.codes.decode("mun-13101", codes["mun-13101"])
    assert person_id is not None
    before = w.state.person(person_id)
    for _ in range(changes):
        number = w.new_number()
        w.publish(
            NumberChanged(
                metadata=metadata("mun-13101", w.now),
                person_code=codes["mun-13101"],
                new_number=number,
            )
        )
    after = w.state.person(person_id)
    assert after.events == before.events
    assert after.holders == before.holders
    assert {a: w.enrol(a, number) for a in agencies} == codes
    assert len(w.state.revoked_numbers) == changes


def test_a_number_change_is_three_steps_each_for_the_partition_of_its_own_key() -> None:
    # The new index's partition claims it, the person's partition moves the number, the old
    # index's partition revokes it: each step says where the next one happens.
    w = World()
    w.register("mun-13101", "jps")
    old, new = w.new_number(), w.new_number()
    chiyoda = w.enrol("mun-13101", old)
    person = w.keys.codes.decode("mun-13101", chiyoda)
    assert person is not None
    old_index, new_index = w.keys.number_index(old), w.keys.number_index(new)
    claimed = claim_number("mun-13101", new_index, person, w.state)
    assert isinstance(claimed, NumberClaimed)
    assert claimed.here == (ClaimNumber(new_index, person),)
    assert claimed.elsewhere == (Forward(person, ContinueNumberChange(person, new_index)),)
    # ingress strips the number: only its blind index travels on
    event = NumberChanged(metadata=metadata("mun-13101", w.now), person_code=chiyoda)
    plan = plan_event(event, w.state, w.table, w.rollout, w.keys, trust=w.trust, now=w.now,
                      new_number_index=new_index)  # fmt: skip
    assert isinstance(plan, EventPlan)
    assert MoveNumber(person, new_index) in plan.changes
    at = int(w.now.timestamp())
    assert plan.forwards == (Forward(old_index, RevokeNumber(old_index, at)),)
    assert new.encode() not in repr(plan).encode()


def test_a_suspended_agency_cannot_enrol_or_change_a_number_until_reinstated() -> None:
    w = World()
    w.register("mun-13101")
    number = w.new_number()
    code = w.enrol("mun-13101", number)
    person = w.keys.codes.decode("mun-13101", code)
    assert person is not None
    set_suspension(w.state, "mun-13101", True, "investigation")
    refused = w.try_enrol("mun-13101", w.new_number())
    assert isinstance(refused, Deny)
    assert refused.reason is R.AGENCY_SUSPENDED
    new_index = w.keys.number_index(w.new_number())
    claim = claim_number("mun-13101", new_index, person, w.state)
    assert isinstance(claim, Deny)
    assert claim.reason is R.AGENCY_SUSPENDED
    assert new_index not in w.state.numbers  # nothing claimed
    set_suspension(w.state, "mun-13101", False, "reinstated")
    assert isinstance(w.try_enrol("mun-13101", w.new_number()), Enrolled)
