"""`renkei hub …`: run a hub replica and operate it (onboarding, rollout, suspensions,
dead letters, audit, lag)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import typer
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    KafkaConnectionError,
    SaslAuthenticationFailed,
    TopicAuthorizationFailedError,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from rich.console import Console
from rich.table import Table

from hub.access import SERVICE_PRINCIPALS
from hub.acl_admin import AccessAdminError
from hub.audit import ChainHead, ChainReport, verify_partition
from hub.control import operator_metadata
from hub.control_acks import (
    DEFAULT_WAIT_SECONDS,
    HUB_GROUPS,
    Confirmation,
    ReplicasUnknown,
    publish_and_confirm,
)
from hub.control_signatures import ControlKeyError
from hub.core import Keyring, KeySetError, load_key_set
from hub.core.keyring import DEFAULT_TOKEN_TTL_SECONDS
from hub.core.legal_basis import LegalBasisTableError, parse_table
from hub.core.trust import TrustTableError, parse_trust_text
from hub.deadletters import DeadLetter
from hub.lag import measure_lag
from hub.layout import LayoutMismatch
from hub.layout import guard as guard_layout
from hub.onboarding import (
    create_service_principal,
    offboard_agency,
    onboard_agency,
    registration,
    retirement,
    rollout_changes,
)
from hub.partition_state import CHAIN_HEAD
from hub.readers import read_to_end
from hub.repartition import RepartitionRefused, repartition
from hub.service import Hub, HubConfig, default_replica_id
from hub.topics import (
    DEAD_LETTERS,
    PERSONS,
    PRODUCTION_REPLICATION,
    PROVISION_RECORDS,
    STATE,
    TopicCreationError,
    TopicLayout,
    ensure_topics,
)
from producers.connection import Connection, kafka_options
from producers.errors import ConnectionSettingsError
from renkei import logs
from schemas.models import (
    AgencySuspension,
    LegalBasisTablePublished,
    Message,
    RateBudgetSet,
    RolloutOperation,
    TrustTablePublished,
)
from schemas.provision_records import VerifyKeyError, parse_verify_keys
from schemas.vocabulary import InvalidAgencyId, Sector, agency_kind

hub_app = typer.Typer(help="Run and operate the hub.", no_args_is_help=True)
dlq_app = typer.Typer(help="Dead letters: list and replay.", no_args_is_help=True)
audit_app = typer.Typer(help="Provision records: verify the hash chains.", no_args_is_help=True)
rollout_app = typer.Typer(help="Advance, roll back, pause or resume the rollout.",
                          no_args_is_help=True)  # fmt: skip
hub_app.add_typer(dlq_app, name="dlq")
hub_app.add_typer(audit_app, name="audit")
hub_app.add_typer(rollout_app, name="rollout")
console = Console()

Bootstrap = Annotated[
    str, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers.")
]
Operator = Annotated[str, typer.Option(help="Operator id recorded as sender (op-<name>).")]
Replication = Annotated[
    int,
    typer.Option(
        envvar="RENKEI_REPLICATION",
        help="Replicas of each topic created: 3 on a production cluster (min ISR 2), "
        "1 on a single local broker.",
    ),
]
Wait = Annotated[
    float,
    typer.Option(
        "--wait",
        help="Seconds to wait for every live hub replica to acknowledge (applied or refused); "
        "0 publishes without waiting (set-up before any replica runs).",
    ),
]
T = TypeVar("T")


def _run(coro: Awaitable[T], *, event_loop: str = "asyncio") -> T:
    """Run `coro` to completion on a new event loop (`uvloop` or the standard `asyncio`)."""
    factory = None
    if event_loop == "uvloop":
        import uvloop  # only the hub replica runs on it

        factory = uvloop.new_event_loop
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)  # type: ignore[arg-type]
    except ConnectionSettingsError as exc:
        console.print(f"[red]Kafka settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    except ControlKeyError as exc:
        console.print(f"[red]Control keys:[/red] {exc}")
        raise typer.Exit(2) from exc
    except KafkaConnectionError as exc:
        console.print(f"[red]Could not connect to Kafka:[/red] {exc}")
        console.print("Check RENKEI_KAFKA_BOOTSTRAP (or --bootstrap), RENKEI_KAFKA_USERNAME, "
                      "RENKEI_KAFKA_PASSWORD and RENKEI_KAFKA_CA_FILE; the log above names the "
                      "broker's reason (e.g. invalid credentials).")  # fmt: skip
        raise typer.Exit(2) from exc
    except ReplicasUnknown as exc:
        console.print(f"[red]Live replicas unknown:[/red] {exc}")
        raise typer.Exit(2) from exc
    except (SaslAuthenticationFailed, TopicAuthorizationFailedError) as exc:
        console.print(f"[red]The broker refused this principal:[/red] {exc}")
        console.print("Check RENKEI_KAFKA_USERNAME, RENKEI_KAFKA_PASSWORD and that the "
                      "principal was onboarded with the rights this command needs.")  # fmt: skip
        raise typer.Exit(2) from exc


def _command(bootstrap: str, wait: float, *messages: Message) -> None:
    """Publish control commands; with `wait`, report every live replica's answer to each and
    exit 1 if nobody applied one or anybody refused one."""
    confirmations = _run(publish_and_confirm(bootstrap, *messages, within=wait))
    if wait <= 0:
        for c in confirmations:
            console.print(f"{c.message_type} published at control offset {c.offset} "
                          "(not waiting for the replicas)")  # fmt: skip
        return
    failed = False
    for c in confirmations:
        failed |= _report(c, wait)
    if failed:
        raise typer.Exit(1)


def _report(confirmation: Confirmation, wait: float) -> bool:
    """Print who applied, refused or stayed silent; True if the command failed."""
    c = confirmation
    console.print(f"{c.message_type} at control offset {c.offset}: {len(c.applied)} applied, "
                  f"{len(c.refused)} refused, {len(c.silent)} silent of {len(c.live)} live "
                  "replica(s)")  # fmt: skip
    for replica in c.applied:
        console.print(f"  applied  {replica}")
    for answer in c.refused:
        console.print(f"  [red]refused[/red]  {answer.replica}: {answer.reason}"
                      + (f" ({answer.detail})" if answer.detail else ""))  # fmt: skip
    for replica in c.silent:
        console.print(f"  [yellow]silent[/yellow]   {replica}: no acknowledgement within "
                      f"{wait:g} s")  # fmt: skip
    if not c.answers and not c.live:
        console.print(f"[red]No hub replica is running[/red] (no member in "
                      f"{' or '.join(HUB_GROUPS)}) and none answered within {wait:g} s: the "
                      "command stays on the control topic and every replica applies it when "
                      "it starts.")  # fmt: skip
    return not c.succeeded


def _keys() -> Keyring:
    try:
        return Keyring.from_key_set(load_key_set())
    except KeySetError as exc:
        console.print(f"[red]Key set:[/red] {exc}")
        console.print("Generate a development key set with `renkei keys generate --out FILE` "
                      "and set RENKEI_KEYS_FILE=FILE.")  # fmt: skip
        raise typer.Exit(2) from exc


@hub_app.command("run")
def run(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    partitions: Annotated[
        int,
        typer.Option(
            envvar="RENKEI_PARTITIONS",
            help="Partitions of the hub topics (fixed once the state is built on them).",
        ),
    ] = 6,
    replication: Replication = PRODUCTION_REPLICATION,
    batch_max: Annotated[int, typer.Option(help="Most records per transaction.")] = 500,
    linger_ms: Annotated[int, typer.Option(help="Longest wait to fill a batch.")] = 20,
    http_port: Annotated[int | None, typer.Option(help="Health and metrics port.")] = None,
    http_host: Annotated[
        str,
        typer.Option(
            envvar="RENKEI_HTTP_HOST",
            help="Address the health and metrics server binds (0.0.0.0 in a container).",
        ),
    ] = "127.0.0.1",
    session_timeout_ms: Annotated[
        int, typer.Option(help="How long a crashed replica keeps its partitions.")
    ] = 10_000,
    stage: Annotated[
        list[str] | None,
        typer.Option(help="Run only this stage (ingress or router); repeatable. Default: both."),
    ] = None,
    replica_id: Annotated[
        str | None,
        typer.Option(
            envvar="RENKEI_REPLICA_ID",
            help="This replica's name in its control acknowledgements and the hub's consumer "
            "groups (e.g. the pod name); default host-pid-random.",
        ),
    ] = None,
    event_loop: Annotated[
        str,
        typer.Option(
            envvar="RENKEI_EVENT_LOOP",
            help="Event loop of the stages: uvloop (libuv) or asyncio (the standard one).",
        ),
    ] = "uvloop",
    budget: Annotated[
        list[str] | None,
        typer.Option(
            help="Rate budget: CAPACITY/PER_SECOND for every agency, or "
            "AGENCY=CAPACITY/PER_SECOND for one; repeatable. Give every replica the same. "
            "Default 1000/500 per agency (2.5 times the demo's peak of 200 a second); metered "
            "by the broker's time, so a backlog after a restart counts when it was sent."
        ),
    ] = None,
    provider_timeout: Annotated[
        int,
        typer.Option(
            envvar="RENKEI_PROVIDER_TIMEOUT",
            min=1,
            help="Seconds a provider has to answer a query (its reply token lives as long); "
            "then the requester gets PROVIDER_TIMEOUT and a later answer is dead-lettered. "
            "Give every replica the same. Default 7 days: providers answering from nightly "
            "batches still make it.",
        ),
    ] = DEFAULT_TOKEN_TTL_SECONDS,
) -> None:
    """Run one hub replica until SIGTERM (graceful: commits the open transactions)."""
    logs.configure()
    try:
        rate_policy = HubConfig(bootstrap).rate_policy.with_budgets(budget or [])
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    config = HubConfig(
        bootstrap,
        TopicLayout(partitions, replication=replication),
        batch_max,
        linger_ms,
        http_port,
        http_host=http_host,
        session_timeout_ms=session_timeout_ms,
        stages=tuple(stage or ("ingress", "router")),
        rate_policy=rate_policy,
        provider_timeout_s=provider_timeout,
        replica_id=replica_id or default_replica_id(),
    )
    if event_loop not in ("uvloop", "asyncio"):
        console.print(f"[red]Unknown event loop {event_loop!r}: uvloop or asyncio[/red]")
        raise typer.Exit(2)
    unknown = set(config.stages) - {"ingress", "router"}
    if unknown:
        console.print(f"[red]Unknown stage(s): {', '.join(sorted(unknown))}[/red]")
        raise typer.Exit(2)
    try:
        hub = Hub(config, _keys())
    except ControlKeyError as exc:
        console.print(f"[red]Control keys:[/red] {exc}")
        raise typer.Exit(2) from exc

    async def main() -> None:
        hub.install_signal_handlers()
        await hub.run()

    try:
        _run(main(), event_loop=event_loop)
    except (TopicCreationError, LayoutMismatch) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


@hub_app.command("init")
def init(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    partitions: int = 6,
    replication: Replication = PRODUCTION_REPLICATION,
) -> None:
    """Create the hub's own topics (idempotent) and record their partition count."""
    layout = TopicLayout(partitions, replication=replication)

    async def create() -> list[str]:
        created = await ensure_topics(bootstrap, layout.hub_topics())
        await guard_layout(bootstrap, partitions)
        return created

    try:
        created = _run(create())
    except (TopicCreationError, LayoutMismatch) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"created: {', '.join(created) or 'nothing (all present)'}")


