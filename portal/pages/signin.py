"""Sign-in and sign-out, the home redirect and the language switch."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import insert, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal import readmodel
from portal.identity import DevelopmentIdentityProvider
from portal.pages.fields import (
    now,
)
from portal.web import (
    LANGUAGE_COOKIE,
    render,
    require_csrf,
    services_of,
    signed_in,
)
from renkei.logs import get_logger
from schemas.models import RequestDenied

log = get_logger("portal.signin")


async def signin_page(request: Request) -> Response:
    identities = services_of(request).identities
    choices = identities.choices() if isinstance(identities, DevelopmentIdentityProvider) else []
    return render(request, "signin.html", {"choices": choices, "error": None})


async def signin(request: Request) -> Response:
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    services = services_of(request)
    identities = services.identities
    credential = str(form.get("identity", ""))
    if form.get("issue") and isinstance(identities, DevelopmentIdentityProvider):
        credential = identities.issue()
    identity = identities.authenticate(credential)
    choices = identities.choices() if isinstance(identities, DevelopmentIdentityProvider) else []
    if identity is None:
        return render(request, "signin.html", {"choices": choices, "error": "signin_failed"}, 400)
    async with services.engine.connect() as db:
        row = (
            await db.execute(
                select(readmodel.accounts).where(readmodel.accounts.c.subject == identity.subject)
            )
        ).first()
    if row is None:
        # First sign-in: the portal enrols the person and learns its own link code.
        outcome = await services.agency.enrol(identity.individual_number)
        if isinstance(outcome, RequestDenied):
            log.warning("portal.enrolment_denied", reason=outcome.reason.value)
            return render(
                request, "signin.html", {"choices": choices, "error": "enrol_failed"}, 502
            )
        account_id = str(uuid.uuid4())
        async with services.engine.begin() as db:
            await db.execute(
                insert(readmodel.accounts).values(
                    account_id=account_id,
                    subject=identity.subject,
                    display_name=identity.display_name,
                    link_code=outcome,
                    handle=secrets.token_hex(4).upper(),
                    enrolled_at=now(),
                )
            )
    else:
        account_id = row.account_id
    request.session.clear()  # a fresh session (and CSRF token) at every sign-in
    request.session["account"] = account_id
    return RedirectResponse("/records", status_code=303)


async def signout(request: Request) -> Response:
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    request.session.clear()
    return RedirectResponse("/signin", status_code=303)


async def home(request: Request) -> Response:
    account = await signed_in(request)
    return RedirectResponse("/records" if account else "/signin", status_code=303)


async def choose_language(request: Request) -> Response:
    chosen = request.path_params["language"]
    target = request.query_params.get("next", "/")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"  # only paths of this site: no open redirect
    response = RedirectResponse(target, status_code=303)
    if chosen in ("ja", "en"):
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response
