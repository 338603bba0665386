"""Consent tokens issued in the portal: a code bound to one hospital, one purpose and the
signed-in person, verifiable with the portal's public key alone."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from portal import readmodel
from schemas.consent_token import read_consent_token
from tests.portal.client import PortalClient
from tests.portal.conftest import ATTACKS
from tests.portal.world import World

pytestmark = pytest.mark.kafka

TOKEN = re.compile(r'<textarea id="consent-token"[^>]*>([^<]+)</textarea>')


@pytest.fixture
async def client(world: World) -> AsyncIterator[PortalClient]:
    made = PortalClient(world.portal.url)
    yield made
    await made.close()


async def test_a_consent_token_names_one_hospital_one_purpose_and_only_this_person(
    world: World, client: PortalClient
) -> None:
    person, other = world.person(40), world.person(41)
    await client.sign_in(world.credential(other))  # so the other person has a portal code
    await client.sign_in(world.credential(person))
    await client.get("/consents")
    page = await client.post(
        "/consents/token", {"institution": "med-0002", "purpose": "continuity_of_care"}
    )
    found = TOKEN.search(page.text)
    assert found is not None
    issuer = world.portal.services.tokens
    trusted = {
        issuer.key_id: Ed25519PublicKey.from_public_bytes(bytes.fromhex(issuer.public_key_hex))
    }
    claims = read_consent_token(found.group(1), trusted)
    async with world.portal.services.engine.connect() as db:
        codes = dict(
            (
                await db.execute(
                    select(readmodel.accounts.c.display_name, readmodel.accounts.c.link_code)
                )
            ).all()
        )
    mine = codes[world.portal.identities.display_name(person)]
    theirs = codes[world.portal.identities.display_name(other)]
    now = datetime.now(UTC)
    assert claims.refusal("med-0002", "continuity_of_care", mine, now) is None
    assert claims.refusal("med-0001", "continuity_of_care", mine, now) is not None
    assert claims.refusal("med-0002", "medication_reconciliation", mine, now) is not None
    assert claims.refusal("med-0002", "continuity_of_care", theirs, now) is not None
    listed = await client.get("/consents")
    assert str(claims.token_id)[:8] in listed.text
    assert found.group(1) not in listed.text  # shown once, never stored


async def test_a_consent_token_cannot_be_issued_by_a_forged_form(
    world: World, client: PortalClient
) -> None:
    await client.sign_in(world.credential(world.person(42)))
    before = world.portal.services.refusals
    response = await client.post(
        "/consents/token", {"institution": "med-0002", "purpose": "continuity_of_care"}, csrf=""
    )
    refused = response.status_code == 403 and world.portal.services.refusals == before + 1
    ATTACKS.append(("issue a consent token from a forged form", refused))
    assert refused
    assert TOKEN.search(response.text) is None
