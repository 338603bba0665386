import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.individual_number import (
    InvalidIndividualNumber,
    check_digit,
    generate,
    is_valid,
    validate,
)


def test_check_digit_follows_the_weighted_mod_11_rule_on_a_worked_example():
    # P_1..P_11 = 1,0,9,8,7,6,5,4,3,2,1 (from the right), Q = 2..7,2..6:
    # 2+0+36+40+42+42+10+12+12+10+6 = 212; 212 mod 11 = 3; 11 - 3 = 8.
    assert check_digit("12345678901") == 8
    assert is_valid("123456789018")


def test_remainder_zero_or_one_gives_check_digit_zero():
    assert check_digit("00000000000") == 0  # remainder 0
    # P_1 = 5 with Q_1 = 2 gives 10, remainder 10 -> 1; P_1 = 6 gives 12 -> remainder 1.
    assert check_digit("00000000006") == 0
    assert check_digit("00000000005") == 1  # remainder 10 -> 11 - 10


@given(st.integers(0, 10**11 - 1))
def test_the_check_digit_is_the_only_one_that_validates(base):
    digits = f"{base:011d}"
    good = check_digit(digits)
    for candidate in range(10):
        assert is_valid(digits + str(candidate)) == (candidate == good)


def test_generated_numbers_are_valid_and_vary():
    rng = random.Random(1)
    numbers = {generate(rng) for _ in range(200)}
    assert len(numbers) == 200
    assert all(is_valid(n) and len(n) == 12 for n in numbers)


@pytest.mark.parametrize(
    "bad", ["12345678901", "1234567890189", "12345678901a", "１２３４５６７８９０１８", ""]
)
def test_malformed_numbers_name_the_rule(bad):
    with pytest.raises(InvalidIndividualNumber, match="12 ASCII digits"):
        validate(bad)


def test_wrong_check_digit_names_the_rule_but_not_the_number():
    with pytest.raises(InvalidIndividualNumber) as caught:
        validate("123456789019")
    assert "check digit" in str(caught.value)
    assert "123456789019" not in str(caught.value)
    assert "12345678901" not in repr(caught.value)
