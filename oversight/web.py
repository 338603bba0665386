"""The oversight body's pages (第三者機関) in the portal's web application.

Mounted into the portal app as an `Extension` (`portal.web`): `/oversight` shows the statistics
per agency, a chart of the volume of requests over time per agency, a chart of the denial mix
and the anomaly signals; all read from Kafka as the `ppc` principal (cached a few seconds).
Only oversight staff see them: they sign in at `/oversight/signin` with the oversight body's
credential (in development, RENKEI_OVERSIGHT_CREDENTIAL), which is a separate role from a
person's sign-in; a person's session does not open these pages.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from oversight.charts import Volume, denial_chart, volume_chart
from oversight.feed import Feed, connection
from oversight.report import MEASURES, measures_of, to_csv
from oversight.statistics import ALL_DIMENSIONS, Dimension, Statistics
from oversight.watcher import read_signals
from portal.access import Refusal
from portal.web import Extension, refuse, render, require_csrf
from producers import Connection
from schemas.models import OversightSignal

HERE = Path(__file__).parent
SESSION_ROLE = "oversight"  # the session key that marks oversight staff
CACHE_SECONDS = 10.0


@dataclass
class View:
    """What the oversight pages show, read once."""

    statistics: Statistics = field(default_factory=Statistics)
    volume: Volume = field(default_factory=Volume)
    signals: list[OversightSignal] = field(default_factory=list)


Loader = Callable[[], Awaitable[View]]


def kafka_loader(connection: Connection) -> Loader:
    """Everything the pages show, read from Kafka as the oversight body."""

    async def load() -> View:
        view = View()
        async with Feed(connection) as feed:
            async for seen in feed.read_to_end():
                view.statistics.add(seen.observation)
                view.volume.add(seen.observation)
        view.signals = await read_signals(connection)
        return view

    return load


class OversightPages:
    def __init__(self, load: Loader, credential: str) -> None:
        self._load = load
        self._digest = hashlib.sha256(credential.encode()).digest()
        self._cached: tuple[float, View] | None = None

    async def view(self) -> View:
        now = time.monotonic()
        if self._cached is None or now - self._cached[0] > CACHE_SECONDS:
            self._cached = (now, await self._load())
        return self._cached[1]

    def accepts(self, credential: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(credential.encode()).digest(), self._digest)

    async def signin(self, request: Request) -> Response:
        if request.method == "GET":
            return render(request, "oversight_signin.html", {"failed": False})
        form = await require_csrf(request)
        if isinstance(form, Response):
            return form
        credential = form.get("credential")
        if not isinstance(credential, str) or not self.accepts(credential):
            return render(request, "oversight_signin.html", {"failed": True}, status=401)
        request.session[SESSION_ROLE] = "ppc"
        return RedirectResponse("/oversight", status_code=303)

    async def signout(self, request: Request) -> Response:
        form = await require_csrf(request)
        if isinstance(form, Response):
            return form
        request.session.pop(SESSION_ROLE, None)
        return RedirectResponse("/oversight/signin", status_code=303)

    def _staff_only(self, request: Request) -> Response | None:
        if request.session.get(SESSION_ROLE) == "ppc":
            return None
        if "account" in request.session:  # a person is signed in: not their page
            return refuse(request, Refusal.NOT_ALLOWED)
        return RedirectResponse("/oversight/signin", status_code=303)

    async def csv(self, request: Request) -> Response:
        refused = self._staff_only(request)
        if refused is not None:
            return refused
        view = await self.view()
        return Response(
            to_csv(view.statistics, ALL_DIMENSIONS),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="oversight-statistics.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def overview(self, request: Request) -> Response:
        refused = self._staff_only(request)
        if refused is not None:
            return refused
        view = await self.view()
        by_agency = view.statistics.rows([Dimension.AGENCY])
        bucket, series = view.volume.series()
        mix = {key[1]: counts.denied for key, counts in by_agency if counts.denied}
        return render(
            request,
            "oversight.html",
            {
                "measures": [m.replace("_", " ") for m in MEASURES],
                "rows": [(key[1], measures_of(counts), counts) for key, counts in by_agency],
                "volume_svg": volume_chart(bucket, series),
                "denial_svg": denial_chart(mix),
                "signals": list(reversed(view.signals))[:100],
                "observed": view.statistics.observed,
            },
        )


MESSAGES = {
    "ja": {
        "oversight": "第三者機関",
        "oversight_signin_intro": "第三者機関の職員として、認証情報でサインインします。",
        "oversight_credential": "認証情報",
        "oversight_signin_failed": "認証情報が違います。",
        "oversight_statistics": "機関別の統計",
        "oversight_volume": "機関別の照会件数の推移",
        "oversight_denials": "不提供の理由の内訳",
        "oversight_signals": "異常の兆候",
        "oversight_no_signals": "兆候はありません。",
        "oversight_agency": "機関",
        "oversight_rule": "規則",
        "oversight_window": "時間枠の開始 (UTC)",
        "oversight_count": "件数",
        "oversight_threshold": "閾値",
        "oversight_summary": "概要",
        "oversight_observed": "読み取った記録: {n} 件",
    },
    "en": {
        "oversight": "Oversight body",
        "oversight_signin_intro": "Sign in as oversight staff with the oversight credential.",
        "oversight_credential": "Credential",
        "oversight_signin_failed": "That credential is not the oversight body's.",
        "oversight_statistics": "Statistics per agency",
        "oversight_volume": "Requests over time per agency",
        "oversight_denials": "Denials by reason",
        "oversight_signals": "Anomaly signals",
        "oversight_no_signals": "No signals.",
        "oversight_agency": "Agency",
        "oversight_rule": "Rule",
        "oversight_window": "Window start (UTC)",
        "oversight_count": "Count",
        "oversight_threshold": "Threshold",
        "oversight_summary": "Summary",
        "oversight_observed": "Records read: {n}",
    },
}


def oversight_extension(load: Loader, credential: str) -> Extension:
    """The oversight pages, for `create_app(services, extensions=[…])`."""
    if len(credential) < 16:
        raise ValueError("the oversight credential must be at least 16 characters")
    pages = OversightPages(load, credential)
    return Extension(
        routes=[
            Route("/oversight", pages.overview),
            Route("/oversight.csv", pages.csv),
            Route("/oversight/signin", pages.signin, methods=["GET", "POST"]),
            Route("/oversight/signout", pages.signout, methods=["POST"]),
        ],
        templates=HERE / "templates",
        messages=MESSAGES,
    )


CREDENTIAL_SETTING = "RENKEI_OVERSIGHT_CREDENTIAL"


def extensions_from_environment(bootstrap: str | None = None) -> list[Extension]:
    """The oversight pages when RENKEI_OVERSIGHT_CREDENTIAL is set, else none. They read Kafka
    with this process's configured credentials (RENKEI_KAFKA_*): run the app whose oversight
    pages are open as the `ppc` principal."""
    credential = os.environ.get(CREDENTIAL_SETTING)
    if not credential:
        return []
    return [oversight_extension(kafka_loader(connection(bootstrap)), credential)]
