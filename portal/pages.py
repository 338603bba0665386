"""The person's pages: sign-in, records (with downloads), notices, consents, proxies.

Every query is bounded by the signed-in person's own link code (or, for a proxy, by a grant
`portal.access` accepted); ids in a URL or a form only ever select among those rows, so an id
that belongs to someone else finds nothing and is answered as not found.
"""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, insert, or_, select, update
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from hub.core.legal_basis import default_table
from portal import readmodel
from portal.access import Grant, ProxyStatus, Refusal, View, may_decide_proxy, may_revoke_proxy
from portal.access import view_of as access_view_of
from portal.identity import DevelopmentIdentityProvider
from portal.web import (
    LANGUAGE_COOKIE,
    Account,
    person_page,
    refuse,
    render,
    require_csrf,
    services_of,
    signed_in,
)
from renkei.logs import get_logger
from schemas.consent_token import DEFAULT_TOKEN_LIFETIME, issue_consent_token
from schemas.models import ProxyRegistrant, RequestDenied
from schemas.vocabulary import Sector

log = get_logger("portal.pages")

SECTORS = [s.value for s in Sector]
MEDICAL_PURPOSES = sorted({r.purpose for r in default_table().rows.values() if r.consent})
CITATIONS = {(r.id, default_table().version): r.citation for r in default_table().rows.values()}
MEDICAL_INSTITUTION = re.compile(r"^med-[a-z0-9]+$")
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
)
R = readmodel


def _now() -> datetime:
    return datetime.now(UTC)


# ---- sign-in -----------------------------------------------------------------------------


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
            await db.execute(select(R.accounts).where(R.accounts.c.subject == identity.subject))
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
                insert(R.accounts).values(
                    account_id=account_id,
                    subject=identity.subject,
                    display_name=identity.display_name,
                    link_code=outcome,
                    handle=secrets.token_hex(4).upper(),
                    enrolled_at=_now(),
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


# ---- records -----------------------------------------------------------------------------


async def _grants_for(db: Any, principal_code: bytes) -> list[Grant]:
    rows = (
        await db.execute(select(R.proxies).where(R.proxies.c.principal_code == principal_code))
    ).all()
    return [
        Grant(r.principal_code, r.proxy_code, r.status, frozenset(r.scope), _aware(r.expires_at))
        for r in rows
    ]


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite hands back naive datetimes, stored as UTC


def _date(text: str | None) -> date | None:
    if not text:
        return None
    return date.fromisoformat(text)


async def _view(request: Request, account: Account) -> View | Refusal:
    """The records view of this request: one's own, or a principal's through a grant."""
    principal = request.session.get("acting_for")
    if not isinstance(principal, str):
        return View(account.link_code, None)
    async with services_of(request).engine.connect() as db:
        row = (
            await db.execute(select(R.accounts).where(R.accounts.c.account_id == principal))
        ).first()
        if row is None:
            return Refusal.NO_SUCH_THING
        grants = await _grants_for(db, row.link_code)
    return access_view_of(account.link_code, row.link_code, grants, _now())


def _record_query(view: View, filters: dict[str, str]) -> Select[Any]:
    table = R.provision_records
    query = select(table).where(table.c.subject_code == view.principal_code)
    if agency := filters.get("agency"):
        query = query.where(or_(table.c.requester == agency, table.c.provider == agency))
    if sector := filters.get("sector"):
        query = query.where(table.c.sector == sector)
    if start := _date(filters.get("from")):
        query = query.where(table.c.occurred_at >= datetime.combine(start, time(), UTC))
    if end := _date(filters.get("to")):
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
                select(R.accounts.c.link_code, R.accounts.c.display_name).where(
                    R.accounts.c.link_code.in_(proxy_codes)
                )
            )
            names = {code: name for code, name in found.all()}
    records = [_record_dict(r, names) for r in rows if view.shows(r.sector, r.purpose)]
    if view.by_proxy:
        # The principal sees that the proxy looked (page and filter, never the records).
        what = "records " + ",".join(f"{k}={v}" for k, v in filters.items() if v)
        async with engine.begin() as db:
            await db.execute(
                insert(R.proxy_views).values(
                    principal_code=view.principal_code,
                    proxy_code=account.link_code,
                    viewed_at=_now(),
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
        "occurred_at": _aware(row.occurred_at).isoformat(timespec="seconds"),  # type: ignore[union-attr]
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
                    select(R.accounts.c.display_name).where(
                        R.accounts.c.link_code == view.principal_code
                    )
                )
            ).scalar_one()
            acting = {"who": principal, "scope": ", ".join(sorted(view.scope or ()))}
        else:
            looked_rows = await db.execute(
                select(R.proxy_views, R.accounts.c.display_name)
                .join(R.accounts, R.accounts.c.link_code == R.proxy_views.c.proxy_code)
                .where(R.proxy_views.c.principal_code == account.link_code)
                .order_by(R.proxy_views.c.viewed_at.desc())
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
        select(R.accounts.c.account_id, R.accounts.c.display_name, R.proxies.c.expires_at)
        .join(R.proxies, R.proxies.c.principal_code == R.accounts.c.link_code)
        .where(R.proxies.c.proxy_code == account.link_code)
        .where(R.proxies.c.status == ProxyStatus.CONFIRMED.value)
    )
    now = _now()
    return [r for r in rows.all() if r.expires_at is None or _aware(r.expires_at) > now]  # type: ignore[operator]


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