@hub_app.command("repartition")
def repartition_command(
    partitions: Annotated[int, typer.Option(help="The new, larger partition count.")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    replication: Replication = PRODUCTION_REPLICATION,
) -> None:
    """Grow the hub's partition count by rebuilding its state into new topics. Stop every hub
    replica first; the state is backed up to renkei.hub.state.<old>-partitions."""
    try:
        done = _run(repartition(bootstrap, partitions, replication))
    except (RepartitionRefused, TopicCreationError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"repartitioned {done.old} -> {done.new}: {done.state_records} state records "
                  f"rebuilt, {done.moved} persons moved partition; backup kept in {done.backup}. "
                  f"Start the hub with --partitions {done.new}.")  # fmt: skip


Credentials = Annotated[
    Path | None,
    typer.Option(help="The principal's settings file (RENKEI_KAFKA_CONFIG form): its password "
                 "is reused if the file exists, else generated and written there (mode 0600). "
                 "Default: ./<principal>.kafka.env"),
]  # fmt: skip


def _credentials(principal: str, bootstrap: str, path: Path | None) -> tuple[Path, str]:
    """The password in `path` (idempotent re-runs), or a new one written there."""
    path = path or Path(f"{principal}.kafka.env")
    if path.exists():
        for line in path.read_text("utf-8").splitlines():
            name, _, value = line.partition("=")
            if name.strip() == "RENKEI_KAFKA_PASSWORD" and value.strip():
                return path, value.strip()
        console.print(f"[red]{path} holds no RENKEI_KAFKA_PASSWORD line[/red]")
        raise typer.Exit(2)
    password = secrets.token_urlsafe(24)
    configured = Connection.from_environment(bootstrap)
    lines = [f"RENKEI_KAFKA_BOOTSTRAP={configured.bootstrap}",
             f"RENKEI_KAFKA_SECURITY_PROTOCOL={configured.security_protocol}",
             f"RENKEI_KAFKA_SASL_MECHANISM={configured.sasl_mechanism or 'SCRAM-SHA-512'}",
             f"RENKEI_KAFKA_USERNAME={principal}", f"RENKEI_KAFKA_PASSWORD={password}"]  # fmt: skip
    if configured.ca_file:
        lines.append(f"RENKEI_KAFKA_CA_FILE={configured.ca_file}")
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path, password


@hub_app.command("onboard")
def onboard(
    agency: Annotated[str, typer.Argument(help="Agency id, e.g. mun-13101, jps, med-0001.")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    subscribe: Annotated[
        list[str] | None, typer.Option(help="Event types the agency subscribes to.")
    ] = None,
    key_id: str = "1",
    partitions: int = 3,
    replication: Replication = PRODUCTION_REPLICATION,
    operator: Operator = "op-onboarding",
    credentials: Credentials = None,
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Onboard an agency in one idempotent step: its two topics, its principal (SCRAM
    credential) and ACLs, and its registration (kind, key id, subscriptions), which every
    live replica acknowledges."""
    layout = TopicLayout(agency_partitions=partitions, replication=replication)
    try:
        kind = agency_kind(agency)
    except InvalidAgencyId as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    path, password = _credentials(agency, bootstrap, credentials)
    began = time.monotonic()
    try:
        created = _run(onboard_agency(bootstrap, agency, subscribe, key_id=key_id,
                                      layout=layout, operator=operator,
                                      password=password, register=False))  # fmt: skip
        registering = registration(agency, subscribe, key_id=key_id, operator=operator)
    except (InvalidAgencyId, ValueError, TopicCreationError, AccessAdminError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{agency}: topics, credential and ACLs ready in "
                  f"{time.monotonic() - began:.2f} s; topics created: {len(created)}; its "
                  f"settings: {path}")  # fmt: skip
    _command(bootstrap, wait, registering)
    console.print(f"{agency} onboarded as {kind.value}")


@hub_app.command("register")
def register(
    agency: Annotated[str, typer.Argument(help="Agency id, e.g. mun-13101, jps, med-0001.")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    subscribe: Annotated[
        list[str] | None, typer.Option(help="Event types the agency subscribes to.")
    ] = None,
    key_id: str = "1",
    operator: Operator = "op-onboarding",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Only register an agency on the control channel, where its topics, credential and ACLs
    come from elsewhere (Kubernetes: `renkei deploy render`'s KafkaTopics and KafkaUsers)."""
    try:
        registering = registration(agency, subscribe, key_id=key_id, operator=operator)
    except (InvalidAgencyId, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    _command(bootstrap, wait, registering)
    console.print(f"{agency} registered as {agency_kind(agency).value}")


@hub_app.command("offboard")
def offboard(
    agency: Annotated[str, typer.Argument(help="Agency id.")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "op-onboarding",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Retire an agency from the hub's registry (every live replica acknowledges; from then
    on whatever it sends is refused and nothing reaches it), then remove its ACLs, credential
    and two topics (their records are deleted)."""
    try:
        agency_kind(agency)
        retiring = retirement(agency, operator=operator)
    except InvalidAgencyId as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    _command(bootstrap, wait, retiring)
    try:
        had = _run(offboard_agency(bootstrap, agency, retire=False))
    except (InvalidAgencyId, AccessAdminError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{agency} offboarded" + ("" if had else " (it had no credential)"))


@hub_app.command("principal")
def principal(
    name: Annotated[str, typer.Argument(help="hub, operator or ppc.")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
    credentials: Credentials = None,
) -> None:
    """Create (idempotently) a service principal's credential and its fixed ACLs."""
    if name not in SERVICE_PRINCIPALS:
        known = ", ".join(SERVICE_PRINCIPALS)
        console.print(f"[red]{name!r} is not a service principal ({known}); agencies are "
                      "onboarded[/red]")  # fmt: skip
        raise typer.Exit(2)
    path, password = _credentials(name, bootstrap, credentials)
    try:
        _run(create_service_principal(bootstrap, name, password))
    except AccessAdminError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"principal {name} ready; its settings: {path}")


def _rollout(
    bootstrap: str, operator: str, wait: float, op: RolloutOperation, sector: Sector | None = None
) -> None:
    _command(bootstrap, wait, *rollout_changes(op, sector=sector, operator=operator))
    console.print(f"rollout: {op.value} {sector or ''} applied")


@rollout_app.command("advance")
def rollout_advance(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "op-rollout",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Switch on the next phase of the rollout plan."""
    _rollout(bootstrap, operator, wait, RolloutOperation.ADVANCE)


@rollout_app.command("rollback")
def rollout_rollback(
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "op-rollout",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Return to the previous phase."""
    _rollout(bootstrap, operator, wait, RolloutOperation.ROLL_BACK)


@rollout_app.command("pause")
def rollout_pause(
    sector: Sector,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "op-rollout",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Pause one sector (its requests are denied SECTOR_NOT_LIVE until resumed)."""
    _rollout(bootstrap, operator, wait, RolloutOperation.PAUSE_SECTOR, sector=sector)


@rollout_app.command("resume")
def rollout_resume(
    sector: Sector,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "op-rollout",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Resume a paused sector."""
    _rollout(bootstrap, operator, wait, RolloutOperation.RESUME_SECTOR, sector=sector)


class _Versioned(Protocol):
    @property
    def version(self) -> str: ...


V = TypeVar("V", bound=_Versioned)


def _publish_document(
    path: Path,
    parse: Callable[[str], V],
    invalid: type[ValueError],
    published: type[LegalBasisTablePublished | TrustTablePublished],
    bootstrap: str,
    operator: str,
    wait: float,
) -> V:
    """Validate a table document, then publish it on the control channel as the version in
    force (with its digest, so every replica checks it applies the same text)."""
    text = path.read_text("utf-8")
    try:
        parsed = parse(text)
    except invalid as exc:
        console.print(f"[red]Refused:[/red] {exc}")
        raise typer.Exit(1) from exc
    _command(bootstrap, wait, published(
        metadata=operator_metadata(operator), version=parsed.version,
        sha256=hashlib.sha256(text.encode()).hexdigest(), table_json=text))  # fmt: skip
    return parsed


@hub_app.command("publish-table")
def publish_table(
    path: Path,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "op-legal",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Validate a legal-basis table file and publish it as the version in force."""
    table = _publish_document(path, parse_table, LegalBasisTableError, LegalBasisTablePublished,
                              bootstrap, operator, wait)  # fmt: skip
    console.print(f"legal-basis table {table.version} in force ({len(table.rows)} rows)")


@hub_app.command("publish-trust")
def publish_trust(
    path: Path,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "op-legal",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Validate a trust-table file (who may assert which fact) and publish it as the version
    in force on every hub replica."""
    trust = _publish_document(path, parse_trust_text, TrustTableError, TrustTablePublished,
                              bootstrap, operator, wait)  # fmt: skip
    console.print(f"trust table {trust.version} in force ({len(trust.rules)} facts)")


@hub_app.command("budget")
def budget(
    burst: Annotated[int, typer.Option(min=1, help="Requests at once (the bucket's size).")],
    per_second: Annotated[int, typer.Option(min=0, help="Requests per second it refills with.")],
    agency: Annotated[
        str | None, typer.Option(help="The agency whose budget this is; default: every agency.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why, for the record.")] = "rate budget",
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "op-budgets",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """Set one agency's rate budget, or every agency's: a signed control command every hub
    replica applies (it takes precedence over `hub run --budget`)."""
    if agency is not None:
        try:
            agency_kind(agency)
        except InvalidAgencyId as exc:
            console.print(f"[red]Refused:[/red] {exc}")
            raise typer.Exit(2) from exc
    message = RateBudgetSet(
        metadata=operator_metadata(operator), agency=agency, burst=burst,
        per_second=per_second, reason=reason,
    )  # fmt: skip
    _command(bootstrap, wait, message)
    whose = agency or "every agency"
    console.print(f"rate budget of {whose}: {burst} at once, {per_second} a second")


@hub_app.command("suspend")
def suspend(
    agency: str,
    reason: str,
    bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "ppc",
    wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:
    """The oversight body suspends an agency: its requests are denied AGENCY_SUSPENDED."""
    _suspension(bootstrap, operator, wait, agency, suspended=True, reason=reason)
    console.print(f"{agency} suspended")


@hub_app.command("reinstate")
def reinstate(
    agency: str, reason: str = "reinstated", bootstrap: Bootstrap = "127.0.0.1:9092",
    operator: Operator = "ppc", wait: Wait = DEFAULT_WAIT_SECONDS,
) -> None:  # fmt: skip
    """Lift a suspension."""
    _suspension(bootstrap, operator, wait, agency, suspended=False, reason=reason)
    console.print(f"{agency} reinstated")


def _suspension(
    bootstrap: str, operator: str, wait: float, agency: str, *, suspended: bool, reason: str
) -> None:
    message = AgencySuspension(
        metadata=operator_metadata(operator), agency=agency, suspended=suspended, reason=reason
    )
    _command(bootstrap, wait, message)


async def read_topic(
    bootstrap: str, topic: str, handle: Callable[[int, int, bytes | None, Any], None]
) -> None:
    """Read every committed record of `topic` (all partitions) once, in offset order."""
    async for batch in read_to_end(bootstrap, topic, max_records=5_000):
        for r in batch:
            handle(r.partition, r.offset, r.value, r)


async def read_chain_heads(bootstrap: str) -> dict[int, ChainHead]:
    """The chain head the hub keeps for each partition (the last one in its changelog)."""
    heads: dict[int, ChainHead] = {}

    def collect(partition: int, _offset: int, value: bytes | None, record: Any) -> None:
        if record.key == CHAIN_HEAD and value is not None:
            heads[partition] = ChainHead.from_bytes(value)

    await read_topic(bootstrap, STATE, collect)
    return heads


async def verify_chains(
    bootstrap: str, keys: Mapping[int, Ed25519PublicKey], *, check_heads: bool = True
) -> ChainReport:
    """Verify every partition's chain of provision records with the hub's public record keys,
    and (with `check_heads`) each chain's end against the hub's chain head."""
    by_partition: dict[int, list[tuple[int, bytes]]] = {}

    def collect(partition: int, offset: int, value: bytes | None, _r: Any) -> None:
        by_partition.setdefault(partition, []).append((offset, value or b""))

    await read_topic(bootstrap, PROVISION_RECORDS, collect)
    heads = await read_chain_heads(bootstrap) if check_heads else {}
    report = ChainReport()
    for partition in sorted(by_partition.keys() | heads.keys()):
        records = by_partition.get(partition, [])
        verify_partition(partition, records, report, keys, heads.get(partition))
    return report


VerifyKeys = Annotated[
    str | None,
    typer.Option(
        envvar="RENKEI_RECORD_VERIFY_KEYS",
        help="The hub's public record keys (`renkei keys public`); default: the key set's.",
    ),
]


@audit_app.command("verify")
def audit_verify(bootstrap: Bootstrap = "127.0.0.1:9092", verify_keys: VerifyKeys = None) -> None:
    """Verify every provision record's signature and chain position and each chain's end;
    report every break (exit 1) or intact."""
    try:
        keys = _keys().record_verify_keys if verify_keys is None else parse_verify_keys(verify_keys)
    except VerifyKeyError as exc:
        console.print(f"[red]Record verification keys:[/red] {exc}")
        raise typer.Exit(2) from exc
    report = _run(verify_chains(bootstrap, keys))
    summary = (f"{report.records} provision records in {report.partitions} chains, "
               f"{report.genuine} signed by the hub")  # fmt: skip
    if report.intact:
        console.print(f"intact: {summary}")
        return
    console.print(f"[red]BROKEN[/red]: {summary}; {len(report.breaks)} break(s):")
    for b in report.breaks:
        where = "end of chain" if b.offset is None else f"offset {b.offset}"
        console.print(f"  partition {b.partition}, {where}, sequence {b.sequence}: "
                      f"{b.kind}: {b.what}")  # fmt: skip
    raise typer.Exit(1)


async def read_dead_letters(bootstrap: str) -> list[DeadLetter]:
    letters: list[DeadLetter] = []
    await read_topic(bootstrap, DEAD_LETTERS,
                     lambda _p, _o, _v, r: letters.append(DeadLetter.from_record(r)))  # fmt: skip
    return letters


@dlq_app.command("list")
def dlq_list(bootstrap: Bootstrap = "127.0.0.1:9092", as_json: bool = False) -> None:
    """Every dead letter: offset, reason, where it came from, size (never its content)."""
    letters = _run(read_dead_letters(bootstrap))
    if as_json:
        print(json.dumps([{"offset": d.offset, "reason": d.reason, "detail": d.detail,
                           "source": f"{d.source_topic}/{d.source_partition}/{d.source_offset}",
                           "at": d.at, "bytes": len(d.value)} for d in letters]))  # fmt: skip
        return
    table = Table("offset", "reason", "source", "at", "bytes", "detail")
    for d in letters:
        table.add_row(str(d.offset), d.reason, f"{d.source_topic}/{d.source_partition}/"
                      f"{d.source_offset}", d.at, str(len(d.value)), d.detail)  # fmt: skip
    console.print(table)


@dlq_app.command("replay")
def dlq_replay(
    offsets: Annotated[list[int], typer.Argument(help="Dead-letter offsets to replay.")],
    bootstrap: Bootstrap = "127.0.0.1:9092",
) -> None:
    """Re-send the original bytes of selected dead letters to their source topic (after the
    cause was fixed, e.g. a schema the hub did not know yet)."""
    letters = {d.offset: d for d in _run(read_dead_letters(bootstrap))}
    missing = [o for o in offsets if o not in letters]
    if missing:
        console.print(f"[red]No dead letter at offset(s) {missing}[/red]")
        raise typer.Exit(2)

    async def go() -> None:
        producer = AIOKafkaProducer(**kafka_options(bootstrap), acks="all",
                                    enable_idempotence=True)  # fmt: skip
        await producer.start()
        try:
            for o in offsets:
                d = letters[o]
                await producer.send_and_wait(d.source_topic, d.value, key=d.key)
        finally:
            await producer.stop()

    _run(go())
    console.print(f"replayed {len(offsets)} dead letter(s)")


@hub_app.command("lag")
def lag(bootstrap: Bootstrap = "127.0.0.1:9092") -> None:
    """Committed records not yet processed, per stage and input partition (records, not
    offsets; a partition the stage never committed shows as never)."""
    table = Table("stage", "topic", "partition", "committed", "lag (records)")
    rows = _run(measure_lag(bootstrap))
    for row in rows:
        committed = "never" if row.committed is None else str(row.committed)
        records = str(row.records) if row.exact else f"≤ {row.records}"
        table.add_row(row.stage, row.topic, str(row.partition), committed, records)
    console.print(table)
    if not all(row.exact for row in rows):
        console.print(
            "≤: offsets, transaction markers included; this principal may describe these "
            "topics but not read them, so the records cannot be counted exactly"
        )


__all__ = ["PERSONS", "hub_app"]
