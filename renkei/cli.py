"""`renkei`: the one command line for operators and developers.

Sub-commands are mounted from the package that owns them (schemas, keys, hub, …) so each
concern keeps its CLI beside its code.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from deploy.local.broker import KAFKA_VERSION, BrokerError, KafkaCluster
from producers.connection import kafka_options

app = typer.Typer(
    name="renkei",
    help="Renkei (連携): information linkage for public administration on Apache Kafka.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold personal data
)
broker_app = typer.Typer(help="A real local Apache Kafka for development (no Docker needed).")
app.add_typer(broker_app, name="broker")

console = Console()

# Sub-apps owned by other packages: (module, attribute, name). Mounted when present.
_MOUNTS = (
    ("schemas.cli", "schemas_app", "schemas"),
    ("hub.cli_keys", "keys_app", "keys"),
    ("hub.cli", "hub_app", "hub"),
    ("deploy.cli", "deploy_app", "deploy"),
    ("oversight.cli", "oversight_app", "oversight"),
    ("portal.cli", "portal_app", "portal"),
)
for _module, _attr, _name in _MOUNTS:
    try:
        _sub = getattr(importlib.import_module(_module), _attr)
    except ModuleNotFoundError as _exc:
        if _exc.name != _module:
            raise
        continue
    app.add_typer(_sub, name=_name)


@contextlib.contextmanager
def _broker(bootstrap: str | None) -> Iterator[tuple[str, str, float | None]]:
    """Yield (bootstrap, version, start-up seconds): the given broker or a local one."""
    if bootstrap:
        yield bootstrap, "external", None
        return
    cluster = KafkaCluster(1)
    try:
        cluster.start()
    except BrokerError as exc:
        console.print(f"[red]Could not start the local Kafka broker:[/red] {exc}")
        raise typer.Exit(2) from exc
    # This process (and the hub and agencies it runs) connects as the local cluster's admin.
    saved = {name: os.environ.get(name) for name in cluster.admin_environment()}
    os.environ.update(cluster.admin_environment())
    try:
        yield cluster.bootstrap, f"{KAFKA_VERSION}, SASL_SSL", cluster.startup_seconds
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        cluster.stop()


@contextlib.contextmanager
def _control_keys() -> Iterator[None]:
    """The demo's own hub trusts, and its operators sign with, the configured control keys;
    without any, throw-away development keys made for this run."""
    if os.environ.get("RENKEI_OPERATOR_PUBLIC_KEY_FILE"):
        yield
        return
    from hub.control_signatures import generate_control_keys

    with tempfile.TemporaryDirectory(prefix="renkei-demo-keys-") as directory:
        settings = generate_control_keys(Path(directory))
        os.environ.update(settings)
        try:
            yield
        finally:
            for name in settings:
                os.environ.pop(name, None)


async def _transactional_round_trip(bootstrap: str) -> float:
    """Commit one record in a transaction and read it back read_committed; seconds taken."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"renkei.smoke.{uuid.uuid4().hex[:8]}"
    began = time.monotonic()
    admin = AIOKafkaAdminClient(**kafka_options(bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        **kafka_options(bootstrap), transactional_id=f"renkei-smoke-{uuid.uuid4()}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            await producer.send(topic, b"hello")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic,
        **kafka_options(bootstrap),
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), timeout=30)
    finally:
        await consumer.stop()
    if record.value != b"hello":
        raise RuntimeError("the transactional round trip read back something else")
    return time.monotonic() - began


@broker_app.command("smoke")
def broker_smoke(
    bootstrap: Annotated[
        str | None, typer.Option(help="Use this broker instead of starting a local one.")
    ] = None,
) -> None:
    """Start the local broker, do one transactional round trip, print what was measured."""
    with _broker(bootstrap) as (address, version, startup):
        seconds = asyncio.run(_transactional_round_trip(address))
        console.print(f"broker      {address}")
        console.print(f"version     Apache Kafka {version}")
        if startup is not None:
            console.print(f"start-up    {startup:.2f} s to ready")
        console.print(f"round trip  {seconds * 1000:.0f} ms (transactional produce + read)")
    console.print("stopped cleanly")


class _Stopped(Exception):
    """SIGTERM or SIGHUP reached `renkei broker run`."""


def _raise_stopped(signum: int, _frame: object) -> None:
    raise _Stopped(signal.Signals(signum).name)


