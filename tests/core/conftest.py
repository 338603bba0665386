"""Shared fixtures for the decision core: a key set, the shipped table, a rollout."""

from __future__ import annotations

import random

import pytest

from hub.core.keyring import Keyring
from hub.core.keys import generate_key_set, parse_key_set
from hub.core.legal_basis import LegalBasisTable, default_table
from hub.core.rollout import Rollout, apply_rollout_change, initial_rollout


def seeded_bytes(seed: int):  # type: ignore[no-untyped-def]
    rng = random.Random(seed)
    return lambda n: rng.randbytes(n)


def make_keyring(seed: int = 1) -> Keyring:
    return Keyring.from_key_set(parse_key_set(generate_key_set(seeded_bytes(seed))))


def rollout_at(phase: int) -> Rollout:
    rollout = initial_rollout()
    for _ in range(phase):
        advanced = apply_rollout_change(rollout, "ADVANCE", None, None)
        assert isinstance(advanced, Rollout)
        rollout = advanced
    return rollout


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return make_keyring()


@pytest.fixture(scope="session")
def table() -> LegalBasisTable:
    return default_table()


@pytest.fixture(scope="session")
def everything_live() -> Rollout:
    return rollout_at(4)
