"""Link codes (符号): per-agency, deterministic, authenticated, unlinkable without keys."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st

from hub.core.keys import generate_key_set, parse_key_set, rotate
from hub.core.linkcodes import CODE_BYTES, LinkCodes

from .conftest import make_keyring, seeded_bytes

CODES = make_keyring().codes
person_ids = st.binary(min_size=16, max_size=16)
agencies = st.sampled_from(
    [
        "mun-13101",
        "mun-27100",
        "mun-01100",
        "jps",
        "nta",
        "mhlw-ei",
        "hi-kyokai",
        "med-0001",
        "portal",
    ]
)


@given(person_ids, agencies)
def test_an_agency_always_gets_the_same_code_and_the_hub_reads_it_back(
    pid: bytes, agency: str
) -> None:
    code = CODES.encode(agency, pid)
    assert len(code) == CODE_BYTES
    assert code == CODES.encode(agency, pid)
    assert CODES.decode(agency, code) == pid


@given(person_ids, agencies, agencies)
def test_codes_of_two_agencies_for_the_same_person_differ_and_do_not_cross(
    pid: bytes, a: str, b: str
) -> None:
    if a == b:
        return
    code_a, code_b = CODES.encode(a, pid), CODES.encode(b, pid)
    assert code_a != code_b
    assert CODES.decode(b, code_a) is None  # another agency's code is an unknown code
    assert CODES.translate(a, code_a, b) == code_b


@given(person_ids, agencies)
def test_a_code_does_not_contain_the_person_id_and_other_keys_cannot_read_it(
    pid: bytes, agency: str
) -> None:
    code = CODES.encode(agency, pid)
    assert pid not in code
    stranger = make_keyring(seed=99).codes
    assert stranger.decode(agency, code) is None


@given(person_ids, agencies, st.data())
def test_a_mutated_or_truncated_code_is_unknown(
    pid: bytes, agency: str, data: st.DataObject
) -> None:
    code = CODES.encode(agency, pid)
    position = data.draw(st.integers(0, len(code) - 1))
    flip = data.draw(st.integers(1, 255))
    mutated = code[:position] + bytes((code[position] ^ flip,)) + code[position + 1 :]
    assert CODES.decode(agency, mutated) is None
    cut = data.draw(st.integers(0, len(code) - 1))
    assert CODES.decode(agency, code[:cut]) is None
    assert CODES.decode(agency, code + b"\x00") is None


@given(st.binary(max_size=40), agencies)
def test_a_forged_code_is_unknown(forged: bytes, agency: str) -> None:
    assert CODES.decode(agency, forged) is None


def test_rotating_the_link_code_key_keeps_every_existing_code_valid() -> None:
    document = generate_key_set(seeded_bytes(5))
    before = LinkCodes(parse_key_set(document).link_codes)
    after = LinkCodes(parse_key_set(rotate(document, "link_codes", os.urandom)).link_codes)
    pid = bytes(range(16))
    old_code = before.encode("mun-13101", pid)
    assert after.decode("mun-13101", old_code) == pid
    new_code = after.encode("mun-13101", pid)
    assert new_code[0] == 2
    assert new_code != old_code
    assert after.decode("mun-13101", new_code) == pid
    assert before.decode("mun-13101", new_code) is None  # an unknown key id


def test_encoding_refuses_a_malformed_person_id_or_unknown_key_id() -> None:
    import pytest

    with pytest.raises(ValueError, match="16 bytes"):
        CODES.encode("jps", b"short")
    with pytest.raises(ValueError, match="key id 7"):
        CODES.encode("jps", bytes(16), key_id=7)
