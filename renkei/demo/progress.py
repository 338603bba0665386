"""The live display while the demo runs: the current step, each phase's counters as the agencies
see their outcomes arrive, and the scripted cases as they resolve. Display only: the report is
read back from Kafka at the end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from renkei.demo.scenario import Tracker


def render(tracker: Tracker, began: float) -> RenderableType:
    now = time.monotonic()
    head = Text.assemble(
        ("Renkei demo ", "bold"), (f"{now - began:5.1f} s  ", "dim"), (tracker.step, "cyan")
    )
    table = Table(expand=False, box=None, padding=(0, 2))
    for column in ("phase", "sent", "outcomes", "provided", "denied", "in flight", "req/s"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    enrolled = f"{tracker.enrolled}/{tracker.to_enrol} enrolled" if tracker.to_enrol else ""
    for k, p in enumerate(tracker.phases):
        if k == 0:
            table.add_row(f"0 {p.name}", enrolled, "", "", "", "", "")
            continue
        end = p.finished or now
        elapsed = end - p.started if p.started is not None else 0.0
        rate = f"{p.outcomes / elapsed:.0f}" if elapsed > 0 else ""
        style = "bold" if k == tracker.phase and p.finished is None else ""
        denied = ", ".join(f"{r} {n}" for r, n in sorted(p.denied.items())) or "0"
        table.add_row(
            f"{k} {p.name}",
            str(p.sent),
            str(p.outcomes),
            str(p.provided),
            denied,
            str(p.sent - p.outcomes - p.timeouts),
            rate,
            style=style,
        )
    cases = Table(expand=False, box=None, padding=(0, 2), show_header=False)
    for case, expected, got in tracker.cases[-12:]:
        mark = ("✓", "green") if got == expected else ("✗", "red")
        cases.add_row(Text(mark[0], style=mark[1]), case, expected, got)
    sent, confirmed = tracker.notices
    notices = Text(f"notices: {sent} sent, {confirmed} confirmed back", style="dim")
    return Group(head, table, notices, cases)


@contextmanager
def live(tracker: Tracker, console: Console) -> Iterator[None]:
    began = time.monotonic()
    with Live(console=console, refresh_per_second=4, transient=False,
              get_renderable=lambda: render(tracker, began)):  # fmt: skip
        yield
