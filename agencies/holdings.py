"""Which agency holds which attributes of whom: each reference agency's slice of the population.

A slice maps an individual number to the attribute values the agency holds for that person,
typed per the attribute catalogue (`schemas/attributes.json`). The slices follow who keeps
what in reality:

* a municipality holds the taxes it assessed (on 1 January's residents: a person who moved in
  this year has their income at the *former* municipality, which is why the new one asks),
  the household, welfare and long-term-care facts of its residents, and the care-need
  certification of people who moved away (asked for by the new municipality);
* `jps` the pension records of everyone 20 or older; `hi-kyokai` its members and their
  dependants; `mhlw-ei` everyone with an employment insurance record;
* `med-0001` / `med-0002` the clinical record of patients documented there;
* the portal holds no attributes (it shows records and notices).
"""

from __future__ import annotations

from agencies.population import HEALTH_INSURER, MEDICAL_INSTITUTIONS, Person, Population
from schemas.models import AttributeData, HouseholdMember
from schemas.vocabulary import AgencyKind, agency_kind

Slice = dict[str, dict[str, AttributeData]]
"""individual number -> {attribute name: value}."""


def _tax(person: Person) -> dict[str, AttributeData]:
    return {
        "taxable_income": person.taxable_income,
        "resident_tax_amount": person.resident_tax_amount,
        "dependants_count": person.dependants_count,
    }


def _resident(person: Person, population: Population) -> dict[str, AttributeData]:
    household = population.households[person.household]
    values: dict[str, AttributeData] = {
        "household_members": [
            HouseholdMember(
                relationship=population.persons[i].relationship,
                birth_year=population.persons[i].birth_date.year,
            )
            for i in household.members
        ],
        "disability_grade": person.disability_grade,
        "public_assistance_status": person.public_assistance,
        "child_allowance_status": person.child_allowance,
    }
    if person.long_term_care_level is not None:
        values["long_term_care_premium"] = person.long_term_care_premium
    return values


def municipality_slice(population: Population, municipality: str) -> Slice:
    held: Slice = {}
    for person in population.persons:
        values: dict[str, AttributeData] = {}
        tax_municipality = person.former_municipality or person.municipality
        if tax_municipality == municipality:
            values.update(_tax(person))
        if person.municipality == municipality:
            values.update(_resident(person, population))
            if person.former_municipality is None and person.long_term_care_level is not None:
                values["long_term_care_level"] = person.long_term_care_level
        elif person.former_municipality == municipality and person.long_term_care_level is not None:
            values["long_term_care_level"] = person.long_term_care_level
        if values:
            held[person.individual_number] = values
    return held


def pension_slice(population: Population) -> Slice:
    return {
        p.individual_number: {
            "pension_benefit_amount": p.pension_benefit_amount,
            "pension_insured_category": p.pension_insured_category,
        }
        for p in population.persons
        if p.pension_benefit_amount is not None and p.pension_insured_category is not None
    }


def insurer_slice(population: Population, insurer: str = HEALTH_INSURER) -> Slice:
    return {
        p.individual_number: {
            "health_insurance_status": p.health_insurance_status,
            "health_insurance_premium": p.health_insurance_premium,
        }
        for p in population.persons
        if p.health_insurer == insurer
    }


def employment_slice(population: Population) -> Slice:
    return {
        p.individual_number: {
            "employment_insurance_insured": p.employment_insurance_insured,
            "employment_insurance_benefit": p.employment_insurance_benefit,
        }
        for p in population.persons
        if p.employment_insurance_insured is not None
    }


def medical_slice(population: Population, institution: str) -> Slice:
    held: Slice = {}
    for p in population.persons:
        events = [e for e in p.clinical if e.institution == institution]
        if not events or p.diagnosis is None:
            continue
        event = events[-1]
        held[p.individual_number] = {
            "clinical_summary": (
                f"{event.category} of {event.documented_on.isoformat()}: {p.diagnosis}; "
                f"{len(p.medications)} current prescription(s)"
            ),
            "medication_list": list(p.medications),
            "allergy_list": list(p.allergies),
        }
    return held


def slice_for(population: Population, agency_id: str) -> Slice:
    """The reference slice of `agency_id` (empty for the portal and unknown agencies)."""
    kind = agency_kind(agency_id)
    if kind is AgencyKind.MUNICIPALITY:
        return municipality_slice(population, agency_id)
    if kind is AgencyKind.JPS:
        return pension_slice(population)
    if kind is AgencyKind.HEALTH_INSURER:
        return insurer_slice(population, agency_id)
    if kind is AgencyKind.MHLW_EI:
        return employment_slice(population)
    if kind is AgencyKind.MEDICAL and agency_id in MEDICAL_INSTITUTIONS:
        return medical_slice(population, agency_id)
    return {}


def served_numbers(population: Population, agency_id: str) -> list[str]:
    """The people an agency enrols: those it holds something about, residents of a
    municipality, everyone for the portal."""
    if agency_kind(agency_id) is AgencyKind.PORTAL:
        return [p.individual_number for p in population.persons]
    held = slice_for(population, agency_id)
    residents = (
        {p.individual_number for p in population.residents(agency_id)}
        if agency_kind(agency_id) is AgencyKind.MUNICIPALITY
        else set()
    )
    return [
        p.individual_number
        for p in population.persons
        if p.individual_number in held or p.individual_number in residents
    ]
