"""The legal-basis table (別表第二): who may ask whom for what, for which task, after which event.

A versioned data file (`hub/data/legal_basis.json`, or the table_json of a
LegalBasisTablePublished control message), validated at load: an unknown attribute, sector,
agency kind or event type is a load error naming the row. Lookup is by row id (the request
names the row it relies on) and by (requester kind, purpose, provider kind), both dicts, so the
cost does not grow with the table.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

from schemas.catalogue import Catalogue, default_catalogue
from schemas.vocabulary import AgencyKind, EventType, Sector

_TRIGGERS = frozenset(
    {
        EventType.RELOCATION,
        EventType.INCOME_DETERMINED,
        EventType.CLINICAL_UPDATE,
        EventType.APPLICATION_RECEIVED,
    }
)
_ROW_FIELDS = frozenset(
    {
        "id",
        "requester_kind",
        "purpose",
        "purpose_ja",
        "sector",
        "provider_kind",
        "attributes",
        "triggers",
        "window_days",
        "consent",
        "citation",
    }
)
_REQUESTING_KINDS = frozenset(AgencyKind) - {AgencyKind.PORTAL, AgencyKind.OVERSIGHT}
DAY = 86_400
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # ids, purposes, versions


class LegalBasisTableError(ValueError):
    """The table file is invalid (the publisher's fault); the message names the row."""


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    requester_kind: AgencyKind
    purpose: str  # 事務
    purpose_ja: str
    sector: Sector
    provider_kind: AgencyKind
    attributes: frozenset[str]
    triggers: frozenset[EventType]
    window_seconds: int
    consent: bool  # as written in the table
    sensitive_attributes: frozenset[str]  # from the catalogue: these always need consent
    citation: str

    def needs_consent(self, requested: Sequence[str]) -> bool:
        """The stricter of the table's flag and the catalogue's sensitivity."""
        return self.consent or not self.sensitive_attributes.isdisjoint(requested)


@dataclass(frozen=True, slots=True)
class LegalBasisTable:
    version: str
    sha256: str  # of the document text it was loaded from
    rows: Mapping[str, Row]
    by_parties: Mapping[tuple[AgencyKind, str, AgencyKind], Row]
    by_trigger: Mapping[tuple[EventType, AgencyKind], tuple[Row, ...]]  # for fan-out

    @property
    def max_window_seconds(self) -> int:
        return max((r.window_seconds for r in self.rows.values()), default=0)


def _fail(where: str, what: str) -> LegalBasisTableError:
    return LegalBasisTableError(f"legal-basis table {where}: {what}")


def _enum(cls: Any, value: object, where: str, what: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        raise _fail(where, f"unknown {what} {value!r}") from None


def _parse_row(raw: object, index: int, catalogue: Catalogue) -> Row:
    if not isinstance(raw, Mapping):
        raise _fail(f"row #{index}", "is not an object")
    row_id = raw.get("id")
    if not isinstance(row_id, str) or not _IDENTIFIER.fullmatch(row_id):
        raise _fail(f"row #{index}", "has no id of letters, digits, '_', '.', '-'")
    where = f"row {row_id!r}"
    missing = _ROW_FIELDS - set(raw) - {"purpose_ja"}
    if missing:
        raise _fail(where, f"is missing {', '.join(sorted(missing))}")
    extra = set(raw) - _ROW_FIELDS
    if extra:
        raise _fail(where, f"has unknown field(s) {', '.join(sorted(extra))}")
    requester = _enum(AgencyKind, raw["requester_kind"], where, "agency kind")
    provider = _enum(AgencyKind, raw["provider_kind"], where, "agency kind")
    if requester not in _REQUESTING_KINDS:
        raise _fail(where, f"agency kind {requester.value!r} cannot request attributes")
    sector = _enum(Sector, raw["sector"], where, "sector")
    attributes = raw["attributes"]
    if not isinstance(attributes, list) or not attributes:
        raise _fail(where, "attributes must be a non-empty list")
    for name in attributes:
        if name not in catalogue:
            raise _fail(where, f"unknown attribute {name!r}")
    triggers = raw["triggers"]
    if not isinstance(triggers, list) or not triggers:
        raise _fail(where, "triggers must be a non-empty list")
    trigger_types = frozenset(_enum(EventType, t, where, "event type") for t in triggers)
    for t in trigger_types:
        if t not in _TRIGGERS:
            raise _fail(where, f"event type {t.value!r} cannot trigger a request")
    window = raw["window_days"]
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        raise _fail(where, "window_days must be a positive whole number")
    consent = raw["consent"]
    if not isinstance(consent, bool):
        raise _fail(where, "consent must be true or false")
    if not isinstance(raw["purpose"], str) or not _IDENTIFIER.fullmatch(raw["purpose"]):
        raise _fail(where, "purpose must be an id of letters, digits, '_', '.', '-'")
    if not isinstance(raw["citation"], str) or not raw["citation"]:
        raise _fail(where, "citation must be a non-empty string")
    return Row(
        id=row_id,
        requester_kind=requester,
        purpose=raw["purpose"],
        purpose_ja=str(raw.get("purpose_ja", "")),
        sector=sector,
        provider_kind=provider,
        attributes=frozenset(attributes),
        triggers=trigger_types,
        window_seconds=window * DAY,
        consent=consent,
        sensitive_attributes=frozenset(a for a in attributes if catalogue[a].sensitive),
        citation=raw["citation"],
    )


def parse_table(text: str, catalogue: Catalogue | None = None) -> LegalBasisTable:
    """Parse and validate a table document; raises LegalBasisTableError naming the row."""
    cat = default_catalogue() if catalogue is None else catalogue
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail("document", "is not valid JSON") from exc
    if not isinstance(document, Mapping):
        raise _fail("document", "is not an object")
    version = document.get("version")
    if not isinstance(version, str) or not _IDENTIFIER.fullmatch(version):
        raise _fail("document", "has no version of letters, digits, '_', '.', '-'")
    raw_rows = document.get("rows")
    if not isinstance(raw_rows, list):
        raise _fail("document", "has no list of rows")
    rows: dict[str, Row] = {}
    by_parties: dict[tuple[AgencyKind, str, AgencyKind], Row] = {}
    sector_of_purpose: dict[str, Sector] = {}
    by_trigger: dict[tuple[EventType, AgencyKind], list[Row]] = {}
    for index, raw in enumerate(raw_rows):
        row = _parse_row(raw, index, cat)
        where = f"row {row.id!r}"
        if row.id in rows:
            raise _fail(where, "appears twice")
        parties = (row.requester_kind, row.purpose, row.provider_kind)
        if parties in by_parties:
            raise _fail(where, f"repeats the parties and purpose of row {by_parties[parties].id!r}")
        known_sector = sector_of_purpose.setdefault(row.purpose, row.sector)
        if known_sector is not row.sector:
            raise _fail(
                where,
                f"puts purpose {row.purpose!r} in {row.sector.value}, "
                f"another row in {known_sector.value}",
            )
        rows[row.id] = by_parties[parties] = row
        for trigger in row.triggers:
            by_trigger.setdefault((trigger, row.requester_kind), []).append(row)
    return LegalBasisTable(
        version=version,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        rows=rows,
        by_parties=by_parties,
        by_trigger={k: tuple(v) for k, v in by_trigger.items()},
    )


def parse_published_table(version: str, sha256: str, table_json: str) -> LegalBasisTable:
    """A table from a LegalBasisTablePublished control message; the digest and version must
    match what the message claims."""
    table = parse_table(table_json)
    if table.sha256 != sha256:
        raise _fail("document", "does not match its published sha256")
    if table.version != version:
        raise _fail("document", f"says version {table.version!r}, published as {version!r}")
    return table


def default_table_text() -> str:
    return resources.files("hub").joinpath("data/legal_basis.json").read_text("utf-8")


def default_table() -> LegalBasisTable:
    """The table shipped with the hub (start-up only: reads a package file)."""
    return parse_table(default_table_text())
