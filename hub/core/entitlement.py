"""Whether a fact counts: the checks of the trust model (DOMAIN.md §11, §14) before any fact
changes the hub's state. Pure: the trust table, the legal-basis table, keys and `now` are
parameters.

In order, stopping at the first failure:
1. the publisher is not suspended by the oversight body (AGENCY_SUSPENDED);
2. the fact is not dated more than the table's tolerance (five minutes) ahead of the hub's
   clock (FUTURE_DATED), so nobody keeps a trigger window open by dating events ahead;
3. the publisher's kind may assert the fact, and the fact's conditions hold (NOT_ENTITLED).

A refusal is a value the shell dead-letters with its reason and counts per agency; the message
names agencies, facts and purposes, never a person or a code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from hub.core.keyring import Keyring
from hub.core.legal_basis import LegalBasisTable
from hub.core.state import HubState
from hub.core.trust import Condition, TrustTable
from schemas.consent_token import ConsentTokenError, read_consent_token
from schemas.models import (
    ApplicationReceived,
    ConsentGiven,
    ConsentWithdrawn,
    Message,
    ProxyKind,
    ProxyRegistered,
    ProxyRevoked,
    Relocation,
)
from schemas.vocabulary import AgencyKind

PORTAL = "portal"


class RefusalReason(StrEnum):
    """Why an asserted fact was refused (the dead letter's reason)."""

    NOT_ENTITLED = "NOT_ENTITLED"
    FUTURE_DATED = "FUTURE_DATED"
    AGENCY_SUSPENDED = "AGENCY_SUSPENDED"


@dataclass(frozen=True, slots=True)
class Refused:
    """A fact that does not count. It changes nothing."""

    reason: RefusalReason
    message: str


def _not_entitled(message: str) -> Refused:
    return Refused(RefusalReason.NOT_ENTITLED, message)


def suspension_refusal(publisher: str, state: HubState) -> Refused | None:
    if publisher in state.suspended:
        return Refused(
            RefusalReason.AGENCY_SUSPENDED, f"{publisher} is suspended by the oversight body"
        )
    return None


def time_refusal(occurred_at: datetime, trust: TrustTable, now: datetime) -> Refused | None:
    if occurred_at > now + timedelta(seconds=trust.future_tolerance_seconds):
        return Refused(
            RefusalReason.FUTURE_DATED,
            f"the fact is dated more than {trust.future_tolerance_seconds} s ahead of the hub",
        )
    return None


def assertion_refusal(
    event: Message,
    publisher_kind: AgencyKind,
    persons: Mapping[str, bytes],
    state: HubState,
    trust: TrustTable,
    legal_basis: LegalBasisTable,
    keys: Keyring,
    now: datetime,
) -> Refused | None:
    """Why `event` does not count (None: it does). `persons` maps the event's person-code
    fields to the person ids they decoded to; `state` holds the subject's record."""
    publisher = event.metadata.sender
    refused = suspension_refusal(publisher, state) or time_refusal(
        event.metadata.occurred_at, trust, now
    )
    if refused is not None:
        return refused
    fact = event.MESSAGE_TYPE
    rule = trust.rule(fact)
    if not rule.may_assert(publisher_kind):
        return _not_entitled(f"a {publisher_kind.value} agency may not assert {fact}")
    conditions = rule.conditions
    match event:
        case Relocation() if Condition.DESTINATION_MUNICIPALITY in conditions:
            if publisher != event.to_municipality:
                return _not_entitled("a relocation is reported by the destination municipality")
        case ApplicationReceived() if Condition.OWN_PROCEDURE in conditions:
            if not any(
                row.purpose == event.procedure and row.requester_kind is publisher_kind
                for row in legal_basis.rows.values()
            ):
                return _not_entitled(
                    f"{publisher} reports applications only for its own procedures"
                )
        case ConsentGiven() if publisher_kind not in rule.asserted_by:
            return _token_refusal(event, persons, state, keys, now)
        case ConsentWithdrawn() if Condition.INSTITUTION_WITHDRAWS_ONLY_ITS_OWN in conditions:
            if publisher != PORTAL and event.recipient != publisher:
                return _not_entitled(f"{publisher} may withdraw only a consent addressed to itself")
        case ProxyRegistered() if Condition.LEGAL_PROXY_ONLY_BY_MUNICIPALITY in conditions:
            if event.kind is ProxyKind.LEGAL and publisher_kind is not AgencyKind.MUNICIPALITY:
                return _not_entitled("a legal proxy is registered only by a municipality")
        case ProxyRevoked() if Condition.LEGAL_PROXY_ONLY_BY_MUNICIPALITY in conditions:
            principal = persons["principal_code"]
            grant = state.person(principal).proxy(persons["proxy_code"])
            if grant is not None and grant.legal and publisher_kind is not AgencyKind.MUNICIPALITY:
                return _not_entitled("a legal proxy is revoked only by a municipality")
    return None


def _token_refusal(
    event: ConsentGiven,
    persons: Mapping[str, bytes],
    state: HubState,
    keys: Keyring,
    now: datetime,
) -> Refused | None:
    """A consent asserted by an institution counts only with a consent token the person issued
    in the portal for that institution and purpose, only for the institution itself, and not
    if the person withdrew that consent after the token was issued."""
    publisher = event.metadata.sender
    if event.consent_token is None:
        return _not_entitled(f"{publisher} asserts a consent only with the person's consent token")
    if event.recipient != publisher:
        return _not_entitled("a consent given by token is addressed to the presenting institution")
    try:
        claims = read_consent_token(event.consent_token, keys.consent_token_issuers)
    except ConsentTokenError as exc:
        return _not_entitled(f"consent token refused: {exc}")
    portal_code = keys.codes.encode(PORTAL, persons["person_code"])
    why = claims.refusal(publisher, event.purpose, portal_code, now)
    if why is not None:
        return _not_entitled(f"consent token refused: {why}")
    issued = claims.issued_at.timestamp()
    withdrawals = state.person(persons["person_code"]).withdrawals
    if any(w.covers(event.purpose, publisher, issued) for w in withdrawals):
        return _not_entitled(
            "consent token refused: the person withdrew the consent after issuing it"
        )
    until = claims.consent_until
    if until is not None and (event.expires_at is None or event.expires_at > until):
        return _not_entitled("the consent outlasts what the person's consent token allows")
    return None
