"""Consent tokens: issued by the portal, read and checked by the hub with the public key only."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from schemas.consent_token import (
    MAX_TOKEN_LIFETIME,
    ConsentTokenError,
    issue_consent_token,
    public_key_hex,
    read_consent_token,
)

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PORTAL_CODE = b"portal-code-of-hanako"
PORTAL_KEY = Ed25519PrivateKey.generate()
TRUSTED = {"portal-1": PORTAL_KEY.public_key()}


def _token(**changes: object) -> str:
    arguments: dict[str, object] = {
        "portal_person_code": PORTAL_CODE,
        "institution": "med-0002",
        "purpose": "continuity_of_care",
        "now": NOW,
    }
    arguments.update(changes)
    return issue_consent_token(PORTAL_KEY, "portal-1", **arguments)  # type: ignore[arg-type]


def test_token_issued_in_the_portal_supports_that_institutions_consent_for_that_person():
    claims = read_consent_token(_token(), TRUSTED)
    assert claims.institution == "med-0002"
    assert claims.purpose == "continuity_of_care"
    assert claims.refusal("med-0002", "continuity_of_care", PORTAL_CODE, NOW) is None


def test_token_is_bound_to_one_institution_one_purpose_and_one_person():
    claims = read_consent_token(_token(), TRUSTED)
    assert "med-0002" in str(claims.refusal("med-0009", "continuity_of_care", PORTAL_CODE, NOW))
    assert "purpose" in str(claims.refusal("med-0002", "other_purpose", PORTAL_CODE, NOW))
    refusal = claims.refusal("med-0002", "continuity_of_care", b"someone-else", NOW)
    assert refusal == "the consent token was issued for another person"


def test_token_is_short_lived():
    claims = read_consent_token(_token(lifetime=timedelta(minutes=10)), TRUSTED)
    in_time = NOW + timedelta(minutes=9)
    assert claims.refusal("med-0002", "continuity_of_care", PORTAL_CODE, in_time) is None
    assert claims.refusal(
        "med-0002", "continuity_of_care", PORTAL_CODE, NOW + timedelta(minutes=10)
    ) == ("the consent token is not valid at this time")
    with pytest.raises(ConsentTokenError, match="at most"):
        _token(lifetime=MAX_TOKEN_LIFETIME + timedelta(seconds=1))


def test_token_signed_by_an_untrusted_key_or_altered_is_refused():
    with pytest.raises(ConsentTokenError, match="untrusted key"):
        read_consent_token(_token(), {"other": Ed25519PrivateKey.generate().public_key()})
    forged = issue_consent_token(
        Ed25519PrivateKey.generate(),
        "portal-1",
        portal_person_code=PORTAL_CODE,
        institution="med-0002",
        purpose="continuity_of_care",
        now=NOW,
    )
    with pytest.raises(ConsentTokenError, match="signature"):
        read_consent_token(forged, TRUSTED)
    prefix, key, _body, signature = _token().split(".")
    other_body = _token(institution="med-0009").split(".")[2]
    with pytest.raises(ConsentTokenError, match="signature"):
        read_consent_token(".".join((prefix, key, other_body, signature)), TRUSTED)


def test_token_does_not_carry_the_portals_code_for_the_person():
    token = _token()
    assert PORTAL_CODE.hex() not in token
    first, second = read_consent_token(token, TRUSTED), read_consent_token(_token(), TRUSTED)
    assert first.person_binding != second.person_binding  # two tokens cannot be linked


def test_public_key_hex_is_the_raw_ed25519_public_key():
    assert len(bytes.fromhex(public_key_hex(PORTAL_KEY))) == 32


@given(st.text(max_size=300))
def test_any_other_text_is_refused_with_a_clear_error_not_a_crash(text: str) -> None:
    with pytest.raises(ConsentTokenError):
        read_consent_token(text, TRUSTED)


def test_token_id_can_be_chosen_so_the_portal_lists_what_it_issued():
    token_id = uuid.uuid4()
    assert read_consent_token(_token(token_id=token_id), TRUSTED).token_id == token_id
