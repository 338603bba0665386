"""Notices (お知らせ): opening one is the 到達確認 sent back to the sender."""

from __future__ import annotations

from sqlalchemy import and_, select, update
from starlette.requests import Request
from starlette.responses import Response

from portal import readmodel
from portal.access import Refusal
from portal.pages.fields import (
    now,
    own_pages_only,
)
from portal.web import (
    Account,
    person_page,
    refuse,
    render,
    services_of,
)


@person_page
async def notices_page(request: Request, account: Account) -> Response:
    own_pages_only(request)
    async with services_of(request).engine.connect() as db:
        rows = (
            await db.execute(
                select(readmodel.notices)
                .where(readmodel.notices.c.person_code == account.link_code)
                .order_by(readmodel.notices.c.received_at.desc())
            )
        ).all()
    return render(request, "notices.html", {"notices": rows})


@person_page
async def notice_page(request: Request, account: Account) -> Response:
    own_pages_only(request)
    notice_id = request.path_params["notice_id"]
    services = services_of(request)
    table = readmodel.notices
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
        opened = now()
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
