"""Checking a provider's answer (DOMAIN.md §5, after routing): only the authorised attributes,
each with the catalogue's type. Anything else is dropped and reported, so the provision record
can show an over-provision by the provider."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from hub.core.decision import suspension
from hub.core.keyring import Keyring
from hub.core.outcomes import Deny
from hub.core.state import HubState, mark_token_used
from hub.core.tokens import ReplyTicket, TokenRefused
from schemas.catalogue import Catalogue, default_catalogue
from schemas.models import AttributeAnswer, AttributeValue, HouseholdMember


@dataclass(frozen=True, slots=True)
class CheckedAnswer:
    """What may go to the requester, and what the provider sent that it should not have."""

    ticket: ReplyTicket
    values: tuple[AttributeValue, ...]  # authorised, well-typed, once each, in answer order
    not_held: tuple[str, ...]  # authorised names with no (acceptable) value
    over_provided: tuple[str, ...]  # names outside the authorised set, or sent twice
    ill_typed: tuple[str, ...]  # authorised names whose value had the wrong type (dropped)


def _datum(value: object) -> Any:
    """The Avro datum for a model value, to check against the catalogue's schema."""
    if isinstance(value, list):
        return [
            {"relationship": v.relationship.value, "birth_year": v.birth_year}
            if isinstance(v, HouseholdMember)
            else v
            for v in value
        ]
    return value


def _well_typed(catalogue: Catalogue, name: str, value: object) -> bool:
    if value is None:  # the provider holds the attribute but it has no value
        return True
    if isinstance(value, Enum):  # the enum's own type, not a same-named symbol of another
        declared = catalogue[name].avro_type
        if not isinstance(declared, dict) or declared.get("name") != type(value).__name__:
            return False
    return catalogue.conforms(name, _datum(value))


def check_answer(
    answer: AttributeAnswer,
    state: HubState,
    keys: Keyring,
    now: datetime,
    catalogue: Catalogue | None = None,
) -> CheckedAnswer | TokenRefused:
    """Open the reply token (as presented by the answer's sender) and filter the values.

    A forged, expired or replayed token refuses the whole answer, and so does a request that
    already timed out (hub.core.timeouts): a late answer is never delivered. The caller then applies
    `record_answer` so the token cannot be used again.
    """
    cat = default_catalogue() if catalogue is None else catalogue
    opened = keys.tokens.open(
        answer.reply_token,
        answer.metadata.sender,
        int(now.timestamp()),
        keys.token_ttl_seconds,
        state.used_tokens,
    )
    if isinstance(opened, TokenRefused):
        return opened
    decided = state.processed.get((opened.requester, opened.request_id.int))
    if decided is not None and decided.reply is not None:  # its PROVIDER_TIMEOUT went out
        return TokenRefused("timed out")
    authorised = frozenset(opened.attributes)
    seen: set[str] = set()
    values: list[AttributeValue] = []
    over: list[str] = []
    ill: list[str] = []
    for item in answer.values:
        if item.name not in authorised or item.name in seen:
            over.append(item.name)
        elif _well_typed(cat, item.name, item.value):
            values.append(item)
        else:
            ill.append(item.name)
        seen.add(item.name)
    provided = {v.name for v in values}
    not_held = tuple(n for n in opened.attributes if n not in provided)
    return CheckedAnswer(opened, tuple(values), not_held, tuple(over), tuple(ill))


def withheld(checked: CheckedAnswer, state: HubState) -> Deny | None:
    """AGENCY_SUSPENDED if the provider or the requester was suspended since the query went out
    (the provider named first): the values go nowhere and the requester is told so, as a
    request decided now would be. None: the answer is delivered."""
    ticket = checked.ticket
    return suspension(state, ticket.provider, ticket.requester)


def record_answer(state: HubState, checked: CheckedAnswer, keys: Keyring) -> None:
    """The answer was accepted: its token may not be used again before it expires."""
    mark_token_used(
        state, checked.ticket.request_id, checked.ticket.issued_at + keys.token_ttl_seconds
    )
