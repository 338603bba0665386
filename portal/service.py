"""Running the portal: the read model, the projector, the portal agency and the web server in
one process (`renkei portal run`, the demo and the browser tests use `running_portal`)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agencies.population import generate
from portal.acts import PortalAgency
from portal.database import DEFAULT_DATABASE, create_engine, migrate
from portal.identity import DevelopmentIdentityProvider
from portal.projector import Projector
from portal.tokens import TokenIssuer
from portal.web import Extension, Services, create_app
from producers import Connection
from schemas.sealed_number import HubSealingKey


@dataclass(frozen=True)
class PortalConfig:
    connection: Connection
    database_url: str = DEFAULT_DATABASE
    host: str = "127.0.0.1"
    port: int = 8080
    seed: int = 7  # the synthetic population the development identities come from
    persons: int = 1000
    secret_key: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    https_only: bool = False
    tokens: TokenIssuer = field(default_factory=TokenIssuer.from_environment, repr=False)
    hub_key: HubSealingKey | None = None  # the hub's sealing key; else RENKEI_HUB_SEALING_KEY
    # The hub's public record keys: each record's signature is checked with them.
    record_verify_keys: Mapping[int, Ed25519PublicKey] | None = None


@dataclass
class RunningPortal:
    url: str
    services: Services
    projector: Projector
    identities: DevelopmentIdentityProvider


@contextlib.asynccontextmanager
async def running_portal(
    config: PortalConfig, *, extensions: Sequence[Extension] = ()
) -> AsyncIterator[RunningPortal]:
    """The whole portal, serving until the context exits."""
    engine = create_engine(config.database_url)
    await migrate(engine)
    agency = PortalAgency(config.connection, hub_key=config.hub_key)
    identities = DevelopmentIdentityProvider(generate(config.seed, config.persons))
    services = Services(
        engine, agency, identities, config.secret_key, config.https_only, config.tokens
    )
    projector = Projector(engine, config.connection, verify_keys=config.record_verify_keys)
    app = create_app(services, extensions=extensions)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
    )
    await agency.start()
    tasks: list[asyncio.Task[None]] = []
    try:
        await projector.start()
        tasks.append(asyncio.create_task(projector.run(), name="portal-projector"))
        tasks.append(asyncio.create_task(server.serve(), name="portal-web"))
        while not server.started:
            if tasks[-1].done():
                tasks[-1].result()  # the server could not start: say why
            await asyncio.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1] if config.port == 0 else config.port
        yield RunningPortal(f"http://{config.host}:{port}", services, projector, identities)
    finally:
        server.should_exit = True
        await projector.stop()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 30)
        await agency.stop()
        await engine.dispose()


async def serve(config: PortalConfig, extensions: Sequence[Extension] = ()) -> None:
    """Run the portal until cancelled."""
    async with running_portal(config, extensions=extensions) as portal:
        print(f"portal: {portal.url}", flush=True)
        await asyncio.Event().wait()
