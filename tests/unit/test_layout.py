"""The partition count is fixed once the hub's state is built on it (DOMAIN.md §13)."""

from __future__ import annotations

from hub.layout import decode_count, encode_count, judge
from hub.topics import PARTITIONED_HUB_TOPICS


def _all(count: int) -> dict[str, int]:
    return dict.fromkeys(PARTITIONED_HUB_TOPICS, count)


def test_the_first_start_on_fresh_topics_records_their_count() -> None:
    assert judge(None, _all(6), 6).record == 6
    assert judge(None, _all(6), 6).refusal is None


def test_a_later_start_with_the_recorded_count_runs_without_recording_again() -> None:
    verdict = judge(6, _all(6), 6)
    assert verdict.record is None
    assert verdict.refusal is None


def test_partitions_added_behind_the_hubs_back_are_refused_naming_the_topic_and_the_way() -> None:
    actual = _all(6) | {"renkei.hub.persons": 12}
    refusal = judge(6, actual, 6).refusal
    assert refusal is not None
    assert "built with 6 partitions" in refusal
    assert "renkei.hub.persons has 12" in refusal
    assert "renkei hub repartition" in refusal


def test_all_topics_altered_alike_are_refused_as_the_state_was_built_on_the_old_count() -> None:
    assert judge(6, _all(12), 12).refusal is not None


def test_asking_for_another_count_than_the_topics_have_is_refused() -> None:
    refusal = judge(None, _all(3), 6).refusal
    assert refusal is not None
    assert "--partitions 6" in refusal
    assert "have 3 partitions" in refusal


def test_topics_that_disagree_with_no_record_cannot_be_placed() -> None:
    refusal = judge(None, _all(6) | {"renkei.hub.state": 3}, 6).refusal
    assert refusal is not None
    assert "disagree" in refusal


def test_the_recorded_count_round_trips() -> None:
    assert decode_count(encode_count(24)) == 24


def test_every_table_of_the_router_state_has_a_place_in_a_repartition() -> None:
    from hub.control import ControlState
    from hub.partition_state import PartitionState
    from hub.repartition import place

    tags = set(PartitionState(0, ControlState())._tables)
    placed = place([(0, tag + b"key", b"value") for tag in sorted(tags)], 6)
    assert {key[:1] for _p, key, _v in placed} <= tags


def test_persons_move_with_their_key_and_a_partitions_own_state_stays() -> None:
    from hub.repartition import partition_of, place

    person = b"p" + bytes(range(16))
    head, token = b"h", b"t" + bytes(16)
    placed = place([(1, person, b"x"), (1, head, b"y"), (1, token, b"z")], 6)
    assert (partition_of(person[1:], 6), person, b"x") in placed
    assert (1, head, b"y") in placed
    assert sorted(p for p, k, _v in placed if k == token) == list(range(6))
