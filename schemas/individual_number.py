"""The individual number (個人番号): 12 digits, the last a check digit by the official rule.

The check digit follows the ordinance's weighted mod-11 rule: with P_n the n-th of the first
eleven digits counted from the right and Q_n = n + 1 for 1 <= n <= 6, n - 5 for 7 <= n <= 11,
let r = (sum of P_n * Q_n) mod 11; the check digit is 0 when r <= 1, else 11 - r.

Errors name the rule that failed and never echo the number: a number is personal data and an
exception message ends up in logs.
"""

from __future__ import annotations

import random

LENGTH = 12
_WEIGHTS = tuple(n + 1 if n <= 6 else n - 5 for n in range(1, 12))  # Q_1 .. Q_11
_DIGITS = frozenset("0123456789")


class InvalidIndividualNumber(ValueError):
    """The input is not a well-formed individual number; the message names the rule only."""


def check_digit(first_eleven: str) -> int:
    """The check digit for the first eleven digits of an individual number."""
    if len(first_eleven) != LENGTH - 1 or not _DIGITS.issuperset(first_eleven):
        raise InvalidIndividualNumber("the base of an individual number must be 11 ASCII digits")
    # P_1 is the rightmost of the eleven digits.
    total = sum(
        int(digit) * weight for digit, weight in zip(reversed(first_eleven), _WEIGHTS, strict=True)
    )
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def validate(number: str) -> str:
    """Return `number` unchanged when valid; raise InvalidIndividualNumber naming the rule."""
    if len(number) != LENGTH or not _DIGITS.issuperset(number):
        raise InvalidIndividualNumber("an individual number (個人番号) must be 12 ASCII digits")
    if check_digit(number[:-1]) != int(number[-1]):
        raise InvalidIndividualNumber(
            "the individual number's check digit (検査用数字) does not match the official "
            "weighted mod-11 rule"
        )
    return number


def is_valid(number: str) -> bool:
    try:
        validate(number)
    except InvalidIndividualNumber:
        return False
    return True


def generate(rng: random.Random | None = None) -> str:
    """A random, well-formed individual number, for tests and synthetic data (not a real one)."""
    source = rng if rng is not None else random.Random()
    base = "".join(source.choice("0123456789") for _ in range(LENGTH - 1))
    return base + str(check_digit(base))
