"""Access control tried as an attacker would (DOMAIN.md §15): a person changes an id in a link,
a form field or the session cookie, or a proxy reaches beyond its scope. Each attempt must find
nothing, change nothing, and be logged by reason only, with no personal data."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator

import pytest
import structlog
from sqlalchemy import select

from portal import readmodel
from portal.web import SESSION_COOKIE
from tests.portal.client import PortalClient
from tests.portal.conftest import ATTACKS
from tests.portal.world import World

pytestmark = pytest.mark.kafka

NOTICE_LINK = re.compile(r'href="/notices/([0-9a-f-]{36})"')


@pytest.fixture
async def clients(world: World) -> AsyncIterator[list[PortalClient]]:
    made = [PortalClient(world.portal.url) for _ in range(3)]
    yield made
    for client in made:
        await client.close()


class Attempt:
    """One attack: counts it, captures the refusal log, checks it names no person. With
    `logged=False` the attack is defeated without a refusal to log (rows outside a proxy's
    scope are filtered out; a cookie with a bad signature is no session at all): the test
    asserts what the attacker got."""

    def __init__(self, world: World, what: str, *, logged: bool = True) -> None:
        self.world = world
        self.what = what
        self.logged = logged

    async def __aenter__(self) -> Attempt:
        self.before = self.world.portal.services.refusals
        self._capture = structlog.testing.capture_logs()
        self.logs = self._capture.__enter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._capture.__exit__(None, None, None)
        refused = self.world.portal.services.refusals > self.before or not self.logged
        ATTACKS.append((self.what, refused and exc[0] is None))
        if exc[0] is None and self.logged:
            assert refused, f"not refused: {self.what}"
            refusals = [e for e in self.logs if e["event"] == "portal.refused"]
            assert refusals
            for entry in refusals:
                assert set(entry) <= {"event", "log_level", "reason", "route", "method"}


async def _pages(client: PortalClient, world: World, index: int) -> None:
    await client.sign_in(world.credential(world.person(index)))


async def test_a_person_cannot_open_another_persons_notice_by_changing_the_id_in_the_link(
    world: World, clients: list[PortalClient]
) -> None:
    alice, mallory = clients[0], clients[1]
    await _pages(alice, world, 10)
    await _pages(mallory, world, 11)
    notice_id = await world.send_notice(world.person(10))
    await world.notice_delivered(notice_id)
    page = await alice.get("/notices")
    assert str(notice_id) in page.text
    async with Attempt(world, "open another person's notice by its id"):
        stolen = await mallory.get(f"/notices/{notice_id}")
    assert stolen.status_code == 404
    assert "ねんきん定期便" not in stolen.text
    assert not world.acknowledged(notice_id)  # nobody confirmed a notice the person never saw
    async with world.portal.services.engine.connect() as db:
        opened = (
            await db.execute(
                select(readmodel.notices.c.opened_at).where(
                    readmodel.notices.c.notice_id == str(notice_id)
                )
            )
        ).scalar_one()
    assert opened is None


async def test_a_person_cannot_withdraw_another_persons_consent_through_a_form_field(
    world: World, clients: list[PortalClient]
) -> None:
    alice, mallory = clients[0], clients[1]
    await _pages(alice, world, 12)
    await _pages(mallory, world, 13)
    await alice.get("/consents")
    await alice.post("/consents/give", {"purpose": "continuity_of_care", "recipient": "med-0002"})
    async with world.portal.services.engine.connect() as db:
        consent_id = (await db.execute(select(readmodel.consents.c.consent_id))).scalars().all()
    page = (await alice.get("/consents")).text
    target = next(c for c in consent_id if c in page)
    await mallory.get("/consents")
    async with Attempt(world, "withdraw another person's consent by its id"):
        response = await mallory.post("/consents/withdraw", {"consent_id": target})
    assert response.status_code == 404
    assert "撤回済み" not in (await alice.get("/consents")).text


async def test_proxy_rows_of_others_cannot_be_confirmed_refused_or_revoked_by_id(
    world: World, clients: list[PortalClient]
) -> None:
    alice, bob, mallory = clients
    await _pages(alice, world, 14)
    await _pages(bob, world, 15)
    await _pages(mallory, world, 16)
    bob_handle = await bob.handle()
    await alice.get("/proxies")
    await alice.post("/proxies/register",
                     {"role": "principal", "handle": bob_handle, "scope": ["pension"]})  # fmt: skip
    page = await alice.get("/proxies")
    proxy_id = re.search(r'name="proxy_id" value="([0-9a-f-]{36})"', page.text)
    assert proxy_id is not None
    await mallory.get("/proxies")
    async with Attempt(world, "confirm a proxy proposal naming others"):
        confirmed = await mallory.post(
            "/proxies/decide", {"proxy_id": proxy_id.group(1), "decision": "confirm"}
        )
    assert confirmed.status_code == 404
    async with Attempt(world, "revoke a proxy of others"):
        revoked = await mallory.post("/proxies/revoke", {"proxy_id": proxy_id.group(1)})
    assert revoked.status_code == 404
    async with Attempt(world, "the proposer confirms their own proposal"):
        own = await alice.post(
            "/proxies/decide", {"proxy_id": proxy_id.group(1), "decision": "confirm"}
        )
    assert own.status_code == 404
    assert "代理人の承諾待ち" in (await alice.get("/proxies")).text  # still awaiting Bob


async def test_a_would_be_proxy_cannot_act_without_the_principals_confirmation(
    world: World, clients: list[PortalClient]
) -> None:
    principal, would_be = clients[0], clients[1]
    await _pages(principal, world, 17)
    await _pages(would_be, world, 18)
    handle = await principal.handle()
    await would_be.post("/proxies/register",
                        {"role": "proxy", "handle": handle, "scope": ["tax"]})  # fmt: skip
    async with world.portal.services.engine.connect() as db:
        account = (
            await db.execute(
                select(readmodel.accounts.c.account_id).where(readmodel.accounts.c.handle == handle)
            )
        ).scalar_one()
    await would_be.get("/records")
    async with Attempt(world, "act for a principal who never confirmed"):
        response = await would_be.post("/act-for", {"principal": account})
    assert response.status_code == 404


async def test_a_proxy_sees_only_records_inside_its_scope_and_the_principal_sees_it_looked(
    world: World, clients: list[PortalClient]
) -> None:
    principal, proxy = clients[0], clients[1]
    person = world.person(19)
    await _pages(principal, world, 19)
    await _pages(proxy, world, 20)
    outcome = await world.tax_check_after_move(person)  # a tax-sector record about the person
    assert outcome.MESSAGE_TYPE == "AttributeResponse"
    await world.portal.projector.caught_up()
    own = await principal.get("/records.json")
    assert any(r["sector"] == "tax" for r in own.json()["records"])
    await principal.post("/proxies/register",
                         {"role": "principal", "handle": await proxy.handle(),
                          "scope": ["pension"]})  # fmt: skip
    page = await proxy.get("/proxies")
    proxy_id = re.search(r'name="proxy_id" value="([0-9a-f-]{36})"', page.text)
    assert proxy_id is not None
    await proxy.post("/proxies/decide", {"proxy_id": proxy_id.group(1), "decision": "confirm"})
    records = await proxy.get("/records")
    account = re.search(r'<option value="([0-9a-f-]{36})">', records.text)
    assert account is not None
    await proxy.post("/act-for", {"principal": account.group(1)})
    async with Attempt(world, "a pension-only proxy asks for tax records", logged=False):
        seen = await proxy.get("/records.json", sector="tax")
        assert seen.json()["records"] == []
        everything = await proxy.get("/records.json")
        assert all(r["sector"] == "pension" for r in everything.json()["records"])
    looked = await principal.get("/records")
    assert "代理人" in looked.text
    assert "sector=tax" in looked.text
    async with Attempt(world, "a proxy reads on after the principal revoked"):
        await principal.post("/proxies/revoke", {"proxy_id": proxy_id.group(1)})
        after = await proxy.get("/records")
    assert after.status_code == 404


async def test_a_tampered_or_foreign_session_cookie_signs_nobody_in(
    world: World, clients: list[PortalClient]
) -> None:
    alice, mallory = clients[0], clients[1]
    await _pages(alice, world, 21)
    await _pages(mallory, world, 22)
    alice_cookie = alice.http.cookies[SESSION_COOKIE]
    payload, _, signature = alice_cookie.partition(".")
    session = json.loads(base64.b64decode(payload + "=="))
    mallory_cookie = mallory.http.cookies[SESSION_COOKIE]
    forged_payload = base64.b64encode(json.dumps(session).encode()).decode()
    forged = forged_payload + "." + mallory_cookie.partition(".")[2]
    mallory.http.cookies.set(SESSION_COOKIE, forged)
    async with Attempt(world, "another person's session under one's own signature", logged=False):
        response = await mallory.get("/records.json")
        assert str(response.url).endswith("/signin")  # the forged cookie signs nobody in
    del signature


async def test_every_form_without_the_sessions_csrf_token_is_refused(
    world: World, clients: list[PortalClient]
) -> None:
    alice, mallory = clients[0], clients[1]
    await _pages(alice, world, 23)
    await _pages(mallory, world, 24)
    forms = {
        "/consents/give": {"purpose": "continuity_of_care", "recipient": "med-0002"},
        "/consents/withdraw": {"consent_id": "x"},
        "/proxies/register": {"role": "principal", "handle": "X", "scope": ["tax"]},
        "/proxies/decide": {"proxy_id": "x", "decision": "confirm"},
        "/proxies/revoke": {"proxy_id": "x"},
        "/act-for": {"principal": "x"},
        "/signout": {},
    }
    for path, data in forms.items():
        async with Attempt(world, f"POST {path} without a CSRF token"):
            missing = await alice.post(path, data, csrf="")
        assert missing.status_code == 403
        async with Attempt(world, f"POST {path} with another session's CSRF token"):
            foreign = await alice.post(path, data, csrf=mallory.csrf)
        assert foreign.status_code == 403
    consents = await alice.get("/consents")
    assert "med-0002" not in consents.text.split("<table>")[-1] or "<table>" not in consents.text
