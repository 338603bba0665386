"""The legal-basis table (別表第二): shipped rows, validation naming the row, O(1) lookup."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import pytest

from hub.core.legal_basis import (
    LegalBasisTable,
    LegalBasisTableError,
    default_table_text,
    parse_published_table,
    parse_table,
)
from schemas.vocabulary import AgencyKind, EventType, Sector


def test_every_sector_has_at_least_two_rows(table: LegalBasisTable) -> None:
    per_sector = Counter(row.sector for row in table.rows.values())
    assert {s: per_sector[s] for s in Sector if per_sector[s] < 2} == {}


@pytest.mark.parametrize(
    ("requester", "purpose", "provider", "attribute", "trigger"),
    [
        (
            "municipality",
            "national_health_insurance_premium",
            "municipality",
            "taxable_income",
            "Relocation",
        ),
        (
            "municipality",
            "child_allowance",
            "municipality",
            "household_members",
            "ApplicationReceived",
        ),
        (
            "jps",
            "national_pension_premium_exemption",
            "municipality",
            "taxable_income",
            "ApplicationReceived",
        ),
        (
            "municipality",
            "public_assistance",
            "jps",
            "pension_benefit_amount",
            "ApplicationReceived",
        ),
        (
            "municipality",
            "public_assistance",
            "mhlw-ei",
            "employment_insurance_benefit",
            "ApplicationReceived",
        ),
        (
            "municipality",
            "long_term_care_premium",
            "jps",
            "pension_benefit_amount",
            "IncomeDetermined",
        ),
        ("medical", "continuity_of_care", "medical", "clinical_summary", "ClinicalUpdate"),
    ],
)
def test_the_starter_rows_of_the_domain_are_shipped(
    table: LegalBasisTable,
    requester: str,
    purpose: str,
    provider: str,
    attribute: str,
    trigger: str,
) -> None:
    row = table.by_parties[(AgencyKind(requester), purpose, AgencyKind(provider))]
    assert attribute in row.attributes
    assert EventType(trigger) in row.triggers
    assert table.rows[row.id] is row
    assert row.citation


def test_clinical_rows_need_consent_even_if_the_file_forgot_to_say_so() -> None:
    document = json.loads(default_table_text())
    for row in document["rows"]:
        row["consent"] = False
    table = parse_table(json.dumps(document))
    assert table.rows["md-01"].needs_consent(["clinical_summary"])
    assert not table.rows["hi-01"].needs_consent(["taxable_income"])


def _with_row(**changes: Any) -> str:
    document = json.loads(default_table_text())
    document["rows"][0].update(changes)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        (
            _with_row(attributes=["taxable_income", "blood_type"]),
            "row 'hi-01': unknown attribute 'blood_type'",
        ),
        (_with_row(sector="defence"), "row 'hi-01': unknown sector 'defence'"),
        (_with_row(requester_kind="ministry"), "row 'hi-01': unknown agency kind 'ministry'"),
        (_with_row(provider_kind="bank"), "row 'hi-01': unknown agency kind 'bank'"),
        (_with_row(triggers=["Birthday"]), "row 'hi-01': unknown event type 'Birthday'"),
        (
            _with_row(triggers=["ConsentGiven"]),
            "row 'hi-01': event type 'ConsentGiven' cannot trigger",
        ),
        (_with_row(triggers=[]), "row 'hi-01': triggers must be"),
        (_with_row(attributes=[]), "row 'hi-01': attributes must be"),
        (_with_row(window_days=0), "row 'hi-01': window_days"),
        (_with_row(window_days=True), "row 'hi-01': window_days"),
        (_with_row(consent="yes"), "row 'hi-01': consent"),
        (_with_row(citation=""), "row 'hi-01': citation"),
        (_with_row(purpose="two words"), "row 'hi-01': purpose"),
        (_with_row(requester_kind="portal"), "row 'hi-01': agency kind 'portal' cannot request"),
        (_with_row(extra=1), "row 'hi-01': has unknown field"),
        (_with_row(id="we-01"), "row 'we-01': appears twice"),
        (_with_row(id=""), "row #0: has no id"),
        (_with_row(id="tx-99", purpose="child_allowance"), "row 'we-01': repeats the parties"),
        (_with_row(purpose="public_assistance"), "row 'we-02': puts purpose 'public_assistance'"),
        ("[]", "document: is not an object"),
        ("{", "document: is not valid JSON"),
        ('{"version": "1"}', "no list of rows"),
        ('{"rows": []}', "has no version"),
        ('{"version": "1", "rows": [1]}', "row #0: is not an object"),
    ],
)
def test_an_invalid_table_is_a_load_error_naming_the_row(text: str, complaint: str) -> None:
    with pytest.raises(LegalBasisTableError, match=complaint.replace("(", r"\(")):
        parse_table(text)


def test_a_row_missing_a_field_names_the_field() -> None:
    document = json.loads(default_table_text())
    del document["rows"][2]["citation"]
    with pytest.raises(LegalBasisTableError, match="row 'pe-01': is missing citation"):
        parse_table(json.dumps(document))


def test_a_published_table_must_match_its_digest_and_version() -> None:
    text = default_table_text()
    digest = hashlib.sha256(text.encode()).hexdigest()
    assert parse_published_table("2026.1", digest, text).sha256 == digest
    with pytest.raises(LegalBasisTableError, match="sha256"):
        parse_published_table("2026.1", "0" * 64, text)
    with pytest.raises(LegalBasisTableError, match=r"published as '2027\.1'"):
        parse_published_table("2027.1", digest, text)


def test_lookup_structures_are_dicts_whatever_the_table_size(table: LegalBasisTable) -> None:
    assert isinstance(table.rows, dict)
    assert isinstance(table.by_parties, dict)
    assert table.max_window_seconds == 365 * 86_400
    entitled = table.by_trigger[(EventType.RELOCATION, AgencyKind.MUNICIPALITY)]
    assert {r.id for r in entitled} == {"hi-01", "hi-03", "tx-01", "lt-02"}
