"""Consents for the medical sector: give, withdraw, and issue a consent token for a hospital."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import insert, select, update
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal import readmodel
from portal.access import Refusal
from portal.pages.fields import (
    MEDICAL_INSTITUTION,
    MEDICAL_PURPOSES,
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
from schemas.consent_token import DEFAULT_TOKEN_LIFETIME, issue_consent_token


@person_page
async def consents_page(request: Request, account: Account) -> Response:
    own_pages_only(request)
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
                select(readmodel.consents)
                .where(readmodel.consents.c.person_code == account.link_code)
                .order_by(readmodel.consents.c.given_at.desc())
            )
        ).all()
        tokens = (
            await db.execute(
                select(readmodel.consent_tokens)
                .where(readmodel.consent_tokens.c.person_code == account.link_code)
                .order_by(readmodel.consent_tokens.c.issued_at.desc())
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
        until = date_field(str(form.get("until", "")))
    except ValueError:
        return await _consents(request, account, "bad_date", 400)
    consent_until = (
        None if until is None else datetime.combine(until + timedelta(days=1), time(), UTC)
    )
    services = services_of(request)
    issuer = services.tokens
    issued_at = now()
    token_id = uuid.uuid4()
    token = issue_consent_token(
        issuer.signing_key,
        issuer.key_id,
        portal_person_code=account.link_code,
        institution=institution,
        purpose=purpose,
        now=issued_at,
        consent_until=consent_until,
        token_id=token_id,
    )
    async with services.engine.begin() as db:
        await db.execute(
            insert(readmodel.consent_tokens).values(
                token_id=str(token_id),
                person_code=account.link_code,
                institution=institution,
                purpose=purpose,
                issued_at=issued_at,
                expires_at=issued_at + DEFAULT_TOKEN_LIFETIME,
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
        until = date_field(str(form.get("expires", "")))
    except ValueError:
        return await _consents(request, account, "bad_date", 400)
    expires = None if until is None else datetime.combine(until + timedelta(days=1), time(), UTC)
    services = services_of(request)
    event = await services.agency.give_consent(account.link_code, purpose, recipient, expires)
    async with services.engine.begin() as db:
        await db.execute(
            insert(readmodel.consents).values(
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
    table = readmodel.consents
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
