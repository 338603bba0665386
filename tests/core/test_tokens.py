"""Reply tokens: sealed, bound to the provider, expiring, surviving key rotation; outcomes and
tickets never show codes or person ids when printed or logged."""

from __future__ import annotations

import os
import uuid

from hub.core.keyring import Keyring
from hub.core.keys import generate_key_set, parse_key_set, rotate
from hub.core.outcomes import Route
from hub.core.tokens import ReplyTicket, ReplyTokens, TokenRefused
from schemas.vocabulary import Sector

from .conftest import seeded_bytes

PERSON = bytes(range(16))
TICKET = ReplyTicket(
    uuid.uuid4(),
    "mun-13101",
    "mun-27100",
    PERSON,
    b"\x09" * 16,
    "national_health_insurance_premium",
    "hi-01",
    Sector.HEALTH_INSURANCE,
    "2026.1",
    ("taxable_income",),
    uuid.uuid4(),
    1_775_000_000,
)


def test_a_token_carries_the_whole_exchange_and_only_its_provider_can_open_it() -> None:
    tokens = ReplyTokens(parse_key_set(generate_key_set(seeded_bytes(1))).reply_tokens)
    token = tokens.issue(TICKET)
    assert PERSON not in token
    assert b"mun-13101" not in token
    assert tokens.open(token, "mun-27100", TICKET.issued_at, 60, {}) == TICKET
    assert tokens.open(token, "mun-13101", TICKET.issued_at, 60, {}) == TokenRefused("forged")
    empty_attributes = TICKET._replace(attributes=(), proxy_person_id=None)
    assert (
        tokens.open(tokens.issue(empty_attributes), "mun-27100", TICKET.issued_at, 60, {})
        == empty_attributes
    )


def test_tokens_issued_before_a_key_rotation_can_still_be_answered() -> None:
    document = generate_key_set(seeded_bytes(2))
    before = ReplyTokens(parse_key_set(document).reply_tokens)
    after = ReplyTokens(parse_key_set(rotate(document, "reply_tokens", os.urandom)).reply_tokens)
    old = before.issue(TICKET)
    assert after.open(old, "mun-27100", TICKET.issued_at, 60, {}) == TICKET
    assert after.issue(TICKET)[0] == 2


def test_printing_a_route_or_its_sealed_parts_shows_no_codes_tokens_or_person_ids() -> None:
    keys = Keyring.from_key_set(parse_key_set(generate_key_set(seeded_bytes(3))))
    route: Route = TICKET._replace(proxy_person_id=PERSON[::-1])  # a route is its ticket
    sealed = keys.seal_route(route)
    for printed in (repr(route), str(route), repr(TICKET), repr(sealed), str(sealed)):
        assert repr(sealed.provider_code) not in printed
        assert repr(sealed.reply_token) not in printed
        assert repr(PERSON) not in printed
        assert repr(PERSON[::-1]) not in printed
    assert "request_id" in repr(route)  # still says which request it is
    assert "hi-01" in repr(route)
