"""Proxies (代理): register (as principal or would-be proxy), confirm or refuse, revoke."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, or_, select, update
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal import readmodel
from portal.access import Grant, ProxyStatus, Refusal, may_decide_proxy, may_revoke_proxy
from portal.pages.fields import (
    SECTORS,
    aware,
    date_field,
    now,
    own_pages_only,
)
from portal.web import (
    Account,
    person_page,
    refuse,
    render,
    require_csrf,
    services_of,
)
from schemas.models import ProxyRegistrant


@person_page
async def proxies_page(request: Request, account: Account) -> Response:
    own_pages_only(request)
    return await _proxies(request, account, None)


async def _proxies(
    request: Request, account: Account, error: str | None, status: int = 200
) -> Response:
    table = readmodel.proxies
    async with services_of(request).engine.connect() as db:
        mine = (
            await db.execute(
                select(table, readmodel.accounts.c.display_name.label("other"))
                .outerjoin(readmodel.accounts, readmodel.accounts.c.link_code == table.c.proxy_code)
                .where(table.c.principal_code == account.link_code)
                .order_by(table.c.created_at.desc())
            )
        ).all()
        theirs = (
            await db.execute(
                select(table, readmodel.accounts.c.display_name.label("other"))
                .outerjoin(
                    readmodel.accounts, readmodel.accounts.c.link_code == table.c.principal_code
                )
                .where(table.c.proxy_code == account.link_code)
                .order_by(table.c.created_at.desc())
            )
        ).all()
    return render(
        request,
        "proxies.html",
        {
            "as_principal": mine,
            "as_proxy": theirs,
            "sectors": SECTORS,
            "handle": account.handle,
            "error": error,
            "viewer": account.link_code,
        },
        status=status,
    )


@person_page
async def register_proxy(request: Request, account: Account) -> Response:
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    services = services_of(request)
    handle = str(form.get("handle", "")).strip().upper()
    role = str(form.get("role", ""))
    scope = [s for s in form.getlist("scope") if isinstance(s, str) and s in SECTORS]
    if not scope:
        return await _proxies(request, account, "no_scope", 400)
    try:
        until = date_field(str(form.get("expires", "")))
    except ValueError:
        return await _proxies(request, account, "bad_date", 400)
    expires = None if until is None else datetime.combine(until + timedelta(days=1), time(), UTC)
    async with services.engine.connect() as db:
        other = (
            await db.execute(
                select(readmodel.accounts).where(readmodel.accounts.c.handle == handle)
            )
        ).first()
    if other is None or role not in ("principal", "proxy"):
        return await _proxies(request, account, "unknown_handle", 400)
    if other.link_code == account.link_code:
        return await _proxies(request, account, "self_proxy", 400)
    if role == "principal":
        # The principal asks: their own confirmation is there; the proxy still accepts.
        principal, proxy, status = account.link_code, other.link_code, ProxyStatus.PENDING_PROXY
    else:
        # The would-be proxy asks: recorded by the hub, authorising nothing until the
        # principal confirms (DOMAIN.md §9).
        principal, proxy, status = other.link_code, account.link_code, ProxyStatus.PENDING_PRINCIPAL
        await services.agency.register_proxy(
            principal, proxy, scope, expires, ProxyRegistrant.PROXY
        )
    async with services.engine.begin() as db:
        await db.execute(
            insert(readmodel.proxies).values(
                proxy_id=str(uuid.uuid4()),
                principal_code=principal,
                proxy_code=proxy,
                kind="VOLUNTARY",
                scope=scope,
                expires_at=expires,
                status=status.value,
                proposed_by="PRINCIPAL" if role == "principal" else "PROXY",
                created_at=now(),
                decided_at=None,
            )
        )
    return RedirectResponse("/proxies", status_code=303)


async def _grant_row(request: Request, account: Account, proxy_id: str) -> Any:
    table = readmodel.proxies
    async with services_of(request).engine.connect() as db:
        return (
            await db.execute(
                select(table).where(
                    table.c.proxy_id == proxy_id,
                    or_(
                        table.c.principal_code == account.link_code,
                        table.c.proxy_code == account.link_code,
                    ),
                )
            )
        ).first()


def _grant(row: Any) -> Grant:
    return Grant(
        row.principal_code, row.proxy_code, row.status, frozenset(row.scope), aware(row.expires_at)
    )


@person_page
async def decide_proxy(request: Request, account: Account) -> Response:
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    services = services_of(request)
    row = await _grant_row(request, account, str(form.get("proxy_id", "")))
    if row is None:
        return refuse(request, Refusal.NO_SUCH_THING)
    grant = _grant(row)
    refused = may_decide_proxy(account.link_code, grant)
    if refused is not None:
        return refuse(request, refused)
    confirm = form.get("decision") == "confirm"
    if confirm:
        await services.agency.register_proxy(
            grant.principal_code,
            grant.proxy_code,
            list(row.scope),
            grant.expires_at,
            ProxyRegistrant.PRINCIPAL,  # the principal's own confirmation is on record now
        )
    elif row.status == ProxyStatus.PENDING_PRINCIPAL:
        # The hub recorded the would-be proxy's registration: end it.
        await services.agency.revoke_proxy(grant.principal_code, grant.proxy_code)
    status = ProxyStatus.CONFIRMED if confirm else ProxyStatus.REFUSED
    await _set_status(request, row.proxy_id, status)
    return RedirectResponse("/proxies", status_code=303)


@person_page
async def revoke_proxy(request: Request, account: Account) -> Response:
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    row = await _grant_row(request, account, str(form.get("proxy_id", "")))
    if row is None:
        return refuse(request, Refusal.NO_SUCH_THING)
    grant = _grant(row)
    refused = may_revoke_proxy(account.link_code, grant)
    if refused is not None:
        return refuse(request, refused)
    if row.status != ProxyStatus.PENDING_PROXY:  # the hub knows of it only once published
        await services_of(request).agency.revoke_proxy(grant.principal_code, grant.proxy_code)
    await _set_status(request, row.proxy_id, ProxyStatus.REVOKED)
    return RedirectResponse("/proxies", status_code=303)


async def _set_status(request: Request, proxy_id: str, status: ProxyStatus) -> None:
    async with services_of(request).engine.begin() as db:
        await db.execute(
            update(readmodel.proxies)
            .where(readmodel.proxies.c.proxy_id == proxy_id)
            .values(status=status.value, decided_at=now())
        )
