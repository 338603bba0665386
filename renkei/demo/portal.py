"""`renkei demo --portal`: after the rollout, the citizen portal over what it just recorded.

The hub stays up (its keys are the run's own: a new hub could not read the codes), the scripted
portal agency hands over to the web portal (same agency, same consumer group), and the newcomer
gets the address and a test identity whose records hold both provisions and denials."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agencies import Person, Population, Portal
from portal.identity import DevelopmentIdentityProvider
from portal.service import PortalConfig, RunningPortal, running_portal
from producers import Connection
from schemas.models import Outcome
from schemas.sealed_number import HubSealingKey


@dataclass(frozen=True, slots=True)
class Showcase:
    credential: str
    provided: int
    denied: int


def showcase(portal: Portal, population: Population) -> Showcase | None:
    """The person with the most records about them among those with a denial too."""
    by_number = population.by_number()
    best: tuple[int, Person, int, int] | None = None
    for code, records in portal.records.items():
        number = portal.codes.get(code)
        if number is None:
            continue
        denied = sum(1 for r in records if r.outcome is Outcome.DENIED)
        provided = len(records) - denied
        if denied and provided and (best is None or len(records) > best[0]):
            best = (len(records), by_number[number], provided, denied)
    if best is None:
        return None
    credential = DevelopmentIdentityProvider.credential_of(best[1])
    return Showcase(credential, best[2], best[3])


@contextlib.asynccontextmanager
async def demo_portal(
    bootstrap: str,
    seed: int,
    persons: int,
    port: int = 8080,
    hub_key: HubSealingKey | None = None,
    verify_keys: Mapping[int, Ed25519PublicKey] | None = None,
) -> AsyncIterator[RunningPortal]:
    """The web portal on a fresh read model of this run, caught up with what Kafka holds.
    `hub_key`: the hub's public sealing key (a first sign-in enrols the person)."""
    directory = Path(tempfile.mkdtemp(prefix="renkei-demo-portal-"))
    config = PortalConfig(
        Connection.from_environment(bootstrap),
        database_url=f"sqlite:///{directory / 'portal.db'}",
        port=port,
        seed=seed,
        persons=persons,
        hub_key=hub_key,
        record_verify_keys=verify_keys,
    )
    try:
        async with running_portal(config) as running:
            await running.projector.caught_up(within=300)
            yield running
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def serve_portal(
    bootstrap: str,
    seed: int,
    persons: int,
    port: int,
    announce: Callable[[RunningPortal], Awaitable[None]],
    hub_key: HubSealingKey | None = None,
    verify_keys: Mapping[int, Ed25519PublicKey] | None = None,
) -> None:
    """Run the web portal until cancelled (Ctrl-C)."""
    async with demo_portal(bootstrap, seed, persons, port, hub_key, verify_keys) as running:
        await announce(running)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # Ctrl-C ends the portal; the demo goes on to its report
