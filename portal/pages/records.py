"""The person's provision records (and a proxy's view of a principal's): filters, CSV and JSON
downloads, acting for a principal, and what the principal sees of the proxy's looking."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, insert, or_, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from hub.core.legal_basis import default_table
from portal import readmodel
from portal.access import Grant, ProxyStatus, Refusal, View
from portal.access import view_of as access_view_of
from portal.pages.fields import (
    SECTORS,
    aware,
    date_field,
    now,
)
from portal.web import (
    Account,
    person_page,
    refuse,
    render,
    require_csrf,
    services_of,
    signed_in,
)

CITATIONS = {(r.id, default_table().version): r.citation for r in default_table().rows.values()}
RECORD_COLUMNS = (
    "record_id",
    "request_id",
    "occurred_at",
    "requester",
    "provider",
    "purpose",
    "sector",
    "legal_basis_row",
    "table_version",
    "citation",
    "attributes",
    "trigger_event_id",
    "outcome",
    "reason",
    "via_proxy",
    "chain_verified",
    "signature_verified",
)


async def _grants_for(db: Any, principal_code: bytes) -> list[Grant]:
    rows = (
        await db.execute(
            select(readmodel.proxies).where(readmodel.proxies.c.principal_code == principal_code)
        )
    ).all()
    return [
        Grant(r.principal_code, r.proxy_code, r.status, frozenset(r.scope), aware(r.expires_at))
        for r in rows
    ]


async def _view(request: Request, account: Account) -> View | Refusal:
    """The records view of this request: one's own, or a principal's through a grant."""
    principal = request.session.get("acting_for")
    if not isinstance(principal, str):
        return View(account.link_code, None)
    async with services_of(request).engine.connect() as db:
        row = (
            await db.execute(
                select(readmodel.accounts).where(readmodel.accounts.c.account_id == principal)
            )
        ).first()
        if row is None:
            return Refusal.NO_SUCH_THING
        grants = await _grants_for(db, row.link_code)
    return access_view_of(account.link_code, row.link_code, grants, now())


def _record_query(view: View, filters: dict[str, str]) -> Select[Any]:
    table = readmodel.provision_records
    query = select(table).where(table.c.subject_code == view.principal_code)
    if agency := filters.get("agency"):
        query = query.where(or_(table.c.requester == agency, table.c.provider == agency))
    if sector := filters.get("sector"):
        query = query.where(table.c.sector == sector)
    if start := date_field(filters.get("from")):
        query = query.where(table.c.occurred_at >= datetime.combine(start, time(), UTC))
    if end := date_field(filters.get("to")):
        query = query.where(
            table.c.occurred_at < datetime.combine(end + timedelta(days=1), time(), UTC)
        )
    return query.order_by(table.c.occurred_at.desc(), table.c.chain_sequence.desc())


async def _records(
    request: Request, account: Account
) -> tuple[View, list[dict[str, Any]]] | Response:
    view = await _view(request, account)
    if isinstance(view, Refusal):
        request.session.pop("acting_for", None)
        return refuse(request, view)
    filters = {k: request.query_params.get(k, "") for k in ("agency", "sector", "from", "to")}
    try:
        query = _record_query(view, filters)
    except ValueError:
        return render(request, "error.html", {"title_key": "bad_date"}, status=400)
    engine = services_of(request).engine
    async with engine.connect() as db:
        rows = (await db.execute(query)).all()
        proxy_codes = {r.proxy_code for r in rows if r.proxy_code is not None}
        names = {}
        if proxy_codes:
            found = await db.execute(
                select(readmodel.accounts.c.link_code, readmodel.accounts.c.display_name).where(
                    readmodel.accounts.c.link_code.in_(proxy_codes)
                )
            )
            names = {code: name for code, name in found.all()}
    records = [_record_dict(r, names) for r in rows if view.shows(r.sector, r.purpose)]
    if view.by_proxy:
        # The principal sees that the proxy looked (page and filter, never the records).
        what = "records " + ",".join(f"{k}={v}" for k, v in filters.items() if v)
        async with engine.begin() as db:
            await db.execute(
                insert(readmodel.proxy_views).values(
                    principal_code=view.principal_code,
                    proxy_code=account.link_code,
                    viewed_at=now(),
                    what=what.strip()[:200],
                )
            )
    return view, records


def _record_dict(row: Any, names: dict[bytes, str]) -> dict[str, Any]:
    via = None
    if row.proxy_code is not None:
        via = names.get(row.proxy_code, "—")
    return {
        "record_id": row.record_id,
        "request_id": row.request_id,
        "occurred_at": aware(row.occurred_at).isoformat(timespec="seconds"),  # type: ignore[union-attr]
        "requester": row.requester,
        "provider": row.provider,
        "purpose": row.purpose,
        "sector": row.sector,
        "legal_basis_row": row.legal_basis_row,
        "table_version": row.table_version,
        "citation": CITATIONS.get((row.legal_basis_row, row.table_version)),
        "attributes": list(row.attributes),
        "trigger_event_id": row.trigger_event_id,
        "outcome": row.outcome,
        "reason": row.reason,
        "via_proxy": via,
        "chain_verified": bool(row.chain_verified),
        "signature_verified": None
        if row.signature_verified is None
        else bool(row.signature_verified),
    }


@person_page
async def records_page(request: Request, account: Account) -> Response:
    result = await _records(request, account)
    if isinstance(result, Response):
        return result
    view, records = result
    acting = None
    looked: list[Any] = []
    engine = services_of(request).engine
    async with engine.connect() as db:
        if view.by_proxy:
            principal = (
                await db.execute(
                    select(readmodel.accounts.c.display_name).where(
                        readmodel.accounts.c.link_code == view.principal_code
                    )
                )
            ).scalar_one()
            acting = {"who": principal, "scope": ", ".join(sorted(view.scope or ()))}
        else:
            looked_rows = await db.execute(
                select(readmodel.proxy_views, readmodel.accounts.c.display_name)
                .join(
                    readmodel.accounts,
                    readmodel.accounts.c.link_code == readmodel.proxy_views.c.proxy_code,
                )
                .where(readmodel.proxy_views.c.principal_code == account.link_code)
                .order_by(readmodel.proxy_views.c.viewed_at.desc())
                .limit(50)
            )
            looked = list(looked_rows.all())
        acts_for = await _acts_for(db, account)
    query = request.url.query
    return render(
        request,
        "records.html",
        {
            "records": records,
            "filters": {
                k: request.query_params.get(k, "") for k in ("agency", "sector", "from", "to")
            },
            "sectors": SECTORS,
            "acting": acting,
            "looked": looked,
            "acts_for": acts_for,
            "query": query,
        },
    )


async def _acts_for(db: Any, account: Account) -> list[Any]:
    """The principals this person may act for now (confirmed, unexpired grants)."""
    rows = await db.execute(
        select(
            readmodel.accounts.c.account_id,
            readmodel.accounts.c.display_name,
            readmodel.proxies.c.expires_at,
        )
        .join(
            readmodel.proxies, readmodel.proxies.c.principal_code == readmodel.accounts.c.link_code
        )
        .where(readmodel.proxies.c.proxy_code == account.link_code)
        .where(readmodel.proxies.c.status == ProxyStatus.CONFIRMED.value)
    )
    moment = now()
    return [r for r in rows.all() if r.expires_at is None or aware(r.expires_at) > moment]  # type: ignore[operator]


@person_page
async def records_csv(request: Request, account: Account) -> Response:
    result = await _records(request, account)
    if isinstance(result, Response):
        return result
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=RECORD_COLUMNS)
    writer.writeheader()
    for record in result[1]:
        writer.writerow({**record, "attributes": " ".join(record["attributes"])})
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="provision-records.csv"',
            "Cache-Control": "no-store",
        },
    )


@person_page
async def records_json(request: Request, account: Account) -> Response:
    result = await _records(request, account)
    if isinstance(result, Response):
        return result
    return Response(
        json.dumps({"records": result[1]}, ensure_ascii=False, indent=1),
        media_type="application/json",
        headers={
            "Content-Disposition": 'attachment; filename="provision-records.json"',
            "Cache-Control": "no-store",
        },
    )


async def act_for(request: Request) -> Response:
    account = await signed_in(request)
    if account is None:
        return RedirectResponse("/signin", status_code=303)
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    principal = str(form.get("principal", ""))
    if not principal:
        request.session.pop("acting_for", None)
        return RedirectResponse("/records", status_code=303)
    async with services_of(request).engine.connect() as db:
        allowed = {r.account_id for r in await _acts_for(db, account)}
    if principal not in allowed:
        return refuse(request, Refusal.NO_PROXY_GRANT)
    request.session["acting_for"] = principal
    return RedirectResponse("/records", status_code=303)
