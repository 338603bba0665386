"""`renkei oversight …`: the oversight body's (第三者機関) commands, run as the `ppc` principal."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from signal import SIGINT, SIGTERM
from typing import Annotated

import typer
from rich.console import Console

from oversight.feed import connection, read_statistics
from oversight.report import table, to_csv
from oversight.statistics import ALL_DIMENSIONS, Dimension, Filter

oversight_app = typer.Typer(
    help="The oversight body (第三者機関): statistics and anomaly signals.", no_args_is_help=True
)
console = Console()

Bootstrap = Annotated[
    str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers.")
]


def _dimensions(by: str) -> list[Dimension]:
    names = [n.strip() for n in by.split(",") if n.strip()]
    try:
        return [Dimension(n) for n in names]
    except ValueError:
        choices = ", ".join(d.value for d in ALL_DIMENSIONS)
        raise typer.BadParameter(f"--by takes a comma-separated list of: {choices}") from None


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} takes a date as YYYY-MM-DD") from None


@oversight_app.command("stats")
def stats(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    by: Annotated[
        str, typer.Option(help="Group by these, comma-separated: day,agency,purpose,row,sector.")
    ] = "day,agency,purpose,row,sector",
    agency: Annotated[list[str] | None, typer.Option(help="Only this agency (repeatable).")] = None,
    since: Annotated[str | None, typer.Option(help="From this day (YYYY-MM-DD, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="To this day, inclusive.")] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write CSV to this file ('-' for stdout).")
    ] = None,
) -> None:
    """Provided, denied by reason, timeouts, over-provisions, notices and acknowledgements,
    number changes, refused input and suspensions, per agency, purpose, row, sector and day."""
    dimensions = _dimensions(by)
    only = Filter(frozenset(agency or ()), _day(since, "--since"), _day(until, "--until"))
    statistics = asyncio.run(read_statistics(connection(bootstrap), only))
    if csv is None:
        console.print(table(statistics, dimensions))
        console.print(f"{statistics.observed} observations read")
    elif str(csv) == "-":
        typer.echo(to_csv(statistics, dimensions), nl=False)
    else:
        csv.write_text(to_csv(statistics, dimensions), encoding="utf-8")
        console.print(f"{len(statistics.rows(dimensions))} rows written to {csv}")


@oversight_app.command("watch")
def watch(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Run the anomaly rules as a stream and publish each signal on renkei.oversight.signals,
    until Ctrl-C. Rules and thresholds: `renkei oversight rules`."""
    from oversight.watcher import SignalWatcher, watch_until
    from renkei import logs

    logs.configure()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal in (SIGINT, SIGTERM):
            loop.add_signal_handler(signal, stop.set)
        await watch_until(stop, lambda: SignalWatcher(connection(bootstrap)))

    asyncio.run(run())


@oversight_app.command("signals")
def signals(bootstrap: Bootstrap = "127.0.0.1:9092") -> None:
    """The anomaly signals published so far."""
    from rich.table import Table

    from oversight.watcher import read_signals

    result = Table(title="Oversight signals", title_justify="left")
    for column in ("window start (UTC)", "agency", "rule", "count", "threshold", "summary"):
        result.add_column(column)
    published = asyncio.run(read_signals(connection(bootstrap)))
    for s in published:
        result.add_row(
            s.window_start.strftime("%Y-%m-%d %H:%M"),
            s.agency,
            s.rule,
            str(s.count),
            str(s.threshold),
            s.summary,
        )
    console.print(result)
    console.print(f"{len(published)} signals")


@oversight_app.command("rules")
def rules() -> None:
    """Each anomaly rule with its threshold."""
    from oversight.rules import default_rules

    for rule in default_rules():
        console.print((rule.__doc__ or rule.name).strip().replace("\n   ", ""))
