"""Statistics as a table for people (rich) and as CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from rich.table import Table

from oversight.statistics import ALL_DIMENSIONS, Counts, Dimension, Key, Statistics

MEASURES = (
    "provided",
    "disclosed",
    "denied",
    "timeouts",
    "over_provisions",
    "notices",
    "acknowledgements",
    "number_changes",
    "suspensions",
)


def measures_of(counts: Counts) -> list[int]:
    """The counts in the order of MEASURES (one list for the CLI, CSV and web page)."""
    return [
        counts.provided,
        counts.disclosed,
        counts.denied_total,
        counts.timeouts,
        counts.over_provisions,
        counts.notices,
        counts.acknowledgements,
        counts.number_changes,
        counts.suspensions,
    ]


def _shown(key: Key, by: Sequence[Dimension]) -> list[str]:
    return [value for dimension, value in zip(ALL_DIMENSIONS, key, strict=True) if dimension in by]


def _mix(counter: dict[str, int]) -> str:
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counter.items()))


def table(statistics: Statistics, by: Sequence[Dimension]) -> Table:
    result = Table(title="Oversight statistics (第三者機関)", title_justify="left")
    for dimension in ALL_DIMENSIONS:
        if dimension in by:
            result.add_column(dimension.value)
    for measure in MEASURES:
        result.add_column(measure.replace("_", " "), justify="right")
    result.add_column("denied by reason")
    result.add_column("refused input by reason")
    for key, counts in statistics.rows(by):
        result.add_row(
            *_shown(key, by),
            *(str(n) for n in measures_of(counts)),
            _mix(counts.denied),
            _mix(counts.refused),
        )
    return result


def to_csv(statistics: Statistics, by: Sequence[Dimension]) -> str:
    """One row per group; one column per measure and per reason that occurs."""
    denied, refused = statistics.reasons()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            *(d.value for d in ALL_DIMENSIONS if d in by),
            *MEASURES,
            *(f"denied_{reason}" for reason in denied),
            *(f"refused_{reason}" for reason in refused),
        ]
    )
    for key, counts in statistics.rows(by):
        writer.writerow(
            [
                *_shown(key, by),
                *measures_of(counts),
                *(counts.denied[reason] for reason in denied),
                *(counts.refused[reason] for reason in refused),
            ]
        )
    return out.getvalue()
