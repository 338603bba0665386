"""The trust model (DOMAIN.md §14) as data: who may assert each fact.

A versioned, validated file (`hub/data/trust.json`) like the legal-basis table, and like it
published on the control channel (`renkei hub publish-trust`) so every replica applies the same
version. For each fact
(an event type, or `NoticeAcknowledged`) it lists the agency kinds that may assert it, the kinds
that may assert it only with a consent token the person issued in the portal, and conditions:
named rules of the hub that must hold as well (the vocabulary below, checked by
`hub.core.entitlement`). A fact missing from the table is asserted by nobody. Loading is pure;
an unknown fact, agency kind or condition is a load error naming the fact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from schemas.vocabulary import AgencyKind, EventType

NOTICE_ACKNOWLEDGED = "NoticeAcknowledged"
FACTS = frozenset({*(e.value for e in EventType), NOTICE_ACKNOWLEDGED})


class Condition(StrEnum):
    """The rules a fact's entry may name, beyond the kind of its publisher."""

    DESTINATION_MUNICIPALITY = "destination_municipality"  # Relocation: reported by to_municipality
    OWN_PROCEDURE = "own_procedure"  # ApplicationReceived: a purpose the publisher may request
    LEGAL_PROXY_ONLY_BY_MUNICIPALITY = "legal_proxy_only_by_municipality"
    INSTITUTION_WITHDRAWS_ONLY_ITS_OWN = "institution_withdraws_only_its_own"
    DELIVERED_NOTICE = "delivered_notice"  # NoticeAcknowledged: for a notice the hub delivered


class TrustTableError(ValueError):
    """The trust table is invalid (the operator's fault); the message names the fact."""


@dataclass(frozen=True, slots=True)
class FactRule:
    fact: str
    asserted_by: frozenset[AgencyKind]
    with_consent_token: frozenset[AgencyKind]
    conditions: frozenset[Condition]

    def may_assert(self, kind: AgencyKind) -> bool:
        """The kind may assert the fact (with a consent token if it is listed so)."""
        return kind in self.asserted_by or kind in self.with_consent_token


@dataclass(frozen=True, slots=True)
class TrustTable:
    version: str
    future_tolerance_seconds: int
    rules: Mapping[str, FactRule]

    def rule(self, fact: str) -> FactRule:
        """The fact's rule; a fact the table does not list is asserted by nobody."""
        return self.rules.get(fact) or FactRule(fact, frozenset(), frozenset(), frozenset())


def _kinds(entry: Mapping[str, Any], name: str, fact: str) -> frozenset[AgencyKind]:
    values = entry.get(name, [])
    if not isinstance(values, list):
        raise TrustTableError(f"fact {fact}: {name} must be a list of agency kinds")
    try:
        return frozenset(AgencyKind(v) for v in values)
    except ValueError as exc:
        raise TrustTableError(f"fact {fact}: {name} names an unknown agency kind") from exc


def parse_trust_table(document: Mapping[str, Any]) -> TrustTable:
    """Validate a trust-table document."""
    version = document.get("version")
    if not isinstance(version, str) or not version:
        raise TrustTableError("the trust table needs a version")
    tolerance = document.get("future_tolerance_seconds")
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or not 0 <= tolerance <= 3600:
        raise TrustTableError("future_tolerance_seconds must be a whole number from 0 to 3600")
    facts = document.get("facts")
    if not isinstance(facts, list):
        raise TrustTableError("the trust table needs a list of facts")
    rules: dict[str, FactRule] = {}
    for entry in facts:
        if not isinstance(entry, Mapping):
            raise TrustTableError("each fact is an object")
        fact = entry.get("fact")
        if fact not in FACTS:
            raise TrustTableError(f"unknown fact {str(fact)[:60]!r}")
        if fact in rules:
            raise TrustTableError(f"fact {fact} is listed twice")
        unknown = set(entry) - {"fact", "asserted_by", "with_consent_token", "conditions", "doc"}
        if unknown:
            raise TrustTableError(f"fact {fact}: unknown field(s) {', '.join(sorted(unknown))}")
        conditions = entry.get("conditions", [])
        try:
            named = frozenset(Condition(c) for c in conditions)
        except (ValueError, TypeError) as exc:
            raise TrustTableError(f"fact {fact}: unknown condition") from exc
        token_kinds = _kinds(entry, "with_consent_token", fact)
        if token_kinds and fact != EventType.CONSENT_GIVEN:
            raise TrustTableError(f"fact {fact}: only ConsentGiven is asserted with a token")
        rules[fact] = FactRule(fact, _kinds(entry, "asserted_by", fact), token_kinds, named)
    return TrustTable(version, tolerance, rules)


def parse_trust_text(text: str) -> TrustTable:
    """A trust table from its JSON document's text."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrustTableError(f"not JSON (line {exc.lineno})") from exc
    if not isinstance(document, Mapping):
        raise TrustTableError("the trust table is a JSON object")
    return parse_trust_table(document)


def parse_published_trust_table(version: str, sha256: str, table_json: str) -> TrustTable:
    """A table from a TrustTablePublished control message; the digest and version must match
    what the message claims."""
    if hashlib.sha256(table_json.encode()).hexdigest() != sha256:
        raise TrustTableError("the document does not match its published sha256")
    table = parse_trust_text(table_json)
    if table.version != version:
        raise TrustTableError(f"the document says version {table.version!r}, published as "
                              f"{version!r}")  # fmt: skip
    return table


def default_trust_table() -> TrustTable:
    """The table shipped with the hub (hub/data/trust.json)."""
    return parse_trust_text(resources.files("hub").joinpath("data/trust.json").read_text("utf-8"))
