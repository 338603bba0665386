"""What the person's pages accept and share: the sectors, the medical purposes and institution
ids a form may name, dates from date fields, the time now, and leaving a proxy's view."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from starlette.requests import Request

from hub.core.legal_basis import default_table
from schemas.vocabulary import Sector

SECTORS = [s.value for s in Sector]
MEDICAL_PURPOSES = sorted({r.purpose for r in default_table().rows.values() if r.consent})
MEDICAL_INSTITUTION = re.compile(r"^med-[a-z0-9]+$")


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)  # SQLite hands back naive datetimes, stored as UTC


def date_field(text: str | None) -> date | None:
    if not text:
        return None
    return date.fromisoformat(text)


def own_pages_only(request: Request) -> None:
    """Notices, consents and proxies are the person's own: not while acting as a proxy."""
    if "acting_for" in request.session:
        request.session.pop("acting_for", None)
