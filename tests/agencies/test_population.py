"""The synthetic population: deterministic per seed, valid numbers, plausible shape."""

from __future__ import annotations

import statistics
from collections import Counter

import pytest

from agencies import MUNICIPALITIES, PILOT_MUNICIPALITIES, Population, generate
from schemas import individual_number
from schemas.models import HealthInsuranceStatus, LongTermCareLevel, ProxyKind, Relationship


@pytest.fixture(scope="module")
def population() -> Population:
    return generate(seed=2026, persons=5000)


def test_the_same_seed_gives_the_same_population_and_another_seed_another() -> None:
    assert generate(11, 300) == generate(11, 300)
    assert generate(11, 300) != generate(12, 300)


def test_the_population_has_exactly_the_persons_asked_for(population: Population) -> None:
    assert len(population.persons) == 5000
    assert [p.index for p in population.persons] == list(range(5000))
    assert sum(len(h.members) for h in population.households) == 5000


def test_every_number_is_valid_and_unique_including_replacements(population: Population) -> None:
    numbers = [p.individual_number for p in population.persons]
    replacements = [p.replacement_number for p in population.persons if p.replacement_number]
    assert replacements, "some people have a replacement number for the number-change story"
    assert all(individual_number.is_valid(n) for n in numbers + replacements)
    assert len(set(numbers + replacements)) == len(numbers) + len(replacements)


def test_every_municipality_has_residents_and_the_pilot_is_among_them(
    population: Population,
) -> None:
    counts = Counter(p.municipality for p in population.persons)
    assert set(counts) == set(MUNICIPALITIES)
    assert set(PILOT_MUNICIPALITIES) <= set(counts)
    assert min(counts.values()) > 100


def test_households_live_together_with_one_head_and_plausible_parents(
    population: Population,
) -> None:
    for household in population.households:
        members = [population.persons[i] for i in household.members]
        assert members[0].relationship is Relationship.HEAD
        assert {m.municipality for m in members} == {household.municipality}
        for child in (m for m in members if m.relationship is Relationship.CHILD):
            assert members[0].age - child.age >= 18


def test_ages_incomes_and_pensions_are_plausible(population: Population) -> None:
    ages = [p.age for p in population.persons]
    assert min(ages) >= 0
    assert max(ages) <= 100
    assert 35 <= statistics.median(ages) <= 55
    assert 0.15 <= sum(a >= 65 for a in ages) / len(ages) <= 0.40
    employees = [p.gross_income for p in population.persons if p.work == "employee"]
    assert 3_000_000 <= statistics.median(employees) <= 5_500_000
    assert all(p.taxable_income >= 0 for p in population.persons)
    for person in population.persons:
        if person.age >= 65:
            assert person.pension_benefit_amount
            assert person.pension_benefit_amount > 500_000
        if person.age < 20:
            assert person.pension_benefit_amount is None


def test_insurance_and_care_follow_age_and_work(population: Population) -> None:
    for person in population.persons:
        if person.age >= 75 and not person.public_assistance:
            assert person.health_insurance_status is HealthInsuranceStatus.LATE_ELDERLY
        if person.age < 40:
            assert person.long_term_care_level is None
        if person.health_insurer is not None:
            assert person.health_insurance_status is HealthInsuranceStatus.EMPLOYEE_INSURANCE
    old = [p for p in population.persons if p.age >= 85]
    young_old = [p for p in population.persons if 65 <= p.age < 75]
    certified = [p.long_term_care_level is not LongTermCareLevel.NONE for p in old]
    certified_young = [p.long_term_care_level is not LongTermCareLevel.NONE for p in young_old]
    assert sum(certified) / len(certified) > sum(certified_young) / len(certified_young)
    assistance = sum(p.public_assistance for p in population.persons) / 5000
    assert 0.005 <= assistance <= 0.05


def test_moves_clinical_events_and_proxies_exist_for_every_story(population: Population) -> None:
    assert 0.02 <= len(population.moves) / len(population.households) <= 0.10
    for move in population.moves:
        assert move.from_municipality != move.to_municipality
        for i in population.households[move.household].members:
            person = population.persons[i]
            assert person.former_municipality == move.from_municipality
            assert person.municipality == move.to_municipality
    events = [e for p in population.persons for e in p.clinical]
    referrals = [e for e in events if e.referred_to]
    assert referrals
    assert all(e.referred_to != e.institution for e in referrals)
    assert {e.consent for e in referrals} == {True, False}
    kinds = Counter(proxy.kind for proxy in population.proxies)
    assert kinds[ProxyKind.LEGAL] > 0
    assert kinds[ProxyKind.VOLUNTARY] > 0
    for proxy in population.proxies:
        assert population.persons[proxy.proxy].age >= 18
