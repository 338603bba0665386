"""The closed vocabularies of the contract: sectors, agency kinds, event types, denial reasons.

These are the words of DOMAIN.md, defined once. The Avro enums in `schemas/avro/` use the same
symbols (a test keeps them equal), and the legal-basis table, rollout plan and attribute
catalogue are validated against them.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Sector(StrEnum):
    """分野: every purpose belongs to one sector; the rollout switches sectors on."""

    TAX = "tax"
    PENSION = "pension"
    HEALTH_INSURANCE = "health_insurance"
    LONG_TERM_CARE = "long_term_care"
    WELFARE = "welfare"
    EMPLOYMENT = "employment"
    MEDICAL = "medical"


class AgencyKind(StrEnum):
    """What kind of agency an id names. A national agency is a kind of its own."""

    MUNICIPALITY = "municipality"  # 市町村, mun-<5 digits>
    NTA = "nta"  # 国税庁, tax agency
    JPS = "jps"  # 日本年金機構, pension service
    MHLW_EI = "mhlw-ei"  # employment insurance
    HEALTH_INSURER = "health_insurer"  # hi-<code>
    MEDICAL = "medical"  # 医療機関, med-<code>
    PORTAL = "portal"  # マイ・ポータル
    OVERSIGHT = "oversight"  # 第三者機関, ppc


class EventType(StrEnum):
    """イベント: the event record names; an event states that something happened, not values."""

    RELOCATION = "Relocation"
    INCOME_DETERMINED = "IncomeDetermined"
    CLINICAL_UPDATE = "ClinicalUpdate"
    APPLICATION_RECEIVED = "ApplicationReceived"
    DEPENDENCY_CHANGED = "DependencyChanged"
    CONSENT_GIVEN = "ConsentGiven"
    CONSENT_WITHDRAWN = "ConsentWithdrawn"
    PROXY_REGISTERED = "ProxyRegistered"
    PROXY_REVOKED = "ProxyRevoked"
    NUMBER_CHANGED = "NumberChanged"


class DenialReason(StrEnum):
    """Why the hub refused a request (DOMAIN.md §5), in the order the checks run."""

    MALFORMED = "MALFORMED"
    UNKNOWN_CODE = "UNKNOWN_CODE"
    NUMBER_REVOKED = "NUMBER_REVOKED"
    NO_LEGAL_BASIS = "NO_LEGAL_BASIS"
    SECTOR_NOT_LIVE = "SECTOR_NOT_LIVE"
    OUTSIDE_ROLLOUT = "OUTSIDE_ROLLOUT"
    NO_TRIGGER_EVENT = "NO_TRIGGER_EVENT"
    TRIGGER_MISMATCH = "TRIGGER_MISMATCH"
    TRIGGER_EXPIRED = "TRIGGER_EXPIRED"
    CONSENT_REQUIRED = "CONSENT_REQUIRED"
    PROXY_NOT_AUTHORISED = "PROXY_NOT_AUTHORISED"
    AGENCY_SUSPENDED = "AGENCY_SUSPENDED"
    RATE_LIMITED = "RATE_LIMITED"


_NATIONAL = {
    "nta": AgencyKind.NTA,
    "jps": AgencyKind.JPS,
    "mhlw-ei": AgencyKind.MHLW_EI,
    "portal": AgencyKind.PORTAL,
    "ppc": AgencyKind.OVERSIGHT,
}
_PREFIXED = (
    (re.compile(r"mun-[0-9]{5}"), AgencyKind.MUNICIPALITY),
    (re.compile(r"hi-[a-z0-9]+(?:-[a-z0-9]+)*"), AgencyKind.HEALTH_INSURER),
    (re.compile(r"med-[a-z0-9]+(?:-[a-z0-9]+)*"), AgencyKind.MEDICAL),
)

AGENCY_ID_PATTERN = (
    r"^(?:mun-[0-9]{5}|hi-[a-z0-9]+(?:-[a-z0-9]+)*|med-[a-z0-9]+(?:-[a-z0-9]+)*"
    r"|nta|jps|mhlw-ei|portal|ppc)$"
)


class InvalidAgencyId(ValueError):
    """An agency id that matches none of the forms of DOMAIN.md §2."""


def agency_kind(agency_id: str) -> AgencyKind:
    """The kind of agency an id names; raises InvalidAgencyId for anything else."""
    kind = _NATIONAL.get(agency_id)
    if kind is not None:
        return kind
    for pattern, prefixed_kind in _PREFIXED:
        if pattern.fullmatch(agency_id):
            return prefixed_kind
    raise InvalidAgencyId(
        f"agency id {agency_id!r} is none of mun-<5 digits>, hi-<code>, med-<code>, "
        "nta, jps, mhlw-ei, portal, ppc"
    )


def is_agency_id(value: str) -> bool:
    try:
        agency_kind(value)
    except InvalidAgencyId:
        return False
    return True
