"""The oversight pages in the portal app: only oversight staff see them, and they show the
statistics, the two charts and the signals, never a person. In-process over ASGI, no broker."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any, cast

import httpx
import pytest

from oversight.charts import Volume, denial_chart, volume_chart
from oversight.rules import Signal
from oversight.signals import message
from oversight.statistics import Statistics
from oversight.web import View, oversight_extension
from portal.web import Services, create_app
from schemas.vocabulary import DenialReason
from tests.oversight.records import NOON, provision

CREDENTIAL = "oversight-credential-for-tests"
SUBJECT = b"\x07" * 33


def view() -> View:
    statistics, volume = Statistics(), Volume()
    trigger = uuid.uuid4()
    for i in range(30):
        for observation in (
            provision("mun-27100", at=NOON + timedelta(minutes=i), subject=SUBJECT),
            provision("mun-14100", at=NOON + timedelta(minutes=i), trigger=trigger,
                      reason=DenialReason.NO_TRIGGER_EVENT, subject=SUBJECT),
        ):  # fmt: skip
            statistics.add(observation)
            volume.add(observation)
    signal = Signal("OFF_HOURS_BULK", "mun-14100", NOON, 600, 50, 50, "50 requests at night")
    return View(statistics, volume, [message(signal)])


@pytest.fixture
async def client() -> Any:
    async def load() -> View:
        return view()

    services = Services(cast(Any, None), cast(Any, None), cast(Any, None), "s" * 32)
    app = create_app(services, extensions=[oversight_extension(load, CREDENTIAL)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://portal") as http:
        yield http


async def sign_in(http: httpx.AsyncClient, credential: str) -> httpx.Response:
    page = await http.get("/oversight/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return await http.post("/oversight/signin", data={"csrf": csrf[1], "credential": credential})


async def test_the_oversight_pages_send_anyone_not_signed_in_as_staff_to_sign_in(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/oversight", "/oversight.csv"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == "/oversight/signin"


async def test_a_wrong_credential_opens_nothing(client: httpx.AsyncClient) -> None:
    refused = await sign_in(client, "not-the-oversight-credential")
    assert refused.status_code == 401
    assert (await client.get("/oversight")).status_code == 303


async def test_staff_see_statistics_charts_and_signals_and_no_person(
    client: httpx.AsyncClient,
) -> None:
    assert (await sign_in(client, CREDENTIAL)).status_code == 303
    page = await client.get("/oversight")
    assert page.status_code == 200
    text = page.text
    assert text.count("<svg") == 2
    assert 'aria-label="requests per minute and agency"' in text
    assert "NO_TRIGGER_EVENT" in text
    assert "OFF_HOURS_BULK" in text
    row = re.search(r"<tr><td>mun-27100</td><td>(\d+)</td><td>(\d+)</td>", text)
    assert row is not None
    assert row.groups() == ("30", "0")
    assert SUBJECT.hex() not in text
    csv = await client.get("/oversight.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "denied_NO_TRIGGER_EVENT" in csv.text.splitlines()[0]


def test_the_volume_chart_draws_a_line_per_agency_with_a_legend() -> None:
    volume = Volume()
    for i in range(90):
        volume.add(provision("jps", at=NOON + timedelta(minutes=i)))
        volume.add(provision("nta", at=NOON + timedelta(minutes=i // 2)))
    bucket, series = volume.series()
    assert bucket == 60
    assert sum(n for _, n in series["jps"]) == 90
    assert len(series["jps"]) == len(series["nta"]) == 90
    svg = volume_chart(bucket, series)
    assert svg.count("<polyline") == 2
    assert ">jps</text>" in svg
    assert ">nta</text>" in svg


def test_a_long_span_is_drawn_per_hour_or_per_day() -> None:
    volume = Volume()
    volume.add(provision("jps", at=NOON))
    volume.add(provision("jps", at=NOON + timedelta(hours=30)))
    assert volume.series()[0] == 3_600
    volume.add(provision("jps", at=NOON + timedelta(days=10)))
    bucket, series = volume.series()
    assert bucket == 86_400
    assert sum(n for _, n in series["jps"]) == 3


def test_the_denial_chart_stacks_reasons_per_agency() -> None:
    from collections import Counter

    svg = denial_chart({"mun-14100": Counter({"NO_TRIGGER_EVENT": 249, "AGENCY_SUSPENDED": 10})})
    assert svg.count("<rect") == 4  # two bars and two legend keys
    assert "mun-14100 NO_TRIGGER_EVENT: 249" in svg
    assert "<script" not in svg
