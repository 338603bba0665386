"""The oversight body (第三者機関): a read-only view of Renkei for the `ppc` principal.

`observations` turns what it reads from Kafka into small values, `statistics` counts them per
agency, purpose, legal-basis row, sector and day, and `feed` is the Kafka shell that reads.
"""

from oversight.observations import AgencyAct, ControlAct, Observation, Provision, Refusal, observe
from oversight.statistics import Counts, Dimension, Filter, Statistics, statistics_of

__all__ = [
    "AgencyAct",
    "ControlAct",
    "Counts",
    "Dimension",
    "Filter",
    "Observation",
    "Provision",
    "Refusal",
    "Statistics",
    "observe",
    "statistics_of",
]
