"""The hub-internal envelope round-trips every field and refuses anything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.envelope import Envelope, Kind

text = st.text(max_size=40)
blob = st.binary(max_size=64)


@given(
    kind=st.sampled_from(list(Kind)),
    sender=text,
    at=st.integers(-(2**63), 2**63 - 1),
    source=text,
    payload=blob,
    person=st.none() | blob,
    index=st.none() | blob,
    ids=st.tuples(st.none() | text, st.none() | text, st.none() | text),
)
def test_every_envelope_round_trips(kind, sender, at, source, payload, person, index, ids):
    env = Envelope(kind, sender, at, source, payload, person, index, *ids)
    assert Envelope.from_bytes(env.to_bytes()) == env


@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_an_envelope_or_a_clear_error(data):
    with contextlib.suppress(ValueError):  # the only error it may raise
        Envelope.from_bytes(data)


def test_a_truncated_envelope_is_refused():
    data = Envelope(Kind.MESSAGE, "mun-13101", 1, "agency.mun-13101.out/0/1", b"abc").to_bytes()
    with pytest.raises(ValueError, match="envelope"):
        Envelope.from_bytes(data[:-1])
