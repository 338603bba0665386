"""Individual numbers, as blind indexes (DOMAIN.md §2, §5 step 3, §10), across partitions.

A blind index lives in the partition of its own key, a person in the partition of the person
id. So an enrolment is decided where the index lives and tells the person's partition that the
agency now holds the person; a number change first claims the new index where it lives (refused
there if the number is revoked or someone else's, before anything moves), then moves the
person's number where the person lives, then revokes the old index where that lives. Each step
returns the changes to apply here and the `Forward`s the shell sends on; nothing here knows
partitions or topics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from hub.core.decision import kind_of
from hub.core.keyring import Keyring
from hub.core.outcomes import Deny
from hub.core.state import (
    AddHolder,
    Change,
    ClaimNumber,
    ContinueNumberChange,
    Forward,
    HubState,
    IndexNumber,
)
from schemas.vocabulary import AgencyKind, DenialReason

R = DenialReason


@dataclass(frozen=True, slots=True)
class Enrolled:
    """An accepted enrolment: `code` goes back to the agency in EnrolmentConfirmed."""

    request_id: UUID
    agency: str
    person_id: bytes = field(repr=False)
    code: bytes = field(repr=False)
    number_index: bytes = field(repr=False)
    new_person: bool

    @property
    def here(self) -> tuple[Change, ...]:
        """Where the index lives: it points to the person (if it did not already)."""
        return (IndexNumber(self.number_index, self.person_id),)

    @property
    def elsewhere(self) -> tuple[Forward, ...]:
        """Where the person lives: the agency holds the person."""
        holder = AddHolder(self.person_id, self.agency, self.number_index)
        return (Forward(self.person_id, holder),)


@dataclass(frozen=True, slots=True)
class NumberClaimed:
    """A number change accepted where its new index lives."""

    here: tuple[Change, ...]
    elsewhere: tuple[Forward, ...]


def decide_enrolment(
    request_id: UUID,
    agency: str,
    number_index: bytes | None,
    state: HubState,
    keys: Keyring,
    fresh_person_id: bytes,
) -> Enrolled | Deny:
    """Map a presented number, reduced to its blind index where it entered the hub (None: not
    a valid number), to its person (`fresh_person_id` on first sight) and give the agency its
    code. `state` is the partition of the index."""
    if kind_of(state, agency) is None:
        return Deny(R.MALFORMED, "only an agency can enrol a person")
    if agency in state.suspended:
        return Deny(R.AGENCY_SUSPENDED, f"{agency} is suspended by the oversight body")
    if number_index is None:
        return Deny(
            R.MALFORMED,
            "the individual number is not sealed to a current hub key, "
            "or not 12 digits with a valid check digit",
        )
    if number_index in state.revoked_numbers:
        return Deny(
            R.NUMBER_REVOKED,
            "this individual number was replaced by a number change; enrol with the new number",
        )
    known = state.numbers.get(number_index)
    person_id = fresh_person_id if known is None else known
    return Enrolled(
        request_id=request_id,
        agency=agency,
        person_id=person_id,
        code=keys.codes.encode(agency, person_id),
        number_index=number_index,
        new_person=known is None,
    )


def claim_number(
    publisher: str, number_index: bytes | None, person_id: bytes, state: HubState
) -> NumberClaimed | Deny:
    """The first step of a number change, in the partition of the new number's index: refused
    if the publisher is no municipality, the number is not valid, revoked or someone else's;
    else the index is the person's from now on (no enrolment with the new number can create
    another person meanwhile) and the change goes on to the person."""
    if kind_of(state, publisher) is not AgencyKind.MUNICIPALITY:
        return Deny(R.MALFORMED, "a number change is published by a municipality")
    if publisher in state.suspended:  # before it claims anything
        return Deny(R.AGENCY_SUSPENDED, f"{publisher} is suspended by the oversight body")
    if number_index is None:
        return Deny(R.MALFORMED, "a number change needs a valid new individual number")
    if number_index in state.revoked_numbers:
        return Deny(R.NUMBER_REVOKED, "the new individual number was itself revoked")
    if state.numbers.get(number_index, person_id) != person_id:
        return Deny(R.MALFORMED, "the new individual number belongs to another person")
    return NumberClaimed(
        here=(ClaimNumber(number_index, person_id),),
        elsewhere=(Forward(person_id, ContinueNumberChange(person_id, number_index)),),
    )
