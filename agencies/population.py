"""A deterministic synthetic population: seed -> persons, households, moves, clinical events.

Same seed, same population, bit for bit (one `random.Random(seed)`, no other source of
randomness, no clock). Realistic enough for the demo's questions to have answers: households
of one to five people in six reference municipalities weighted by size, ages from 0 to 99,
employment by age, incomes log-normal by kind of work, public pensions from 65, insurance
status following employment, long-term-care levels rising with age, a few percent of
households moving between municipalities this year, clinical events at two medical
institutions with referrals and consent, legal and voluntary proxies, and replacement numbers
for a few people whose number leaked. Individual numbers are random with a valid check digit:
synthetic, never real ones.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from schemas import individual_number
from schemas.models import (
    HealthInsuranceStatus,
    LongTermCareLevel,
    PensionInsuredCategory,
    ProxyKind,
    Relationship,
)

REFERENCE_DATE = date(2026, 6, 1)  # "today" of the synthetic world
FISCAL_YEAR = 2025  # the income year determined in spring 2026

PILOT_MUNICIPALITIES = ("mun-13101", "mun-27100", "mun-01100")  # Chiyoda, Osaka, Sapporo
MUNICIPALITIES = (*PILOT_MUNICIPALITIES, "mun-14100", "mun-23100", "mun-40130")
# Yokohama, Nagoya, Fukuoka. Relative weights ~ population, Chiyoda lifted to stay visible.
_MUNICIPALITY_WEIGHTS = (0.08, 0.20, 0.15, 0.25, 0.18, 0.14)
MEDICAL_INSTITUTIONS = ("med-0001", "med-0002")
HEALTH_INSURER = "hi-kyokai"

_DIAGNOSES = (
    "type 2 diabetes",
    "hypertension",
    "chronic heart failure",
    "COPD",
    "osteoarthritis of the knee",
    "post-stroke rehabilitation",
    "asthma",
    "chronic kidney disease stage 3",
)
_DRUGS = (
    "metformin",
    "amlodipine",
    "furosemide",
    "atorvastatin",
    "tiotropium",
    "loxoprofen",
    "warfarin",
    "lansoprazole",
    "montelukast",
)
_ALLERGENS = ("penicillin", "iodinated contrast", "egg", "buckwheat", "latex")
_CARE_LEVELS = tuple(LongTermCareLevel)


class Work:
    EMPLOYEE = "employee"
    SELF_EMPLOYED = "self_employed"
    UNEMPLOYED = "unemployed"  # of working age, not working
    NONE = "none"  # child, student, homemaker, retired


@dataclass(frozen=True, slots=True)
class ClinicalEvent:
    """A clinical document at an institution; a referral names the institution referred to."""

    institution: str
    category: str  # referral, discharge_summary, outpatient_note
    documented_on: date
    referred_to: str | None
    consent: bool  # the person consents to continuity-of-care sharing


@dataclass(frozen=True, slots=True)
class Proxy:
    principal: int  # person index
    proxy: int
    kind: ProxyKind
    scope: tuple[str, ...]  # purposes


@dataclass(frozen=True, slots=True)
class Move:
    household: int
    from_municipality: str
    to_municipality: str
    moved_on: date


@dataclass(slots=True)
class Person:
    index: int
    individual_number: str
    birth_date: date
    household: int
    relationship: Relationship
    municipality: str  # where the person lives now
    former_municipality: str | None  # where they lived on 1 January, when they moved since
    moved_on: date | None
    work: str
    gross_income: int  # JPY, fiscal year
    taxable_income: int
    resident_tax_amount: int
    dependants_count: int
    pension_benefit_amount: int | None  # None: no pension record (under 20)
    pension_insured_category: PensionInsuredCategory | None
    health_insurance_status: HealthInsuranceStatus
    health_insurer: str | None  # hi-kyokai for its members; None for NHI/late-elderly/none
    health_insurance_premium: int
    employment_insurance_insured: bool | None  # None: no employment insurance record
    employment_insurance_benefit: int
    long_term_care_level: LongTermCareLevel | None  # None under 40
    long_term_care_premium: int
    disability_grade: int
    public_assistance: bool
    child_allowance: bool
    clinical: list[ClinicalEvent] = field(default_factory=list)
    medications: list[str] = field(default_factory=list)
    allergies: list[str] = field(default_factory=list)
    diagnosis: str | None = None
    replacement_number: str | None = None  # a new number after a leak (番号変更)

    @property
    def age(self) -> int:
        born = self.birth_date
        today = REFERENCE_DATE
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


@dataclass(frozen=True, slots=True)
class Household:
    index: int
    municipality: str
    members: tuple[int, ...]  # person indexes, head first


@dataclass(frozen=True, slots=True)
class Population:
    seed: int
    persons: tuple[Person, ...]
    households: tuple[Household, ...]
    moves: tuple[Move, ...]
    proxies: tuple[Proxy, ...]

    def residents(self, municipality: str) -> list[Person]:
        return [p for p in self.persons if p.municipality == municipality]

    def by_number(self) -> dict[str, Person]:
        return {p.individual_number: p for p in self.persons}


# ---- generation -------------------------------------------------------------------------


def _household_ages(rng: random.Random) -> list[tuple[Relationship, int]]:
    kind = rng.choices(
        ("single", "couple", "family", "single_parent", "three_generations"),
        weights=(0.36, 0.22, 0.26, 0.09, 0.07),
    )[0]
    if kind == "single":
        return [(Relationship.HEAD, int(rng.triangular(19, 99, 72)))]
    if kind == "couple":
        head = int(rng.triangular(22, 95, 72))
        return [(Relationship.HEAD, head), (Relationship.SPOUSE, _near(rng, head, 5, 20))]
    parent = rng.randint(27, 55)
    members = [(Relationship.HEAD, parent)]
    if kind != "single_parent":
        members.append((Relationship.SPOUSE, _near(rng, parent, 4, 20)))
    for _ in range(rng.choice((1, 1, 2, 2, 3)) if kind != "single_parent" else rng.randint(1, 2)):
        members.append((Relationship.CHILD, rng.randint(0, min(17, parent - 18))))
    if kind == "three_generations":
        members.append((Relationship.PARENT, min(99, parent + rng.randint(24, 38))))
    return members


def _near(rng: random.Random, age: int, spread: int, floor: int) -> int:
    return max(floor, min(99, age + rng.randint(-spread, spread)))


def _birth_date(rng: random.Random, age: int) -> date:
    birthday = REFERENCE_DATE - timedelta(days=rng.randint(1, 365))
    return birthday.replace(year=birthday.year - age)


def _work(rng: random.Random, age: int, relationship: Relationship) -> str:
    if age < 18 or age >= 75:
        return Work.NONE
    if age >= 65:
        return Work.EMPLOYEE if rng.random() < 0.25 else Work.NONE
    if relationship is Relationship.SPOUSE and rng.random() < 0.3:
        return Work.NONE  # homemaker: a dependent spouse
    roll = rng.random()
    if age < 22 and roll < 0.6:
        return Work.NONE  # student
    if roll < 0.72:
        return Work.EMPLOYEE
    if roll < 0.86:
        return Work.SELF_EMPLOYED
    return Work.UNEMPLOYED


def _gross_income(rng: random.Random, work: str) -> int:
    if work == Work.EMPLOYEE:
        return _round(rng.lognormvariate(math.log(4_200_000), 0.45))
    if work == Work.SELF_EMPLOYED:
        return _round(rng.lognormvariate(math.log(3_000_000), 0.7))
    return 0


def _round(amount: float, unit: int = 1000) -> int:
    return int(amount // unit) * unit


def _care_level(rng: random.Random, age: int) -> LongTermCareLevel:
    if age < 65:
        return LongTermCareLevel.NONE if rng.random() < 0.997 else LongTermCareLevel.CARE_1
    share_certified = 0.05 if age < 75 else 0.2 if age < 85 else 0.55
    if rng.random() >= share_certified:
        return LongTermCareLevel.NONE
    return rng.choices(_CARE_LEVELS[1:], weights=(14, 14, 21, 17, 13, 12, 9))[0]


def generate(seed: int, persons: int = 1000) -> Population:
    """A population of exactly `persons` people, the same for the same seed."""
    if persons < 1:
        raise ValueError("a population has at least one person")
    rng = random.Random(seed)
    numbers: set[str] = set()

    def new_number() -> str:
        while True:
            number = individual_number.generate(rng)
            if number not in numbers:
                numbers.add(number)
                return number

    people: list[Person] = []
    households: list[Household] = []
    moves: list[Move] = []
    while len(people) < persons:
        h = len(households)
        municipality = rng.choices(MUNICIPALITIES, weights=_MUNICIPALITY_WEIGHTS)[0]
        former: str | None = None
        moved_on: date | None = None
        if rng.random() < 0.05:
            former = rng.choice([m for m in MUNICIPALITIES if m != municipality])
            moved_on = date(REFERENCE_DATE.year, 1, 1) + timedelta(days=rng.randint(14, 140))
            moves.append(Move(h, former, municipality, moved_on))
        members = _household_ages(rng)[: persons - len(people)]
        indexes: list[int] = []
        for relationship, age in members:
            work = _work(rng, age, relationship)
            gross = _gross_income(rng, work)
            person = Person(
                index=len(people),
                individual_number=new_number(),
                birth_date=_birth_date(rng, age),
                household=h,
                relationship=relationship,
                municipality=municipality,
                former_municipality=former,
                moved_on=moved_on,
                work=work,
                gross_income=gross,
                taxable_income=0,
                resident_tax_amount=0,
                dependants_count=0,
                pension_benefit_amount=None,
                pension_insured_category=None,
                health_insurance_status=HealthInsuranceStatus.NATIONAL_HEALTH_INSURANCE,
                health_insurer=None,
                health_insurance_premium=0,
                employment_insurance_insured=None,
                employment_insurance_benefit=0,
                long_term_care_level=None,
                long_term_care_premium=0,
                disability_grade=0,
                public_assistance=False,
                child_allowance=False,
            )
            people.append(person)
            indexes.append(person.index)
        households.append(Household(h, municipality, tuple(indexes)))
        _household_facts(rng, [people[i] for i in indexes])
    for person in people:
        _clinical(rng, person)
        if rng.random() < 0.003:
            person.replacement_number = new_number()
    return Population(seed, tuple(people), tuple(households), tuple(moves), _proxies(rng, people))


def _household_facts(rng: random.Random, members: list[Person]) -> None:
    """Pensions, insurance, taxes and benefits, which depend on the household."""
    head = members[0]
    children = [p for p in members if p.relationship is Relationship.CHILD and p.age < 18]
    employee_earners = [p for p in members if p.work == Work.EMPLOYEE and p.age < 75]
    for person in members:
        age = person.age
        # public pension: benefits from 65, insured category 20-59
        if age >= 65:
            base = 780_000 if person.work != Work.EMPLOYEE or rng.random() < 0.3 else 0
            earnings_related = rng.gauss(1_100_000, 400_000) if rng.random() < 0.65 else 0
            person.pension_benefit_amount = _round(base + max(0.0, earnings_related) + 780_000)
            person.pension_insured_category = PensionInsuredCategory.NOT_INSURED
        elif age >= 20:
            person.pension_benefit_amount = 0
            if person.work == Work.EMPLOYEE:
                category = PensionInsuredCategory.CATEGORY_2
            elif person.relationship is Relationship.SPOUSE and employee_earners:
                category = PensionInsuredCategory.CATEGORY_3
            elif age < 60:
                category = PensionInsuredCategory.CATEGORY_1
            else:
                category = PensionInsuredCategory.NOT_INSURED
            person.pension_insured_category = category
        income = person.gross_income + (person.pension_benefit_amount or 0)
        # health insurance: late-elderly from 75, employees and their dependants with kyokai
        if age >= 75:
            person.health_insurance_status = HealthInsuranceStatus.LATE_ELDERLY
        elif person.work == Work.EMPLOYEE or (employee_earners and person.gross_income == 0):
            person.health_insurance_status = HealthInsuranceStatus.EMPLOYEE_INSURANCE
            person.health_insurer = HEALTH_INSURER
            person.health_insurance_premium = _round(person.gross_income * 0.05)
        else:
            person.health_insurance_premium = _round(50_000 + income * 0.09)
        # employment insurance: employees are insured; some of the unemployed draw benefits
        if person.work == Work.EMPLOYEE and age < 65:
            person.employment_insurance_insured = True
        elif person.work == Work.UNEMPLOYED:
            person.employment_insurance_insured = False
            if rng.random() < 0.4:
                person.employment_insurance_benefit = rng.randrange(3_000, 8_400, 10)
        # long-term care: insured from 40, premium from 65
        if age >= 40:
            person.long_term_care_level = _care_level(rng, age)
            if age >= 65:
                person.long_term_care_premium = _round(30_000 + min(income, 6_000_000) * 0.02)
        person.disability_grade = rng.randint(1, 7) if rng.random() < 0.04 else 0
    household_income = sum(p.gross_income + (p.pension_benefit_amount or 0) for p in members)
    if household_income < 1_000_000 and rng.random() < 0.25:
        for person in members:  # 生活保護: medical care comes from assistance, not insurance
            person.public_assistance = True
            person.health_insurance_status = HealthInsuranceStatus.NONE
            person.health_insurer = None
            person.health_insurance_premium = 0
    dependants = [p for p in members if p is not head and p.gross_income < 1_030_000]
    for person in members:
        is_supporter = person is head and person.gross_income > 0
        person.dependants_count = len(dependants) if is_supporter else 0
        deductions = 430_000 + 380_000 * person.dependants_count
        pension = person.pension_benefit_amount or 0
        income = int(person.gross_income * 0.72) + max(0, pension - 1_100_000)
        person.taxable_income = _round(max(0, income - deductions))
        taxed = person.taxable_income > 0
        person.resident_tax_amount = _round(person.taxable_income * 0.10) + 5_000 if taxed else 0
        person.child_allowance = person is head and bool(children)


def _clinical(rng: random.Random, person: Person) -> None:
    share = 0.06 if person.age < 40 else 0.14 if person.age < 70 else 0.3
    if rng.random() >= share:
        return
    institution = rng.choice(MEDICAL_INSTITUTIONS)
    referred = rng.random() < 0.45
    other = next(m for m in MEDICAL_INSTITUTIONS if m != institution)
    person.diagnosis = rng.choice(_DIAGNOSES)
    person.medications = sorted(rng.sample(_DRUGS, rng.randint(0, 3)))
    person.allergies = sorted(rng.sample(_ALLERGENS, 1)) if rng.random() < 0.15 else []
    person.clinical.append(
        ClinicalEvent(
            institution=institution,
            category="referral" if referred else rng.choice(("outpatient_note", "discharge")),
            documented_on=REFERENCE_DATE - timedelta(days=rng.randint(0, 25)),
            referred_to=other if referred else None,
            consent=rng.random() < 0.7,
        )
    )


def _proxies(rng: random.Random, people: list[Person]) -> tuple[Proxy, ...]:
    """Parents are legal proxies of their minor children; some people certified for care have
    a voluntary proxy among their household."""
    proxies: list[Proxy] = []
    by_household: dict[int, list[Person]] = {}
    for person in people:
        by_household.setdefault(person.household, []).append(person)
    for members in by_household.values():
        adults = [p for p in members if p.age >= 18]
        for person in members:
            if person.age < 18 and adults:
                proxies.append(Proxy(person.index, adults[0].index, ProxyKind.LEGAL, ("*",)))
            elif (
                person.long_term_care_level not in (None, LongTermCareLevel.NONE)
                and rng.random() < 0.5
            ):
                helpers = [p for p in adults if p is not person and p.age < 75]
                if helpers:
                    proxies.append(
                        Proxy(
                            person.index,
                            helpers[0].index,
                            ProxyKind.VOLUNTARY,
                            ("long_term_care_premium", "national_pension_premium_exemption"),
                        )
                    )
    return tuple(proxies)