@broker_app.command("run")
def broker_run(
    nodes: Annotated[int, typer.Option(help="1, or 3 for a failover cluster.")] = 1,
) -> None:
    """Run a local broker in the foreground until Ctrl-C or SIGTERM (for running the hub by
    hand); either stops the Java broker too."""
    # The JVMs run in sessions of their own (a terminal's Ctrl-C must not kill them before the
    # launcher shuts them down cleanly), so every way of stopping the launcher stops them here.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_stopped)
    cluster = KafkaCluster(nodes)
    try:
        cluster.start()
        console.print(
            f"Apache Kafka {KAFKA_VERSION} ready at {cluster.bootstrap} "
            f"in {cluster.startup_seconds:.2f} s; Ctrl-C or SIGTERM stops it"
        )
        console.print("Connect as its bootstrap admin (the only super user) with:")
        for name, value in cluster.admin_environment().items():
            print(f"export {name}={value}")
        while True:
            time.sleep(3600)
    except BrokerError as exc:
        console.print(f"[red]Could not start the local Kafka broker:[/red] {exc}")
        raise typer.Exit(2) from exc
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)  # a second signal must not cut the shutdown short
        cluster.stop()
    console.print("broker stopped")


@app.command("demo")
def demo(
    bootstrap: Annotated[
        str | None, typer.Option(help="Use this broker instead of starting a local one.")
    ] = None,
    persons: Annotated[int, typer.Option(help="Size of the synthetic population.")] = 1000,
    rate: Annotated[
        float, typer.Option(help="Background checks per second in each phase (0: none).")
    ] = 200.0,
    duration: Annotated[
        float, typer.Option(help="Seconds of background checks in each phase.")
    ] = 5.0,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic population.")] = 7,
    abuse: Annotated[
        bool,
        typer.Option(
            "--abuse",
            help="End with a municipality browsing at night until the oversight body suspends it.",
        ),
    ] = False,
    report_dir: Annotated[
        Path, typer.Option(help="Where report.json and report.md are written.")
    ] = Path("results/demo"),
    portal: Annotated[
        bool,
        typer.Option(
            "--portal",
            help="After the rollout, keep the hub up and serve the citizen portal over what it "
            "recorded, with a test identity to sign in with, until Ctrl-C.",
        ),
    ] = False,
    portal_port: Annotated[int, typer.Option(help="Port of the portal (--portal).")] = 8080,
) -> None:
    """The main job: start the hub and the reference agencies, play the small-start rollout
    phase by phase, and report what Kafka recorded (per phase, the invariants, the audit).
    With --persons/--rate/--duration it is a load test of the same scenario; with --portal the
    citizen portal shows a person what the rollout recorded about them."""
    from renkei import logs
    from renkei.demo import DemoConfig, Tracker, run_demo
    from renkei.demo.progress import live
    from renkei.demo.report import breakdown_tables, phase_table, summary_lines

    with _broker(bootstrap) as (address, version, _startup), _control_keys():
        config = DemoConfig(
            persons=persons,
            seed=seed,
            rate=rate,
            duration=duration,
            report_dir=report_dir,
            abuse=abuse,
            broker="external" if bootstrap else f"embedded Apache Kafka {version}",
        )
        tracker = Tracker()
        with live(tracker, console):
            logs.configure(level="WARNING")  # inside the display, so warnings print above it
            # aiokafka logs transient start-up conditions (topic or coordinator not there yet)
            # as errors; the demo's outcome is judged from what Kafka recorded instead.
            logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
            try:
                then = _portal_after_rollout(address, seed, persons, portal_port, tracker)
                result = asyncio.run(
                    run_demo(address, config, tracker, then=then if portal else None)
                )
            finally:
                logs.configure(level="WARNING")
    console.print()
    console.print(phase_table(result.report))
    for table in breakdown_tables(result.report):
        console.print(table)
    for line in summary_lines(result.report):
        console.print(line)
    if result.paths is not None:
        console.print(f"report: {result.paths[0]} and {result.paths[1]}")
    console.print(f"wall time {result.report['run']['wall_seconds']:.1f} s")
    if not result.ok:
        console.print("[red]the run broke an invariant or the audit chain: see the report[/red]")
        raise typer.Exit(1)


def _portal_after_rollout(
    bootstrap: str, seed: int, persons: int, port: int, tracker: Any
) -> Callable[[dict[str, Any], Any, Any], Awaitable[None]]:
    async def then(agencies: dict[str, Any], population: Any, hub: Any) -> None:
        from agencies import Portal
        from renkei.demo.portal import serve_portal, showcase

        scripted = agencies["portal"]
        assert isinstance(scripted, Portal)
        person = showcase(scripted, population)

        async def announce(running: Any) -> None:
            tracker.step = f"the portal is up at {running.url}: Ctrl-C stops it and reports"
            console.print(f"[bold]portal:[/bold] {running.url}")
            if person is not None:
                console.print(
                    f"sign in as [bold]{person.credential}[/bold]: {person.provided} "
                    f"provisions and {person.denied} denied attempts about this person"
                )

        tracker.step = "starting the portal"
        hub_key = scripted.agency.producer.hub_key  # the key the run's agencies seal to
        await serve_portal(
            bootstrap, seed, persons, port, announce, hub_key, hub.keys.record_verify_keys
        )

    return then


def main() -> None:
    app()