# ---- notices -----------------------------------------------------------------------------


def _own_pages_only(request: Request) -> Response | None:
    """Notices, consents and proxies are the person's own: not while acting as a proxy."""
    if "acting_for" in request.session:
        request.session.pop("acting_for", None)
    return None


@person_page
async def notices_page(request: Request, account: Account) -> Response:
    _own_pages_only(request)
    async with services_of(request).engine.connect() as db:
        rows = (
            await db.execute(
                select(R.notices)
                .where(R.notices.c.person_code == account.link_code)
                .order_by(R.notices.c.received_at.desc())
            )
        ).all()
    return render(request, "notices.html", {"notices": rows})


@person_page
async def notice_page(request: Request, account: Account) -> Response:
    _own_pages_only(request)
    notice_id = request.path_params["notice_id"]
    services = services_of(request)
    table = R.notices
    async with services.engine.connect() as db:
        row = (
            await db.execute(
                select(table).where(
                    and_(table.c.notice_id == notice_id, table.c.person_code == account.link_code)
                )
            )
        ).first()
    if row is None:
        return refuse(request, Refusal.NO_SUCH_THING)
    if row.opened_at is None:
        # Opening it is the 到達確認: the sender hears that the person has seen it.
        opened = _now()
        await services.agency.acknowledge(row.encoded, opened)
        async with services.engine.begin() as db:
            await db.execute(
                update(table)
                .where(table.c.notice_id == notice_id)
                .where(table.c.opened_at.is_(None))
                .values(opened_at=opened)
            )
        return render(request, "notice.html", {"notice": {**row._asdict(), "opened_at": opened}})
    return render(request, "notice.html", {"notice": row._asdict()})


# ---- consents ----------------------------------------------------------------------------


@person_page
async def consents_page(request: Request, account: Account) -> Response:
    _own_pages_only(request)
    return await _consents(request, account, None)


async def _consents(
    request: Request,
    account: Account,
    error: str | None,
    status: int = 200,
    issued: str | None = None,
) -> Response:
    async with services_of(request).engine.connect() as db:
        rows = (
            await db.execute(
                select(R.consents)
                .where(R.consents.c.person_code == account.link_code)
                .order_by(R.consents.c.given_at.desc())
            )
        ).all()
        tokens = (
            await db.execute(
                select(R.consent_tokens)
                .where(R.consent_tokens.c.person_code == account.link_code)
                .order_by(R.consent_tokens.c.issued_at.desc())
                .limit(20)
            )
        ).all()
    return render(
        request,
        "consents.html",
        {
            "consents": rows,
            "tokens": tokens,
            "issued": issued,
            "purposes": MEDICAL_PURPOSES,
            "error": error,
        },
        status=status,
    )


@person_page
async def issue_token(request: Request, account: Account) -> Response:
    """A short-lived consent token for one hospital and one purpose, shown as a code the
    person hands to the hospital (同意トークン; see schemas.consent_token)."""
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    purpose = str(form.get("purpose", ""))
    institution = str(form.get("institution", "")).strip()
    if purpose not in MEDICAL_PURPOSES or not MEDICAL_INSTITUTION.match(institution):
        return await _consents(request, account, "bad_recipient", 400)
    try:
        until = _date(str(form.get("until", "")))
    except ValueError:
        return await _consents(request, account, "bad_date", 400)
    consent_until = (
        None if until is None else datetime.combine(until + timedelta(days=1), time(), UTC)
    )
    services = services_of(request)
    issuer = services.tokens
    now = _now()
    token_id = uuid.uuid4()
    token = issue_consent_token(
        issuer.signing_key,
        issuer.key_id,
        portal_person_code=account.link_code,
        institution=institution,
        purpose=purpose,
        now=now,
        consent_until=consent_until,
        token_id=token_id,
    )
    async with services.engine.begin() as db:
        await db.execute(
            insert(R.consent_tokens).values(
                token_id=str(token_id),
                person_code=account.link_code,
                institution=institution,
                purpose=purpose,
                issued_at=now,
                expires_at=now + DEFAULT_TOKEN_LIFETIME,
                consent_until=consent_until,
            )
        )
    return await _consents(request, account, None, issued=token)


