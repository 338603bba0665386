"""The gap detector alone: per-stream numbering, redelivery is not a gap, resuming is not a gap."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from consumers import Gap, GapDetector, Observation


def test_consecutive_numbers_per_stream_are_in_order() -> None:
    detector = GapDetector()
    seen = [detector.observe(stream, n) for n in (1, 2, 3) for stream in (0, 7)]
    assert all(result == (Observation.IN_ORDER, None) for result in seen)


def test_a_jump_reports_the_missing_numbers_of_that_stream_only() -> None:
    detector = GapDetector()
    detector.observe(0, 1)
    detector.observe(1, 1)
    assert detector.observe(0, 4) == (Observation.GAP, Gap(stream=0, expected=2, received=4))
    assert Gap(0, 2, 4).missing == 2
    assert detector.observe(1, 2) == (Observation.IN_ORDER, None)
    assert detector.observe(0, 5) == (Observation.IN_ORDER, None)


def test_a_number_already_seen_is_a_redelivery_not_a_gap() -> None:
    detector = GapDetector()
    for n in (1, 2, 3):
        detector.observe(0, n)
    assert detector.observe(0, 2) == (Observation.REDELIVERED, None)
    assert detector.observe(0, 4) == (Observation.IN_ORDER, None)


def test_resuming_mid_stream_takes_the_first_number_as_baseline() -> None:
    detector = GapDetector()
    assert detector.observe(3, 57) == (Observation.BASELINE, None)
    assert detector.observe(3, 58) == (Observation.IN_ORDER, None)


def test_reading_from_the_first_offset_a_stream_must_start_at_one() -> None:
    detector = GapDetector()
    assert detector.observe(3, 4, from_start=True) == (Observation.GAP, Gap(3, 1, 4))


@given(
    st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=60, unique=True).map(
        sorted
    )
)
def test_the_missing_counts_add_up_to_the_numbers_never_delivered(kept: list[int]) -> None:
    detector = GapDetector()
    missing = 0
    for n in kept:
        _, gap = detector.observe(0, n, from_start=True)
        missing += gap.missing if gap else 0
    assert missing == kept[-1] - len(kept)
