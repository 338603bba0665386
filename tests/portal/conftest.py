"""Fixtures of the portal's tests: a PostgreSQL cluster and fresh databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from deploy.local.broker import BrokerSecurity
from portal.database import create_engine, migrate
from tests.brokers import BrokerInfo, own_broker
from tests.portal.postgres import PostgresUnavailable, throwaway_cluster
from tests.portal.world import World, portal_world


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    try:
        with throwaway_cluster() as url:
            yield url
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


async def _fresh_postgres(url: str) -> str:
    name = f"portal_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    async with admin.connect() as db:
        await db.execution_options(isolation_level="AUTOCOMMIT")
        await db.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database: a SQLite file, or a new database on the test cluster."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'portal.db'}"
    else:
        url = await _fresh_postgres(request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    await migrate(engine)
    await engine.dispose()
    return url


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="package")
def portal_kafka(kafka_broker: BrokerInfo, broker_security: BrokerSecurity) -> Iterator[str]:
    """A broker of the portal tests' own: the hub's topic names are fixed by the contract."""
    with own_broker(kafka_broker, broker_security, "the portal tests") as bootstrap:
        yield bootstrap


@pytest.fixture(scope="package")
async def world(
    portal_kafka: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    """The hub, reference agencies and the portal (SQLite read model), for the package."""
    database = tmp_path_factory.mktemp("portal") / "portal.db"
    async with portal_world(portal_kafka, f"sqlite:///{database}") as running:
        yield running


ATTACKS: list[tuple[str, bool]] = []  # (what was tried, whether it was refused)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if ATTACKS:
        refused = sum(1 for _, ok in ATTACKS if ok)
        terminalreporter.write_line(
            f"portal access control: {len(ATTACKS)} attacks tried, {refused} refused"
        )