@person_page
async def give_consent(request: Request, account: Account) -> Response:
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    purpose = str(form.get("purpose", ""))
    recipient = str(form.get("recipient", "")).strip()
    if purpose not in MEDICAL_PURPOSES or not MEDICAL_INSTITUTION.match(recipient):
        return await _consents(request, account, "bad_recipient", 400)
    try:
        until = _date(str(form.get("expires", "")))
    except ValueError:
        return await _consents(request, account, "bad_date", 400)
    expires = None if until is None else datetime.combine(until + timedelta(days=1), time(), UTC)
    services = services_of(request)
    event = await services.agency.give_consent(account.link_code, purpose, recipient, expires)
    async with services.engine.begin() as db:
        await db.execute(
            insert(R.consents).values(
                consent_id=str(event.metadata.message_id),
                person_code=account.link_code,
                purpose=purpose,
                recipient=recipient,
                given_at=event.metadata.occurred_at,
                expires_at=expires,
                withdrawn_at=None,
                given_by="portal",
            )
        )
    return RedirectResponse("/consents", status_code=303)


@person_page
async def withdraw_consent(request: Request, account: Account) -> Response:
    form = await require_csrf(request)
    if isinstance(form, Response):
        return form
    services = services_of(request)
    table = R.consents
    async with services.engine.connect() as db:
        row = (
            await db.execute(
                select(table).where(
                    table.c.consent_id == str(form.get("consent_id", "")),
                    table.c.person_code == account.link_code,
                    table.c.withdrawn_at.is_(None),
                )
            )
        ).first()
    if row is None:
        return refuse(request, Refusal.NO_SUCH_THING)
    event = await services.agency.withdraw_consent(account.link_code, row.purpose, row.recipient)
    async with services.engine.begin() as db:
        await db.execute(
            update(table)
            .where(table.c.consent_id == row.consent_id)
            .values(withdrawn_at=event.metadata.occurred_at)
        )
    return RedirectResponse("/consents", status_code=303)


# ---- proxies -----------------------------------------------------------------------------


@person_page
async def proxies_page(request: Request, account: Account) -> Response:
    _own_pages_only(request)
    return await _proxies(request, account, None)


async def _proxies(
    request: Request, account: Account, error: str | None, status: int = 200
) -> Response:
    table = R.proxies
    async with services_of(request).engine.connect() as db:
        mine = (
            await db.execute(
                select(table, R.accounts.c.display_name.label("other"))
                .outerjoin(R.accounts, R.accounts.c.link_code == table.c.proxy_code)
                .where(table.c.principal_code == account.link_code)
                .order_by(table.c.created_at.desc())
            )
        ).all()
        theirs = (
            await db.execute(
                select(table, R.accounts.c.display_name.label("other"))
                .outerjoin(R.accounts, R.accounts.c.link_code == table.c.principal_code)
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
        until = _date(str(form.get("expires", "")))
    except ValueError:
        return await _proxies(request, account, "bad_date", 400)
    expires = None if until is None else datetime.combine(until + timedelta(days=1), time(), UTC)
    async with services.engine.connect() as db:
        other = (await db.execute(select(R.accounts).where(R.accounts.c.handle == handle))).first()
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
            insert(R.proxies).values(
                proxy_id=str(uuid.uuid4()),
                principal_code=principal,
                proxy_code=proxy,
                kind="VOLUNTARY",
                scope=scope,
                expires_at=expires,
                status=status.value,
                proposed_by="PRINCIPAL" if role == "principal" else "PROXY",
                created_at=_now(),
                decided_at=None,
            )
        )
    return RedirectResponse("/proxies", status_code=303)


async def _grant_row(request: Request, account: Account, proxy_id: str) -> Any:
    table = R.proxies
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
        row.principal_code, row.proxy_code, row.status, frozenset(row.scope), _aware(row.expires_at)
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
            update(R.proxies)
            .where(R.proxies.c.proxy_id == proxy_id)
            .values(status=status.value, decided_at=_now())
        )


def routes() -> list[BaseRoute]:
    return [
        Route("/", home),
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/language/{language}", choose_language),
        Route("/records", records_page),
        Route("/records.csv", records_csv),
        Route("/records.json", records_json),
        Route("/act-for", act_for, methods=["POST"]),
        Route("/notices", notices_page),
        Route("/notices/{notice_id}", notice_page),
        Route("/consents", consents_page, methods=["GET"]),
        Route("/consents/give", give_consent, methods=["POST"]),
        Route("/consents/withdraw", withdraw_consent, methods=["POST"]),
        Route("/consents/token", issue_token, methods=["POST"]),
        Route("/proxies", proxies_page, methods=["GET"]),
        Route("/proxies/register", register_proxy, methods=["POST"]),
        Route("/proxies/decide", decide_proxy, methods=["POST"]),
        Route("/proxies/revoke", revoke_proxy, methods=["POST"]),
    ]
