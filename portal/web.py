"""The portal's web application: the app factory and what every page shares.

    app = create_app(services)                        # the person's pages
    app = create_app(services, extensions=[oversight]) # plus another role's pages

An `Extension` brings routes (mounted beside the portal's), a template directory (searched
after the portal's own, so its pages can `{% extends "base.html" %}`), navigation links and its
words for `portal.i18n`. Its handlers reach the shared pieces through `request.app.state.portal`
(`Services`) and the helpers here: `render`, `signed_in`, `require_csrf`, `refuse`.

Security: the session is a signed cookie (itsdangerous through Starlette's SessionMiddleware;
HttpOnly, SameSite=Lax, Secure when served over HTTPS) holding only an opaque account id and the
CSRF token; every form carries that token and every POST is checked against it; a refusal is
logged with its reason and the path's shape, never an id, a code or a name.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from portal import i18n, readmodel
from portal.access import Refusal
from portal.acts import PortalAgency
from portal.identity import IdentityProvider
from portal.tokens import TokenIssuer
from renkei.logs import get_logger

log = get_logger("portal.web")

HERE = Path(__file__).parent
SESSION_COOKIE = "renkei_portal"
LANGUAGE_COOKIE = "renkei_lang"


@dataclass
class Services:
    """What the pages use: the read model, the portal agency and the identity provider."""

    engine: AsyncEngine
    agency: PortalAgency
    identities: IdentityProvider
    secret_key: str
    https_only: bool = False
    tokens: TokenIssuer = field(default_factory=TokenIssuer.from_environment)
    refusals: int = 0  # access-control refusals since start (tests count them)


@dataclass(frozen=True, slots=True)
class NavLink:
    path: str
    label_key: str  # an i18n key


@dataclass(frozen=True)
class Extension:
    """Another role's pages, mounted into the portal app."""

    routes: Sequence[BaseRoute]
    templates: Path | None = None
    nav: Sequence[NavLink] = ()
    messages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Account:
    account_id: str
    display_name: str
    link_code: bytes = field(repr=False)
    handle: str


PERSON_NAV = (
    NavLink("/records", "records"),
    NavLink("/notices", "notices"),
    NavLink("/consents", "consents"),
    NavLink("/proxies", "proxies"),
)


def language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE, i18n.DEFAULT_LANGUAGE)
    return chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT_LANGUAGE


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def require_csrf(request: Request) -> FormData | Response:
    """The form, if its CSRF token matches the session's; otherwise a refusal response."""
    form = await request.form()
    sent = form.get("csrf")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str):
        return refuse(request, Refusal.BAD_CSRF_TOKEN, status=403)
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        return refuse(request, Refusal.BAD_CSRF_TOKEN, status=403)
    return form


def templates_of(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def services_of(request: Request) -> Services:
    services: Services = request.app.state.portal
    return services


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    lang = language(request)

    def t(key: str, **values: object) -> str:
        return i18n.translate(lang, key, **values)

    base = {
        "t": t,
        "reason_text": lambda code: i18n.reason_text(lang, code),
        "lang": lang,
        "csrf": csrf_token(request),
        "nav": request.app.state.nav,
        "account": request.scope.get("portal.account"),
        "path": request.url.path,
    }
    response = templates_of(request).TemplateResponse(
        request, template, {**base, **(context or {})}, status_code=status
    )
    response.headers["Cache-Control"] = "no-store"  # personal pages are never cached
    return response


def refuse(request: Request, reason: Refusal, *, status: int = 404) -> HTMLResponse:
    """Answer an access-control refusal: logged by reason and route only, shown as not found
    (403 for a bad CSRF token), never saying whose the thing is."""
    services_of(request).refusals += 1
    route = request.scope.get("route")
    log.warning(
        "portal.refused",
        reason=reason.value,
        route=getattr(route, "path", "?"),
        method=request.method,
    )
    key = "bad_request" if status == 403 else "not_found"
    return render(request, "error.html", {"title_key": key}, status=status)


async def signed_in(request: Request) -> Account | None:
    """The signed-in person's account, from the session's opaque account id."""
    account_id = request.session.get("account")
    if not isinstance(account_id, str):
        return None
    engine = services_of(request).engine
    async with engine.connect() as db:
        row = (
            await db.execute(
                select(readmodel.accounts).where(readmodel.accounts.c.account_id == account_id)
            )
        ).first()
    if row is None:
        request.session.clear()
        return None
    account = Account(row.account_id, row.display_name, row.link_code, row.handle)
    request.scope["portal.account"] = account
    return account


Handler = Callable[[Request, Account], Awaitable[Response]]


def person_page(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page for a signed-in person; others are sent to the sign-in page."""

    async def endpoint(request: Request) -> Response:
        account = await signed_in(request)
        if account is None:
            return RedirectResponse("/signin", status_code=303)
        return await handler(request, account)

    endpoint.__name__ = handler.__name__
    return endpoint


def _when(moment: object) -> str:
    """A time as a person reads it (UTC, to the minute)."""
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(moment, str) and len(moment) >= 16:
        return moment[:16].replace("T", " ") + " UTC"
    return "—" if moment is None else str(moment)


def create_app(services: Services, *, extensions: Sequence[Extension] = ()) -> Starlette:
    from portal.pages import routes as person_routes

    search = [str(HERE / "templates")] + [
        str(e.templates) for e in extensions if e.templates is not None
    ]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(search), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["when"] = _when
    templates = Jinja2Templates(env=environment)
    for extension in extensions:
        i18n.add_messages(extension.messages)
    routes: list[BaseRoute] = [
        *person_routes(),
        *(route for e in extensions for route in e.routes),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=services.secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=8 * 3600,
            same_site="lax",
            https_only=services.https_only,
        )
    ]
    app = Starlette(routes=routes, middleware=middleware, exception_handlers={})
    app.state.portal = services
    app.state.templates = templates
    app.state.nav = (*PERSON_NAV, *(link for e in extensions for link in e.nav))
    return app
