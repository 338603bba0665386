"""The portal in a real headless Chromium, against the real broker, the hub and the reference
agencies: what a person does, end to end. Screenshots of the main pages are taken on the way,
into a temporary folder; `RENKEI_SCREENSHOTS=results/portal` keeps them where the README shows
them (so a test run leaves the checkout as it found it unless asked)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.models import AttributeResponse, RequestDenied
from schemas.topics import outbound
from schemas.vocabulary import DenialReason
from tests.portal.browser import Browser, BrowserUnavailable
from tests.portal.conftest import ATTACKS
from tests.portal.world import World, wait_until

pytestmark = pytest.mark.kafka


@pytest.fixture(scope="module")
def browser(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    try:
        made = Browser(world.portal.url)
    except BrowserUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    shots = os.environ.get("RENKEI_SCREENSHOTS")
    made.screenshots = Path(shots) if shots else tmp_path_factory.mktemp("portal-pages")
    yield made
    made.quit()


async def test_a_person_signs_in_and_sees_a_provision_and_a_denial_about_them(
    world: World, browser: Browser
) -> None:
    person = world.person(30)
    await browser.sign_out()
    await browser.open("/signin")
    await browser.screenshot("signin.png")
    await browser.sign_in(world.credential(person))
    provided = await world.tax_check_after_move(person)
    assert isinstance(provided, AttributeResponse)
    denied = await world.tax_check_after_move(person, trigger=uuid.uuid4())
    assert isinstance(denied, RequestDenied)
    assert denied.reason is DenialReason.NO_TRIGGER_EVENT

    async def records() -> str:
        await browser.open("/records")
        return await browser.text()

    page = await browser.until(lambda text: "NO_TRIGGER_EVENT" in text, records)
    assert "提供" in page  # the provision, beside the denial
    assert "照会のきっかけとなる、あなたに関する届出や申請が確認できませんでした。" in page  # why
    assert "tx-01" in page
    assert "resident_tax_assessment" in page
    assert "taxable_income" in page
    assert "連鎖の位置を確認済み" in page
    assert "ハブの署名を確認済み" in page
    await browser.screenshot("records.png")
    await browser.follow("header .tools a[lang='en']")
    english = await browser.text()
    assert "My provision records" in english
    assert "Chain position verified" in english
    assert "Hub signature verified" in english
    assert "No notification or application about you was found" in english
    await browser.follow("header .tools a[lang='ja']")
    await browser.open("/records.json")
    assert "NO_TRIGGER_EVENT" in await browser.text()


async def test_opening_a_notice_sends_the_delivery_confirmation_back_to_the_sender(
    world: World, browser: Browser
) -> None:
    person = world.person(31)
    await browser.sign_in(world.credential(person))
    notice_id = await world.send_notice(person)
    await world.notice_delivered(notice_id)
    await browser.open("/notices")
    assert "未読" in await browser.text()
    await browser.screenshot("notices.png")
    assert not world.acknowledged(notice_id)  # arrival at the portal is not 到達確認
    await browser.follow(f"a[href='/notices/{notice_id}']")
    assert "annual pension statement is ready" in await browser.text()
    await wait_until(lambda: world.acknowledged(notice_id), "jps to receive the confirmation")
    await browser.screenshot("notice.png")
    await browser.open("/notices")
    assert "開封済み" in await browser.text()


async def test_consent_given_on_the_portal_lets_the_hospital_get_the_clinical_summary(
    world: World, browser: Browser
) -> None:
    person = world.person(32)
    before = await world.clinical_summary_request(person)
    assert isinstance(before, RequestDenied)
    assert before.reason is DenialReason.CONSENT_REQUIRED
    await browser.sign_in(world.credential(person))
    await browser.open("/consents")
    await browser.type("#recipient", "med-0002")
    await browser.follow("#give-consent")
    assert "同意済み" in await browser.text()
    await browser.screenshot("consents.png")
    await world.hub_took_in(outbound("portal"))
    after = await world.clinical_summary_request(person)
    assert isinstance(after, AttributeResponse), after
    await browser.type("#institution", "med-0001")
    await browser.follow("#issue-token")
    token = await browser.find("#consent-token")
    assert (await browser.call(token.get_attribute, "value") or "").startswith("rct1.")
    await browser.call(browser.driver.execute_script, "arguments[0].scrollIntoView()", token)
    await browser.screenshot("consent-token.png")


async def test_a_confirmed_proxy_sees_the_principals_records_in_scope_and_the_principal_sees_it(
    world: World, browser: Browser
) -> None:
    principal, proxy = world.person(33), world.person(34)
    outcome = await world.tax_check_after_move(principal)
    assert isinstance(outcome, AttributeResponse)
    await browser.sign_in(world.credential(proxy))
    await browser.open("/proxies")
    handle = await browser.call(lambda: browser.driver.find_element("id", "my-handle").text)
    await browser.sign_in(world.credential(principal))
    await browser.open("/proxies")
    await browser.type("#handle", handle)
    await browser.click("input[name='scope'][value='tax']")
    await browser.follow("#register-proxy")
    assert "代理人の承諾待ち" in await browser.text()
    await browser.sign_in(world.credential(proxy))
    await browser.open("/proxies")
    await browser.follow("button[name='decision'][value='confirm']")
    assert "有効" in await browser.text()
    await browser.screenshot("proxies.png")
    await world.portal.projector.caught_up()
    await browser.open("/records")
    await browser.follow("form[action='/act-for'] button")
    page = await browser.text()
    assert "代理として閲覧中" in page
    assert "tx-01" in page
    await browser.sign_in(world.credential(principal))
    assert "があなたの記録を閲覧しました" in await browser.text()


async def test_changing_the_notice_id_in_the_address_bar_shows_nothing_of_another_person(
    world: World, browser: Browser
) -> None:
    owner, intruder = world.person(35), world.person(36)
    notice_id = await world.send_notice(owner)
    await world.notice_delivered(notice_id)
    await browser.sign_in(world.credential(intruder))
    refusals = world.portal.services.refusals
    await browser.open(f"/notices/{notice_id}")
    page = await browser.text()
    refused = "見つかりません" in page and "ねんきん定期便" not in page
    ATTACKS.append(("open another person's notice from the address bar", refused))
    assert refused
    assert world.portal.services.refusals == refusals + 1
    assert not world.acknowledged(notice_id)
