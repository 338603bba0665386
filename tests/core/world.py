"""A small world of agencies and people for scenario tests: keys, state, table, rollout, clock.

Every step goes through the core's public functions exactly as the router calls them: an
enrolment is decided where its blind index lives and forwards the new holder to the person; a
number change claims its new index first, then moves the person, then revokes the old index.
The world is one partition, so every `Forward` comes back to the same state, in order.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.core.decision import decide
from hub.core.entitlement import Refused
from hub.core.events import EventPlan, plan_event
from hub.core.keyring import Keyring
from hub.core.legal_basis import LegalBasisTable, default_table
from hub.core.numbers import Enrolled, claim_number, decide_enrolment
from hub.core.outcomes import Deny, Route
from hub.core.rollout import Rollout
from hub.core.state import (
    ContinueNumberChange,
    Forward,
    HubState,
    apply,
    apply_all,
    record_decision,
    register_agency,
)
from hub.core.trust import TrustTable, default_trust_table
from schemas import individual_number
from schemas.consent_token import issue_consent_token
from schemas.models import (
    ApplicationReceived,
    AttributeRequest,
    ClinicalUpdate,
    ConsentGiven,
    ConsentWithdrawn,
    IncomeDetermined,
    Message,
    Metadata,
    NumberChanged,
    Relocation,
)
from schemas.vocabulary import EventType, agency_kind

from .conftest import make_keyring, rollout_at

START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
ALL_EVENTS = [t.value for t in EventType]


def metadata(sender: str, at: datetime) -> Metadata:
    return Metadata(message_id=uuid.uuid4(), occurred_at=at, sender=sender)


@dataclass
class World:
    keys: Keyring = field(default_factory=make_keyring)
    state: HubState = field(default_factory=HubState)
    table: LegalBasisTable = field(default_factory=default_table)
    rollout: Rollout = field(default_factory=lambda: rollout_at(4))
    now: datetime = START
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    trust: TrustTable = field(default_factory=default_trust_table)

    def later(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def register(self, *agencies: str, subscriptions: list[str] | None = None) -> None:
        for agency in agencies:
            register_agency(
                self.state,
                agency,
                agency_kind(agency),
                "1",
                ALL_EVENTS if subscriptions is None else subscriptions,
            )

    def new_number(self) -> str:
        return individual_number.generate(self.rng)

    def enrol(self, agency: str, number: str) -> bytes:
        result = self.try_enrol(agency, number)
        assert isinstance(result, Enrolled), result
        return result.code

    def try_enrol(self, agency: str, number: str) -> Enrolled | Deny:
        # ingress reduces the number to its blind index (None: not a valid number)
        index = self.keys.number_index(number) if individual_number.is_valid(number) else None
        result = decide_enrolment(
            uuid.uuid4(), agency, index, self.state, self.keys, self.rng.randbytes(16)
        )
        if isinstance(result, Enrolled):
            apply_all(self.state, result.here)
            self._forward(result.elsewhere)
        return result

    def publish(self, event: Message) -> EventPlan:
        plan = self.try_publish(event)
        assert isinstance(plan, EventPlan), plan
        return plan

    def try_publish(self, event: Message) -> EventPlan | Deny | Refused:
        """As the router does: a fact that does not count (`Refused`) changes nothing."""
        index = None
        if isinstance(event, NumberChanged):  # as ingress does, then the new index's partition
            number, sender = event.new_number, event.metadata.sender
            if number is not None and individual_number.is_valid(number):
                index = self.keys.number_index(number)
            person = self.keys.codes.decode(sender, event.person_code)
            if index is not None and person is not None:
                claimed = claim_number(sender, index, person, self.state)
                if isinstance(claimed, Deny):
                    return claimed
                apply_all(self.state, claimed.here)
                assert [type(f.change) for f in claimed.elsewhere] == [ContinueNumberChange]
            event = event.model_copy(update={"new_number": None})
        plan = plan_event(
            event, self.state, self.table, self.rollout, self.keys,
            trust=self.trust, now=self.now, new_number_index=index,
        )  # fmt: skip
        if isinstance(plan, EventPlan):
            apply_all(self.state, plan.changes)
            self._forward(plan.forwards)
        return plan

    def _forward(self, forwards: tuple[Forward, ...]) -> None:
        for forward in forwards:
            assert not isinstance(forward.change, ContinueNumberChange)
            apply(self.state, forward.change)

    def relocation(self, code: bytes, from_mun: str, to_mun: str) -> uuid.UUID:
        meta = metadata(to_mun, self.now)
        self.publish(
            Relocation(
                metadata=meta,
                person_code=code,
                from_municipality=from_mun,
                to_municipality=to_mun,
                moved_on=self.now.date(),
            )
        )
        return meta.message_id

    def application(self, agency: str, code: bytes, procedure: str) -> uuid.UUID:
        """An application the agency reports (refused, so no trigger, for a procedure that is
        not its own)."""
        meta = metadata(agency, self.now)
        self.try_publish(
            ApplicationReceived(
                metadata=meta, person_code=code, procedure=procedure, received_on=self.now.date()
            )
        )
        return meta.message_id

    def income_determined(self, agency: str, code: bytes) -> uuid.UUID:
        meta = metadata(agency, self.now)
        self.try_publish(IncomeDetermined(metadata=meta, person_code=code, fiscal_year=2025))
        return meta.message_id

    def clinical_update(self, agency: str, code: bytes, referred_to: str | None) -> uuid.UUID:
        meta = metadata(agency, self.now)
        self.try_publish(
            ClinicalUpdate(
                metadata=meta,
                person_code=code,
                document_category="referral",
                documented_on=date(2026, 4, 1),
                referred_to=referred_to,
            )
        )
        return meta.message_id

    def consent(self, publisher: str, code: bytes, purpose: str, **kw: Any) -> None:
        """The person consents in the portal (`code` is how `publisher` knows them)."""
        person_id = self.keys.codes.decode(publisher, code)
        assert person_id is not None
        self.publish(
            ConsentGiven(
                metadata=metadata("portal", self.now),
                person_code=self.keys.codes.encode("portal", person_id),
                purpose=purpose,
                **kw,
            )
        )

    def withdraw_consent(self, publisher: str, code: bytes, purpose: str) -> None:
        """The person withdraws a consent in the portal."""
        person_id = self.keys.codes.decode(publisher, code)
        assert person_id is not None
        self.publish(
            ConsentWithdrawn(
                metadata=metadata("portal", self.now),
                person_code=self.keys.codes.encode("portal", person_id),
                purpose=purpose,
            )
        )

    def consent_token(self, institution: str, number: str, purpose: str) -> str:
        """A consent token the person (by `number`) issues in the portal for `institution`."""
        key = Ed25519PrivateKey.from_private_bytes(bytes(32))
        self.keys = replace(self.keys, consent_token_issuers={"portal-1": key.public_key()})
        portal_code = self.enrol("portal", number)
        return issue_consent_token(
            key, "portal-1", portal_person_code=portal_code, institution=institution,
            purpose=purpose, now=self.now,
        )  # fmt: skip

    def request(
        self,
        requester: str,
        code: bytes,
        provider: str,
        row: str,
        attributes: list[str],
        trigger: uuid.UUID,
        purpose: str | None = None,
        proxy_code: bytes | None = None,
    ) -> Route | Deny:
        request = AttributeRequest(
            metadata=metadata(requester, self.now),
            request_id=uuid.uuid4(),
            person_code=code,
            provider=provider,
            purpose=purpose or self.table.rows[row].purpose,
            legal_basis_row=row,
            attributes=attributes,
            trigger_event_id=trigger,
            proxy_code=proxy_code,
        )
        # as the hub's shell does: the codes decrypted before deciding
        codes = self.keys.codes
        person_id = codes.decode(requester, request.person_code)
        proxy_id = None if proxy_code is None else codes.decode(requester, proxy_code)
        decision = decide(
            request, person_id, proxy_id, self.state, self.table, self.rollout, self.now
        )
        record_decision(self.state, requester, request.request_id, decision, self.now)
        return decision
