"""The demo's closing tables are read in an ordinary terminal: 80 columns, one line per row."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.table import Table

from renkei.demo.report import _totals, breakdown_tables, phase_table, summary_lines

REASONS = ["CONSENT_REQUIRED", "NO_LEGAL_BASIS", "NO_TRIGGER_EVENT", "OUTSIDE_ROLLOUT",
           "PROXY_NOT_AUTHORISED", "RATE_LIMITED", "SECTOR_NOT_LIVE", "UNKNOWN_CODE"]  # fmt: skip
SECTORS = ["employment", "health_insurance", "long_term_care", "medical", "no row", "pension",
           "tax", "welfare"]  # fmt: skip
NAMES = ["enrolment (nothing live)", "pilot: tax and pension in three municipalities",
         "all municipalities; welfare and long-term care", "health insurance and employment",
         "medical, consent-based"]  # fmt: skip


def _phase(number: int, name: str) -> dict[str, Any]:
    """A phase of a long load test (about 80,000 requests): four-digit counts per sector."""
    return {
        "phase": number,
        "name": name,
        "requests": 98_765,
        "provided": 97_000,
        "denied": 1_765,
        "denied_by_reason": dict.fromkeys(REASONS, 2_345),
        "by_sector": {s: {"provided": 9_876, "denied": 321} for s in SECTORS},
        "enrolments": {"confirmed": 99_999, "denied": 3, "denied_by_reason": {"NUMBER_REVOKED": 3}},
        "latency_ms": {"p50": 1234.0, "p99": 98765.0},
        "seconds": 10.0,
        "throughput_per_s": 12345.0,
    }


def _report() -> dict[str, Any]:
    phases = [_phase(k, name) for k, name in enumerate(NAMES)]
    return {"phases": phases, "totals": _totals(phases)}


def _render(table: Table) -> str:
    out = io.StringIO()
    Console(file=out, width=80, color_system=None, legacy_windows=False).print(table)
    return out.getvalue()


def _cells(table: Table) -> list[str]:
    return [str(cell) for column in table.columns for cell in column.cells if str(cell)]


def test_each_closing_table_fits_80_columns_with_every_cell_whole_on_one_line() -> None:
    report = _report()
    for table in (phase_table(report), *breakdown_tables(report)):
        text = _render(table)
        assert all(len(line) <= 80 for line in text.splitlines())
        assert "…" not in text, text
        body = [line for line in text.splitlines() if line.lstrip()[:1] in ("│", "┃")]
        assert len(body) == 1 + len(table.rows), text  # header + one line per row, none wraps
        for cell in _cells(table):
            assert cell in text


def test_phase_names_and_refused_enrolments_are_still_shown() -> None:
    report = _report()
    text = _render(phase_table(report))
    for row in report["phases"]:
        assert f"{row['phase']} {row['name']}" in text
    rest = {
        "invariants": {
            "with_one_outcome": 1,
            "requests": 1,
            "with_one_record": 1,
            "outcomes_needing_a_record": 1,
            "denied_requests_that_reached_a_provider": 0,
            "expected_outcomes_matched": 1,
            "expected_outcomes_mismatched": 0,
        },
        "audit": {"intact": True, "records": 1, "chains": 1},
        "notices": {"sent": 0, "delivered_to_portal": 0, "confirmations_delivered_to_sender": 0},
        "dead_letters": 0,
    }
    lines = summary_lines(report | rest)
    assert "enrolments refused: NUMBER_REVOKED 15" in lines
