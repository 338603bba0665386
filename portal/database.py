"""The read model's database: SQLite by default (a file, nothing to install), PostgreSQL when
given a URL. One async engine (SQLAlchemy 2); the schema comes only from the migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"
DEFAULT_DATABASE = "sqlite:///portal.db"


class DatabaseUrlError(ValueError):
    """The caller gave a database URL the portal cannot use."""


def async_url(url: str) -> str:
    """The SQLAlchemy async URL for `url` (sqlite:///file or postgresql://…)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise DatabaseUrlError("a database URL looks like sqlite:///portal.db or postgresql://…")
    driver = scheme.split("+")[0]
    if driver == "sqlite":
        return f"sqlite+aiosqlite://{rest}"
    if driver in ("postgresql", "postgres"):
        return f"postgresql+asyncpg://{rest}"
    raise DatabaseUrlError(f"unsupported database {driver!r}: use sqlite or postgresql")


def create_engine(url: str) -> AsyncEngine:
    full = async_url(url)
    if full.startswith("sqlite"):
        engine = create_async_engine(full, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the projector
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(full, pool_pre_ping=True)


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)
