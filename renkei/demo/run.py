"""`run_demo`: the hub in-process, every reference agency on the SDK, the rollout played, the
report read back from Kafka. The async entry point behind `renkei demo` (and its test)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agencies import (
    REFERENCE_AGENCY_IDS,
    Population,
    ReferenceAgency,
    generate,
    reference_agencies,
)
from agencies.population import MEDICAL_INSTITUTIONS, MUNICIPALITIES
from hub.core import Keyring, parse_key_set
from hub.core.keys import generate_key_set
from hub.onboarding import change_rollout, onboard_agency
from hub.service import INGRESS_GROUP, Hub, HubConfig
from hub.topics import TopicLayout
from producers import Connection
from producers.connection import kafka_options
from renkei.demo.oversight import DemoOversight, oversight_report
from renkei.demo.readback import DEMO_OPERATOR, read_back
from renkei.demo.report import Report, build_report, write
from renkei.demo.scenario import Expectation, Scenario, ScenarioConfig, Tracker
from renkei.logs import get_logger
from schemas.models import RolloutOperation

log = get_logger("renkei.demo")

PORTAL_SUBSCRIPTIONS = ["ConsentGiven", "ConsentWithdrawn", "ProxyRegistered", "ProxyRevoked",
                        "DependencyChanged"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class DemoConfig:
    persons: int = 1000
    seed: int = 7
    rate: float = 200.0  # background checks per second, in each phase
    duration: float = 5.0  # seconds of background checks, in each phase
    report_dir: Path | None = Path("results/demo")
    hub_partitions: int = 3
    broker: str = "embedded"  # how the report names the broker (never its address)
    abuse: bool = False  # end with a municipality browsing at night until it is suspended


@dataclass
class DemoResult:
    report: Report
    expectations: list[Expectation]
    since_ms: int
    paths: tuple[Path, Path] | None = None
    agencies: list[str] = field(default_factory=lambda: list(REFERENCE_AGENCY_IDS))
    # the hub's public record keys: anyone can verify the run's provision records with them
    record_verify_keys: Mapping[int, Ed25519PublicKey] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(
            self.report["invariants"]["ok"]
            and self.report["audit"]["intact"]
            and self.report.get("oversight", {}).get("ok", True)
        )


def subscriptions(agency: str) -> list[str]:
    if agency in MUNICIPALITIES:
        return ["Relocation"]  # the former municipality hears of a move out
    if agency in MEDICAL_INSTITUTIONS:
        return ["ClinicalUpdate"]  # the institution a patient is referred to
    if agency == "portal":
        return PORTAL_SUBSCRIPTIONS  # the person's own view of consents and proxies
    return []


async def _wait(condition: Any, what: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running_hub(bootstrap: str, partitions: int) -> AsyncIterator[Hub]:
    keys = Keyring.from_key_set(parse_key_set(generate_key_set(os.urandom)))
    hub = Hub(HubConfig(bootstrap, TopicLayout(hub_partitions=partitions)), keys)
    task = asyncio.create_task(hub.run(), name="hub")
    try:
        await _wait(lambda: hub.ready or task.done(), "the hub to be ready")
        if task.done():
            task.result()
        yield hub
    finally:
        hub.stop()
        await asyncio.wait_for(task, 60)


class IngressBarrier:
    """Waits until the hub's ingress has committed past a record of an agency's topic: after
    that, whatever the hub does with it precedes anything sent later about the same person."""

    def __init__(self, bootstrap: str) -> None:
        self.admin = AIOKafkaAdminClient(**kafka_options(bootstrap))

    async def __call__(self, topic: str, partition: int, offset: int) -> None:
        tp = TopicPartition(topic, partition)
        deadline = time.monotonic() + 30
        while True:
            committed = await self.admin.list_consumer_group_offsets(INGRESS_GROUP, partitions=[tp])
            meta = committed.get(tp)
            if meta is not None and meta.offset > offset:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("the hub did not take in the record in time")
            await asyncio.sleep(0.05)


AfterRollout = Callable[[dict[str, ReferenceAgency], Population, Hub], Awaitable[None]]


async def run_demo(
    bootstrap: str,
    config: DemoConfig,
    tracker: Tracker | None = None,
    *,
    then: AfterRollout | None = None,
) -> DemoResult:
    """Play the rollout against the broker at `bootstrap` and report what Kafka recorded.
    `then` runs after the rollout while the hub is still up (`renkei demo --portal`)."""
    tracker = tracker or Tracker()
    began = time.monotonic()
    since_ms = int(time.time() * 1000)
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    population = generate(config.seed, config.persons)
    layout = TopicLayout(hub_partitions=config.hub_partitions)

    tracker.step = "onboarding the reference agencies"
    for agency in REFERENCE_AGENCY_IDS:
        await onboard_agency(bootstrap, agency, subscriptions(agency), key_id=f"{agency}-reference",
                             layout=layout, operator="op-onboarding")  # fmt: skip
    tracker.step = "starting the hub"
    async with running_hub(bootstrap, config.hub_partitions) as hub:
        await _wait(
            lambda: set(REFERENCE_AGENCY_IDS) <= set(hub.control.agencies),
            "the registrations to reach the hub",
        )
        if hub.control.rollout.phase:  # a broker that ran the demo before: start from nothing
            back = hub.control.rollout.phase
            await change_rollout(
                bootstrap, RolloutOperation.ROLL_BACK, times=back, operator="op-demo-reset"
            )
            await _wait(lambda: hub.control.rollout.phase == 0, "the rollout to return to phase 0")

        async def advance(phase: int) -> str:
            await change_rollout(bootstrap, RolloutOperation.ADVANCE, operator=DEMO_OPERATOR)
            await _wait(lambda: hub.control.rollout.phase == phase, f"phase {phase}")
            return hub.control.rollout.plan.phases[phase - 1].name

        verify_keys = hub.keys.record_verify_keys
        agencies = reference_agencies(
            Connection.from_environment(bootstrap),
            population,
            hub_key=hub.keys.public_sealing_key,
        )
        tracker.step = "starting the reference agencies"
        await asyncio.gather(*(a.start() for a in agencies.values()))
        barrier = IngressBarrier(bootstrap)
        await barrier.admin.start()
        night_from = None
        try:
            async with DemoOversight(bootstrap, since_ms) as oversight:
                await _enrol(agencies, tracker)
                scenario = Scenario(
                    population,
                    agencies,
                    hub.control.table,
                    advance=advance,
                    ingested=barrier,
                    config=ScenarioConfig(rate=config.rate, duration=config.duration),
                    tracker=tracker,
                )
                await scenario.play()
                if config.abuse:

                    async def suspended(agency: str) -> None:
                        await _wait(lambda: agency in hub.control.suspended, "the suspension")

                    night_from = await oversight.abuse(scenario, suspended)
                tracker.step = "the oversight body's rules judge the last records"
                await oversight.settled()
        finally:
            tracker.step = "stopping the agencies"
            await barrier.admin.close()
            await asyncio.gather(*(a.stop() for a in agencies.values()))
        if then is not None:
            await then(agencies, population, hub)
        tracker.step = "stopping the hub"
    tracker.step = "reading back from Kafka"
    observed = await read_back(bootstrap, REFERENCE_AGENCY_IDS, verify_keys, since_ms)
    run = {
        "seed": config.seed,
        "persons": config.persons,
        "rate": config.rate,
        "duration": config.duration,
        "broker": config.broker,
        "hub_partitions": config.hub_partitions,
        "started_at": started_at,
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    report = build_report(observed, scenario.expectations, [p.name for p in tracker.phases], run)
    report["oversight"] = await oversight_report(bootstrap, since_ms, night_from)
    paths = write(report, config.report_dir) if config.report_dir is not None else None
    tracker.step = "done"
    log.info("demo.done", ok=report["invariants"]["ok"], wall_seconds=run["wall_seconds"])
    return DemoResult(
        report, scenario.expectations, since_ms, paths, record_verify_keys=verify_keys
    )


async def _enrol(agencies: dict[str, ReferenceAgency], tracker: Tracker) -> None:
    """Every agency enrols the people it serves (phase 0: enrolment needs nothing live)."""
    tracker.step = "agencies enrol the people they serve"
    tracker.to_enrol = sum(len(a.serves) for a in agencies.values())

    async def count() -> None:
        while True:
            tracker.enrolled = sum(len(a.codes) for a in agencies.values())
            await asyncio.sleep(0.1)

    counter = asyncio.create_task(count())
    try:
        await asyncio.gather(*(a.enrol_all() for a in agencies.values()))
    finally:
        counter.cancel()
        tracker.enrolled = sum(len(a.codes) for a in agencies.values())
