"""Statistics for the oversight body: counts per agency, purpose, legal-basis row, sector and day.

Pure aggregation over observations (no I/O): `Statistics.add` takes each observation once, and
`rows` groups the counts by whichever of the five dimensions are asked for. An agency is counted
as the requester for provisions and denials, as the receiver for disclosed trigger events (a
row entitled it to the event), as the provider for over-provisions, as the sender for notices
and number changes, as the notice's sender for acknowledgements, and as the topic owner for
refused input (dead letters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from oversight.observations import (
    PROVIDER_TIMEOUT,
    AgencyAct,
    ControlAct,
    Observation,
    Provision,
    Refusal,
)

NONE = "-"  # the value of a dimension a count does not have (a dead letter has no purpose)


class Dimension(StrEnum):
    DAY = "day"
    AGENCY = "agency"
    PURPOSE = "purpose"
    LEGAL_BASIS_ROW = "row"
    SECTOR = "sector"


ALL_DIMENSIONS = tuple(Dimension)


@dataclass
class Counts:
    """Everything counted for one group."""

    provided: int = 0
    disclosed: int = 0  # trigger events delivered to the agency under a legal-basis row
    denied: Counter[str] = field(default_factory=Counter)  # by reason
    timeouts: int = 0
    over_provisions: int = 0  # provision records the agency (as provider) over-provided in
    notices: int = 0
    acknowledgements: int = 0
    number_changes: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # dead letters by reason
    suspensions: int = 0  # suspensions of the agency (not their lifting)

    def merge(self, other: Counts) -> None:
        self.provided += other.provided
        self.disclosed += other.disclosed
        self.denied.update(other.denied)
        self.timeouts += other.timeouts
        self.over_provisions += other.over_provisions
        self.notices += other.notices
        self.acknowledgements += other.acknowledgements
        self.number_changes += other.number_changes
        self.refused.update(other.refused)
        self.suspensions += other.suspensions

    @property
    def denied_total(self) -> int:
        return sum(self.denied.values())


# (day, agency, purpose, legal-basis row, sector)
Key = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class Filter:
    agencies: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None  # inclusive

    def admits(self, day: date, agency: str) -> bool:
        if self.agencies and agency not in self.agencies:
            return False
        if self.since is not None and day < self.since:
            return False
        return self.until is None or day <= self.until


@dataclass
class Statistics:
    """Counts per (day, agency, purpose, legal-basis row, sector)."""

    only: Filter = field(default_factory=Filter)
    groups: dict[Key, Counts] = field(default_factory=dict)
    observed: int = 0

    def _counts(
        self,
        day: date,
        agency: str | None,
        purpose: str | None = None,
        row: str | None = None,
        sector: str | None = None,
    ) -> Counts | None:
        agency = agency or NONE
        if not self.only.admits(day, agency):
            return None
        key = (day.isoformat(), agency, purpose or NONE, row or NONE, sector or NONE)
        counts = self.groups.get(key)
        if counts is None:
            counts = self.groups[key] = Counts()
        return counts

    def add(self, observation: Observation) -> None:
        self.observed += 1
        day = observation.at.date()
        match observation:
            case Provision():
                where = (observation.purpose, observation.legal_basis_row, observation.sector)
                counts = self._counts(day, observation.requester, *where)
                if counts is not None:
                    if observation.disclosure:
                        counts.disclosed += 1
                    elif observation.reason is None:
                        counts.provided += 1
                    elif observation.reason == PROVIDER_TIMEOUT:
                        counts.timeouts += 1
                    else:
                        counts.denied[observation.reason] += 1
                if observation.over_provided and observation.provider is not None:
                    by_provider = self._counts(day, observation.provider, *where)
                    if by_provider is not None:
                        by_provider.over_provisions += 1
            case Refusal():
                counts = self._counts(day, observation.agency)
                if counts is not None:
                    counts.refused[observation.reason] += 1
            case AgencyAct():
                counts = self._counts(day, observation.agency)
                if counts is not None:
                    if observation.message_type == "Notice":
                        counts.notices += 1
                    elif observation.message_type == "NoticeAcknowledged":
                        counts.acknowledgements += 1
                    elif observation.message_type == "NumberChanged":
                        counts.number_changes += 1
            case ControlAct():
                if observation.suspended:
                    counts = self._counts(day, observation.agency)
                    if counts is not None:
                        counts.suspensions += 1

    def rows(self, by: Sequence[Dimension] = ALL_DIMENSIONS) -> list[tuple[Key, Counts]]:
        """The counts grouped by the dimensions `by` (others shown as "*"), sorted."""
        grouped: dict[Key, Counts] = {}
        for key, counts in self.groups.items():
            day, agency, purpose, row, sector = (
                value if dimension in by else "*"
                for dimension, value in zip(ALL_DIMENSIONS, key, strict=True)
            )
            projected = (day, agency, purpose, row, sector)
            if projected not in grouped:
                grouped[projected] = Counts()
            grouped[projected].merge(counts)
        return sorted(grouped.items())

    def reasons(self) -> tuple[list[str], list[str]]:
        """The denial reasons and the refusal reasons that occur, sorted (CSV columns)."""
        denied: set[str] = set()
        refused: set[str] = set()
        for counts in self.groups.values():
            denied.update(counts.denied)
            refused.update(counts.refused)
        return sorted(denied), sorted(refused)


def statistics_of(observations: Iterable[Observation], only: Filter | None = None) -> Statistics:
    statistics = Statistics(only or Filter())
    for observation in observations:
        statistics.add(observation)
    return statistics
