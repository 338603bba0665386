"""Reference agencies on the agency SDK, with a deterministic synthetic population.

    population = generate(seed=7, persons=1000)
    agencies = reference_agencies(Connection.from_environment(), population)
    await agencies["mun-13101"].run()        # start, enrol its people, answer queries

Run one from the shell: `python -m agencies mun-13101 --bootstrap localhost:9092`.
Built only on `producers` and `consumers`: nothing here imports the hub.
"""

from agencies.holdings import Slice, served_numbers, slice_for
from agencies.population import (
    FISCAL_YEAR,
    HEALTH_INSURER,
    MEDICAL_INSTITUTIONS,
    MUNICIPALITIES,
    PILOT_MUNICIPALITIES,
    REFERENCE_DATE,
    ClinicalEvent,
    Household,
    Move,
    Person,
    Population,
    Proxy,
    generate,
)
from agencies.reference import (
    NATIONAL_AGENCIES,
    REFERENCE_AGENCY_IDS,
    EnrolmentSummary,
    NoticeSender,
    Portal,
    ReferenceAgency,
    reference_agencies,
    reference_agency,
)

__all__ = [
    "FISCAL_YEAR",
    "HEALTH_INSURER",
    "MEDICAL_INSTITUTIONS",
    "MUNICIPALITIES",
    "NATIONAL_AGENCIES",
    "PILOT_MUNICIPALITIES",
    "REFERENCE_AGENCY_IDS",
    "REFERENCE_DATE",
    "ClinicalEvent",
    "EnrolmentSummary",
    "Household",
    "Move",
    "NoticeSender",
    "Person",
    "Population",
    "Portal",
    "Proxy",
    "ReferenceAgency",
    "Slice",
    "generate",
    "reference_agencies",
    "reference_agency",
    "served_numbers",
    "slice_for",
]
