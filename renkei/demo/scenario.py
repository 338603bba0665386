"""The small-start rollout as a script: what each phase plays, and what each request should get.

The scenario acts only as the reference agencies do (through the agency SDK), except for the
operator's rollout changes. Every attribute request and enrolment it sends is written down with
the outcome it *expects* (`PROVIDED` or a denial reason) before it is sent; what actually
happened is read back from Kafka afterwards (`renkei.demo.readback`), never taken from here.

Phases (hub/data/rollout.json):

1. pilot — tax and pension in three municipalities: a move between two pilot municipalities
   lets the new one ask the former one for the resident-tax income (tx-01); applications for a
   national pension premium exemption let the pension service ask the municipality that taxed
   the person (pe-01); the pension service sends the annual pension statement through the
   portal and gets the delivery confirmation back. Scripted failures: a health-insurance check
   (SECTOR_NOT_LIVE), an exemption check at a municipality outside the pilot (OUTSIDE_ROLLOUT),
   asking more than the row allows (NO_LEGAL_BASIS), citing no event (NO_TRIGGER_EVENT), a
   forged code (UNKNOWN_CODE), and an enrolment with a number replaced by a number change
   (NUMBER_REVOKED).
2. all municipalities, welfare and long-term care: the other moves (tx-01), child-allowance
   applications (we-01), long-term-care premiums after the income determination (lt-01), the
   remaining exemptions; a voluntary proxy registered at a municipal counter acts inside its
   scope (routed) and outside it (PROXY_NOT_AUTHORISED).
3. health insurance and employment: National Health Insurance premium checks after each move,
   against the former municipality (hi-01), and for newcomers insured as employees the check
   with their health insurer (hi-03); dependant recognition by the health insurer (hi-02);
   employment-insurance benefits adjusted against pensions (em-01).
4. medical, consent-based: each referral lets the receiving institution ask the referring one
   for the clinical summary (md-01): provided where the person consented on the portal,
   CONSENT_REQUIRED where not.

Between the scripted checks, `rate` background checks per second for `duration` seconds repeat
the phase's routine checks (fresh request ids, same triggers): the scale knob.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from uuid import UUID

from agencies import (
    FISCAL_YEAR,
    MEDICAL_INSTITUTIONS,
    PILOT_MUNICIPALITIES,
    REFERENCE_DATE,
    NoticeSender,
    Person,
    Population,
    Portal,
    ReferenceAgency,
)
from hub.core import LegalBasisTable
from producers import ReplyTimeout
from schemas import individual_number
from schemas.models import (
    ApplicationReceived,
    AttributeResponse,
    ClinicalUpdate,
    ConsentGiven,
    EnrolmentConfirmed,
    HealthInsuranceStatus,
    IncomeDetermined,
    Notice,
    NumberChanged,
    PensionInsuredCategory,
    ProviderTimeout,
    ProxyKind,
    ProxyRegistered,
    ProxyRegistrant,
    Relationship,
    Relocation,
    RequestDenied,
)

PROVIDED = "PROVIDED"  # the expected outcome of a request that should be answered
PROVIDER_TIMEOUT = "PROVIDER_TIMEOUT"  # … the provider did not answer in the hub's time
CONFIRMED = "CONFIRMED"  # … of an enrolment that should be accepted
JPS, INSURER, EMPLOYMENT, PORTAL = "jps", "hi-kyokai", "mhlw-ei", "portal"
ENROLMENT = "enrolment (nothing live)"  # phase 0, before the operator's first advance


# ---- what is expected ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expectation:
    """One request the scenario sent and the outcome it expects (no personal data)."""

    request_id: UUID
    phase: int
    kind: str  # "attribute" or "enrolment"
    expected: str  # PROVIDED, CONFIRMED or a DenialReason value
    case: str | None = None  # the scripted case's name; None for routine and background checks
    background: bool = False  # one of the phase's background load (its offered rate)


@dataclass(frozen=True, slots=True)
class Check:
    """An attribute request as a requester would make it; sent any number of times."""

    requester: str
    provider: str
    row: str
    purpose: str
    attributes: tuple[str, ...]
    person_code: bytes
    trigger: UUID
    proxy_code: bytes | None = None
    expected: str = PROVIDED


@dataclass
class PhaseProgress:
    """Live counters of one phase, for the progress display only (the report reads Kafka)."""

    name: str
    sent: int = 0
    provided: int = 0
    denied: Counter[str] = field(default_factory=Counter)
    confirmed: int = 0  # enrolments made during the phase
    timeouts: int = 0
    background: int = 0
    started: float | None = None
    finished: float | None = None

    @property
    def outcomes(self) -> int:
        return self.provided + self.confirmed + sum(self.denied.values())


@dataclass
class Tracker:
    """What the scenario is doing, for the live display."""

    step: str = "starting"
    phase: int = 0
    phases: list[PhaseProgress] = field(default_factory=lambda: [PhaseProgress(ENROLMENT)])
    enrolled: int = 0
    to_enrol: int = 0
    cases: list[tuple[str, str, str]] = field(default_factory=list)  # case, expected, got
    notices: tuple[int, int] = (0, 0)  # sent, confirmed back to the sender


@dataclass(frozen=True, slots=True)
class ScenarioConfig:
    rate: float = 200.0  # background checks per second, in each phase
    duration: float = 5.0  # seconds of background checks per phase
    concurrency: int = 64  # routine checks in flight at once
    max_in_flight: int = 5_000  # background checks awaiting their outcome at once
    settle_timeout: float = 30.0


# ---- the scenario -------------------------------------------------------------------------


class Scenario:
    """Plays the rollout through the reference agencies; `advance(k)` is the operator's act."""

    def __init__(
        self,
        population: Population,
        agencies: dict[str, ReferenceAgency],
        table: LegalBasisTable,
        *,
        advance: Callable[[int], Awaitable[str]],
        ingested: Callable[[str, int, int], Awaitable[None]],
        config: ScenarioConfig,
        tracker: Tracker | None = None,
    ) -> None:
        """`advance(k)` switches the hub to phase k and returns its name; `ingested(topic,
        partition, offset)` returns once the hub has taken in that record (a barrier between
        two agencies' topics, which Kafka does not order)."""
        self.population = population
        self.agencies = agencies
        self.table = table
        self._advance = advance
        self._ingested = ingested
        self.config = config
        self.tracker = tracker or Tracker()
        self.rng = random.Random(population.seed)
        self.expectations: list[Expectation] = []
        self.pool: list[Check] = []  # routine checks so far: what background load repeats
        self.notices: dict[UUID, str] = {}  # notice id -> sender
        self._triggers: dict[tuple[str, ...], asyncio.Task[UUID]] = {}
        self._limit = asyncio.Semaphore(config.concurrency)
        self._named: set[str] = set()  # cases played once by name, then as routine checks
        self.phase = 0

    # ---- agencies and people ----------------------------------------------------------

    def agency(self, agency_id: str) -> ReferenceAgency:
        return self.agencies[agency_id]

    def code(self, agency_id: str, person: Person | str) -> bytes:
        number = person if isinstance(person, str) else person.individual_number
        return self.agencies[agency_id].code_of[number]

    def holds(self, agency_id: str, person: Person) -> bool:
        return person.individual_number in self.agencies[agency_id].code_of

    @property
    def persons(self) -> tuple[Person, ...]:
        return self.population.persons

    # ---- triggers: each event published once, cited as often as needed ----------------

    def _once(
        self, key: tuple[str, ...], publish: Callable[[], Awaitable[UUID]]
    ) -> Awaitable[UUID]:
        task = self._triggers.get(key)
        if task is None:
            task = asyncio.ensure_future(publish())
            self._triggers[key] = task
        return task

    def relocation(self, person: Person) -> Awaitable[UUID]:
        """転入: the destination municipality reports the move in."""
        to, former, moved_on = person.municipality, person.former_municipality, person.moved_on
        assert former is not None
        assert moved_on is not None
        agency = self.agency(to).agency

        async def publish() -> UUID:
            event = Relocation(
                metadata=agency.metadata(),
                person_code=self.code(to, person),
                from_municipality=former,
                to_municipality=to,
                moved_on=moved_on,
            )
            await agency.publish_event(event)
            return event.metadata.message_id

        return self._once(("relocation", person.individual_number), publish)

    def application(self, applicant_at: str, person: Person, procedure: str) -> Awaitable[UUID]:
        """申請受付: the person applied at `applicant_at` for `procedure`."""
        agency = self.agency(applicant_at).agency

        async def publish() -> UUID:
            event = ApplicationReceived(
                metadata=agency.metadata(),
                person_code=self.code(applicant_at, person),
                procedure=procedure,
                received_on=REFERENCE_DATE,
            )
            await agency.publish_event(event)
            return event.metadata.message_id

        key = ("application", applicant_at, person.individual_number, procedure)
        return self._once(key, publish)

    def income_determined(self, person: Person) -> Awaitable[UUID]:
        """所得確定: the municipality of residence reports the year's income as final."""
        municipality = person.municipality
        agency = self.agency(municipality).agency

        async def publish() -> UUID:
            event = IncomeDetermined(
                metadata=agency.metadata(),
                person_code=self.code(municipality, person),
                fiscal_year=FISCAL_YEAR,
            )
            await agency.publish_event(event)
            return event.metadata.message_id

        return self._once(("income", person.individual_number), publish)

    # ---- sending ------------------------------------------------------------------------

    def _check(
        self,
        requester: str,
        provider: str,
        row: str,
        person_code: bytes,
        trigger: UUID,
        *,
        attributes: Iterable[str] | None = None,
        proxy_code: bytes | None = None,
        expected: str = PROVIDED,
    ) -> Check:
        legal = self.table.rows[row]
        return Check(
            requester,
            provider,
            row,
            legal.purpose,
            tuple(attributes) if attributes is not None else tuple(sorted(legal.attributes)),
            person_code,
            trigger,
            proxy_code,
            expected,
        )

    async def send(
        self,
        check: Check,
        *,
        case: str | None = None,
        routine: bool = True,
        background: bool = False,
    ) -> str:
        """Send one request, expecting `check.expected`; returns what came back (or TIMEOUT).
        `routine=False`: not one for the background load to repeat; `background`: one of the
        background load's repeats (the report measures the rate they achieve)."""
        request_id = uuid.uuid4()
        self.expectations.append(
            Expectation(
                request_id, self.phase, "attribute", check.expected, case, background=background
            )
        )
        if routine and case is None:
            self.pool.append(check)
        progress = self.tracker.phases[self.phase]
        progress.sent += 1
        try:
            outcome = await self.agency(check.requester).agency.request_attributes(
                person_code=check.person_code,
                provider=check.provider,
                purpose=check.purpose,
                legal_basis_row=check.row,
                attributes=check.attributes,
                trigger_event_id=check.trigger,
                proxy_code=check.proxy_code,
                request_id=request_id,
            )
        except ReplyTimeout:
            progress.timeouts += 1
            got = "TIMEOUT"
        else:
            got = self._count(outcome)
        if case is not None:
            self.tracker.cases.append((case, check.expected, got))
        return got

    def _count(self, outcome: AttributeResponse | RequestDenied | ProviderTimeout) -> str:
        progress = self.tracker.phases[self.phase]
        if isinstance(outcome, AttributeResponse):
            progress.provided += 1
            return PROVIDED
        if isinstance(outcome, ProviderTimeout):  # an outcome, shown beside the denials
            progress.denied[PROVIDER_TIMEOUT] += 1
            return PROVIDER_TIMEOUT
        progress.denied[outcome.reason.value] += 1
        return outcome.reason.value

    async def _each(
        self, people: Iterable[Person], play: Callable[[Person], Awaitable[object]]
    ) -> None:
        async def one(person: Person) -> None:
            async with self._limit:
                await play(person)

        await asyncio.gather(*(one(p) for p in people))

    async def background(self) -> None:
        """`rate` checks per second for `duration` seconds, drawn from the routine checks so
        far (the same questions asked again, with fresh request ids)."""
        rate, duration = self.config.rate, self.config.duration
        if rate <= 0 or duration <= 0 or not self.pool:
            return
        self.tracker.step = f"background load: {rate:g}/s for {duration:g} s"
        in_flight = asyncio.Semaphore(self.config.max_in_flight)
        tasks: list[asyncio.Task[str]] = []
        progress = self.tracker.phases[self.phase]
        began = time.monotonic()
        count = int(rate * duration)

        async def one(check: Check) -> str:
            try:
                return await self.send(check, routine=False, background=True)
            finally:
                in_flight.release()

        for i in range(count):
            due = began + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await in_flight.acquire()
            progress.background += 1
            tasks.append(asyncio.create_task(one(self.rng.choice(self.pool))))
        await asyncio.gather(*tasks)

    # ---- the phases ---------------------------------------------------------------------

    async def play(self) -> None:
        for k, phase in enumerate(
            (self.phase_1_pilot, self.phase_2_all_municipalities, self.phase_3_insurance,
             self.phase_4_medical),
            start=1,
        ):  # fmt: skip
            self.tracker.step = f"operator advances the rollout to phase {k}"
            name = await self._advance(k)
            self.phase = k
            self.tracker.phase = k
            progress = PhaseProgress(name, started=time.monotonic())
            self.tracker.phases.append(progress)
            await phase()
            await self.background()
            progress.finished = time.monotonic()

    def movers(self) -> list[Person]:
        return [p for p in self.persons if p.former_municipality is not None]

    def tax_municipality(self, person: Person) -> str:
        return person.former_municipality or person.municipality

    def exemption_applicants(self) -> list[Person]:
        """People in category 1 of the national pension (self-employed, unemployed)."""
        return [
            p
            for p in self.persons
            if p.pension_insured_category is PensionInsuredCategory.CATEGORY_1
            and self.holds(JPS, p)
            and self.holds(self.tax_municipality(p), p)
        ]

    async def _tax_after_move(self, person: Person) -> None:
        trigger = await self.relocation(person)
        new, former = person.municipality, self.tax_municipality(person)
        await self.send(self._check(new, former, "tx-01", self.code(new, person), trigger))

    async def _exemption(self, person: Person) -> None:
        trigger = await self.application(JPS, person, "national_pension_premium_exemption")
        provider = self.tax_municipality(person)
        await self.send(self._check(JPS, provider, "pe-01", self.code(JPS, person), trigger))

    async def phase_1_pilot(self) -> None:
        pilot = set(PILOT_MUNICIPALITIES)
        movers = [m for m in self.movers() if {m.municipality, self.tax_municipality(m)} <= pilot]
        applicants = [p for p in self.exemption_applicants() if self.tax_municipality(p) in pilot]
        self.tracker.step = "pilot: resident tax after moves, pension exemptions"
        await self._each(movers, self._tax_after_move)
        await self._each(applicants, self._exemption)
        self.tracker.step = "pilot: annual pension statements through the portal"
        await self.pension_statements()
        self.tracker.step = "pilot: what must fail"
        await self.pilot_failures(movers)

    async def pilot_failures(self, movers: list[Person]) -> None:
        if movers:
            mover = movers[0]
            new, former = mover.municipality, self.tax_municipality(mover)
            trigger = await self.relocation(mover)
            code = self.code(new, mover)
            hi = self._check(new, former, "hi-01", code, trigger, expected="SECTOR_NOT_LIVE")
            await self.send(hi, case="NHI premium check before health insurance is live")
            tx = self._check(new, former, "tx-01", code, trigger, expected="NO_LEGAL_BASIS",
                             attributes=["taxable_income", "pension_benefit_amount"])  # fmt: skip
            await self.send(tx, case="resident-tax check asking for a pension amount too")
            forged = bytes(self.rng.getrandbits(8) for _ in range(len(code)))
            tx = self._check(new, former, "tx-01", forged, trigger, expected="UNKNOWN_CODE")
            await self.send(tx, case="a forged link code")
        pilot = set(PILOT_MUNICIPALITIES)
        outside = next(
            (p for p in self.exemption_applicants() if self.tax_municipality(p) not in pilot), None
        )
        if outside is not None:
            trigger = await self.application(JPS, outside, "national_pension_premium_exemption")
            pe = self._check(JPS, self.tax_municipality(outside), "pe-01", self.code(JPS, outside),
                             trigger, expected="OUTSIDE_ROLLOUT")  # fmt: skip
            await self.send(pe, case="exemption check at a municipality outside the pilot")
        applicants = [p for p in self.exemption_applicants() if self.tax_municipality(p) in pilot]
        if applicants:
            person = applicants[0]
            never_published = uuid.UUID(int=self.rng.getrandbits(128), version=4)
            pe = self._check(JPS, self.tax_municipality(person), "pe-01", self.code(JPS, person),
                             never_published, expected="NO_TRIGGER_EVENT")  # fmt: skip
            await self.send(pe, case="exemption check citing no event")
        await self.number_change()

    async def number_change(self) -> None:
        """番号変更: a leaked number is replaced; enrolling with the old one is refused, the new
        one gives the same link code."""
        candidates = [
            p for p in self.persons if self.holds(JPS, p) and self.holds(p.municipality, p)
        ]
        if not candidates:
            return
        person = next((p for p in candidates if p.replacement_number), candidates[0])
        used = {p.individual_number for p in self.persons} | {
            p.replacement_number for p in self.persons if p is not person and p.replacement_number
        }
        replacement = person.replacement_number
        while replacement is None or replacement in used:
            replacement = individual_number.generate(self.rng)
        municipality = self.agency(person.municipality).agency
        jps = self.agency(JPS)
        jps_code = self.code(JPS, person)
        await municipality.publish_event(
            NumberChanged(
                metadata=municipality.metadata(),
                person_code=self.code(person.municipality, person),
                new_number=replacement,
            )
        )
        # The hub tells every holder; once jps has heard, the old number is revoked.
        await self._until(
            lambda: any(
                isinstance(e, NumberChanged) and e.person_code == jps_code
                for e in jps.received["NumberChanged"]
            )
        )
        for number, expected, case in (
            (person.individual_number, "NUMBER_REVOKED", "enrolment with a replaced number"),
            (replacement, CONFIRMED, "enrolment with the replacement number"),
        ):
            request_id = uuid.uuid4()
            self.expectations.append(
                Expectation(request_id, self.phase, "enrolment", expected, case)
            )
            self.tracker.phases[self.phase].sent += 1  # the enrolment is a request too
            try:
                outcome = await jps.agency.enrol(number, request_id=request_id)
            except ReplyTimeout:
                got = "TIMEOUT"
            else:
                if isinstance(outcome, EnrolmentConfirmed):
                    same = outcome.person_code == jps_code
                    got = CONFIRMED if same else "CONFIRMED_WITH_ANOTHER_CODE"
                    self.tracker.phases[self.phase].confirmed += 1
                else:
                    got = outcome.reason.value
                    self.tracker.phases[self.phase].denied[got] += 1
            self.tracker.cases.append((case, expected, got))

    async def pension_statements(self) -> None:
        """ねんきん定期便: jps notifies the insured born this month through the portal."""
        jps = self.agency(JPS)
        assert isinstance(jps, NoticeSender)
        month = REFERENCE_DATE.month
        people = [
            p
            for p in self.persons
            if p.birth_date.month == month and p.pension_insured_category is not None
            and self.holds(JPS, p)
        ]  # fmt: skip
        sent: list[UUID] = []
        for person in people:
            notice_id = await jps.agency.send_notice(
                person_code=self.code(JPS, person),
                category="pension_statement",
                title="ねんきん定期便 (annual pension statement)",
                body="Your annual pension statement is ready to view.",
            )
            sent.append(notice_id)
            self.notices[notice_id] = JPS
        self.tracker.notices = (len(sent), 0)
        portal = self.agency(PORTAL)
        assert isinstance(portal, Portal)
        arrived: dict[UUID, Notice] = {}

        def delivered() -> bool:
            for notices in portal.notices.values():
                arrived.update((n.notice_id, n) for n in notices if n.notice_id in self.notices)
            return all(n in arrived for n in sent)

        await self._until(delivered)
        # Each person signs in and opens the statement: only that is the 到達確認.
        for notice_id in sent:
            await portal.open_notice(arrived[notice_id])

        def confirmed() -> bool:
            got = sum(1 for n in sent if n in jps.confirmations)
            self.tracker.notices = (len(sent), got)
            return got == len(sent)

        await self._until(confirmed)

    async def phase_2_all_municipalities(self) -> None:
        pilot = set(PILOT_MUNICIPALITIES)
        movers = [
            m for m in self.movers() if not {m.municipality, self.tax_municipality(m)} <= pilot
        ]
        self.tracker.step = "all municipalities: resident tax after the other moves"
        await self._each(movers, self._tax_after_move)
        self.tracker.step = "the remaining pension exemptions"
        applicants = [
            p for p in self.exemption_applicants() if self.tax_municipality(p) not in pilot
        ]
        await self._each(applicants, self._exemption)
        self.tracker.step = "welfare: child allowance after applications from families who moved"
        families = [
            m
            for m in self.movers()
            if m.child_allowance and self.holds(self.tax_municipality(m), m)
        ]
        await self._each(families, self._child_allowance)
        self.tracker.step = "long-term care: premiums after the income determination"
        elderly = [p for p in self.persons if p.age >= 65 and self.holds(JPS, p)]
        await self._each(elderly, self._care_premium)
        self.tracker.step = "a proxy inside and outside its scope"
        await self.proxy()

    async def _child_allowance(self, person: Person) -> None:
        municipality = person.municipality
        trigger = await self.application(municipality, person, "child_allowance")
        former = self.tax_municipality(person)
        code = self.code(municipality, person)
        await self.send(self._check(municipality, former, "we-01", code, trigger))

    async def _care_premium(self, person: Person) -> None:
        trigger = await self.income_determined(person)
        municipality = person.municipality
        await self.send(
            self._check(municipality, JPS, "lt-01", self.code(municipality, person), trigger)
        )

    def _proxy_pair(self) -> tuple[Person, Person, tuple[str, ...]] | None:
        by_index = self.persons
        for proxy in self.population.proxies:
            principal, helper = by_index[proxy.principal], by_index[proxy.proxy]
            if (
                proxy.kind is ProxyKind.VOLUNTARY
                and "long_term_care_premium" in proxy.scope
                and self.holds(JPS, principal)
                and self.holds(principal.municipality, helper)
            ):
                return principal, helper, proxy.scope
        # A small population may have no voluntary proxy: let an adult of the household be one.
        for principal in self.persons:
            if principal.age < 65 or not self.holds(JPS, principal):
                continue
            household = self.population.households[principal.household].members
            for i in household:
                helper = by_index[i]
                if helper is not principal and 18 <= helper.age < 75:
                    return principal, helper, ("long_term_care_premium",)
        return None

    async def proxy(self) -> None:
        """任意代理: registered at the municipal counter for long-term-care matters only."""
        pair = self._proxy_pair()
        if pair is None:
            return
        principal, helper, scope = pair
        municipality = principal.municipality
        agency = self.agency(municipality).agency
        await agency.publish_event(
            ProxyRegistered(
                metadata=agency.metadata(),
                principal_code=self.code(municipality, principal),
                proxy_code=self.code(municipality, helper),
                kind=ProxyKind.VOLUNTARY,
                scope=list(scope),
                registered_by=ProxyRegistrant.MUNICIPAL_COUNTER_CHECK,
            )
        )
        # Same topic, same key (the principal's code) as the requests below: the hub sees the
        # registration first.
        trigger = await self.income_determined(principal)
        code, proxy_code = self.code(municipality, principal), self.code(municipality, helper)
        inside = self._check(municipality, JPS, "lt-01", code, trigger, proxy_code=proxy_code)
        await self.send(inside, case="a proxy asks within its scope (long-term care)")
        outside = self._check(municipality, JPS, "tx-02", code, trigger, proxy_code=proxy_code,
                              expected="PROXY_NOT_AUTHORISED")  # fmt: skip
        await self.send(outside, case="the same proxy asks outside its scope (resident tax)")

    async def phase_3_insurance(self) -> None:
        self.tracker.step = (
            "health insurance: NHI premiums after moves, against the former municipality"
        )
        insured = [
            m
            for m in self.movers()
            if m.health_insurance_status is HealthInsuranceStatus.NATIONAL_HEALTH_INSURANCE
            and self.holds(self.tax_municipality(m), m)
        ]
        await self._each(insured, self._nhi_premium)
        self.tracker.step = "health insurance: does a newcomer have employee insurance?"
        employees = [
            m for m in self.movers() if m.health_insurer == INSURER and self.holds(INSURER, m)
        ]
        await self._each(employees, self._nhi_eligibility)
        self.tracker.step = "health insurance: dependant recognition by the health insurer"
        dependants = [
            p
            for p in self.persons
            if p.health_insurer == INSURER and p.relationship is Relationship.SPOUSE
            and p.gross_income == 0 and self.holds(INSURER, p)
            and self.holds(self.tax_municipality(p), p)
        ]  # fmt: skip
        await self._each(dependants, self._dependant)
        self.tracker.step = "employment: benefits adjusted against pensions"
        claimants = [
            p
            for p in self.persons
            if p.employment_insurance_benefit > 0 and self.holds(EMPLOYMENT, p)
            and self.holds(JPS, p)
        ]  # fmt: skip
        await self._each(claimants, self._benefit_adjustment)

    async def _nhi_premium(self, person: Person) -> None:
        trigger = await self.relocation(person)  # published in phase 1 or 2, cited again
        new, former = person.municipality, self.tax_municipality(person)
        await self.send(self._check(new, former, "hi-01", self.code(new, person), trigger))

    async def _nhi_eligibility(self, person: Person) -> None:
        trigger = await self.relocation(person)
        new = person.municipality
        await self.send(self._check(new, INSURER, "hi-03", self.code(new, person), trigger))

    async def _dependant(self, person: Person) -> None:
        trigger = await self.application(INSURER, person, "health_insurance_dependant_recognition")
        provider = self.tax_municipality(person)
        await self.send(
            self._check(INSURER, provider, "hi-02", self.code(INSURER, person), trigger)
        )

    async def _benefit_adjustment(self, person: Person) -> None:
        procedure = "employment_insurance_benefit_adjustment"
        trigger = await self.application(EMPLOYMENT, person, procedure)
        code = self.code(EMPLOYMENT, person)
        await self.send(self._check(EMPLOYMENT, JPS, "em-01", code, trigger))

    async def phase_4_medical(self) -> None:
        self.tracker.step = "medical: referrals, clinical summaries with and without consent"
        referred = [
            p
            for p in self.persons
            if p.clinical and p.clinical[-1].referred_to in MEDICAL_INSTITUTIONS
            and self.holds(p.clinical[-1].institution, p)
        ]  # fmt: skip
        await self._each(referred, self._referral)

    async def _referral(self, person: Person) -> None:
        event = person.clinical[-1]
        source, target = event.institution, event.referred_to
        assert target is not None
        referring = self.agency(source).agency
        update = ClinicalUpdate(
            metadata=referring.metadata(),
            person_code=self.code(source, person),
            document_category=event.category,
            documented_on=event.documented_on,
            referred_to=target,
        )
        await referring.publish_event(update)
        receiving = self.agency(target)
        message_id = update.metadata.message_id

        def delivered() -> ClinicalUpdate | None:
            for e in receiving.received["ClinicalUpdate"]:
                if e.metadata.message_id == message_id and isinstance(e, ClinicalUpdate):
                    return e
            return None

        await self._until(lambda: delivered() is not None)
        received = delivered()
        assert received is not None
        expected = PROVIDED
        case = "clinical summary after a referral, with consent"
        if event.consent:
            await self._consent(person, target)
        else:
            expected, case = "CONSENT_REQUIRED", "clinical summary after a referral, no consent"
        check = self._check(target, source, "md-01", received.person_code, message_id,
                            expected=expected)  # fmt: skip
        named = case not in self._named
        self._named.add(case)
        await self.send(check, case=case if named else None)

    async def _consent(self, person: Person, recipient: str) -> None:
        """The person signs in to the portal and consents to sharing with `recipient`."""
        portal = self.agency(PORTAL)
        assert isinstance(portal, Portal)
        if not self.holds(PORTAL, person):
            await portal.enrol_all([person.individual_number])
        delivery = await portal.agency.publish_event(
            ConsentGiven(
                metadata=portal.agency.metadata(),
                person_code=self.code(PORTAL, person),
                purpose="continuity_of_care",
                recipient=recipient,
            )
        )
        # The consent is on the portal's topic, the request on the institution's: wait until
        # the hub has taken the consent in, so it is decided first.
        await self._ingested(delivery.topic, delivery.partition, delivery.offset)

    async def _until(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.config.settle_timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the scenario waited in vain during: {self.tracker.step}")
            await asyncio.sleep(0.05)
