"""Shared fixtures: the database matrix and backend selection.

``RCOMMERCE_TEST_DATABASES`` (default "sqlite") lists the databases the backend tests
run on: any of sqlite, postgresql, mysql. ``RCOMMERCE_TEST_REDIS_URL`` enables the Redis
cache tests. A backend that is requested but unreachable fails the run; nothing skips
silently.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection

from rcommerce.config import DatabaseSettings
from rcommerce.db import Database
from rcommerce.db.migrate import upgrade
from rcommerce.testing.databases import ensure_database

DEFAULT_URLS = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+asyncmy://root@127.0.0.1:3306/test",
}


def requested_databases() -> list[str]:
    names = [n.strip() for n in os.environ.get("RCOMMERCE_TEST_DATABASES", "sqlite").split(",") if n.strip()]
    unknown = set(names) - {"sqlite", "postgresql", "mysql"}
    if unknown:
        raise pytest.UsageError(f"RCOMMERCE_TEST_DATABASES: unknown {sorted(unknown)}")
    return names


def database_url(name: str, tmp: Path) -> str:
    if name == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'rcommerce-test.db'}"
    env = f"RCOMMERCE_TEST_{name.upper()}_URL"
    return os.environ.get(env, DEFAULT_URLS[name])


async def fresh_database(url: str) -> Database:
    """A migrated, empty database at ``url`` (existing rcommerce tables are dropped)."""
    try:
        await ensure_database(url)
        db = Database(DatabaseSettings(url=url))
        await db.ping()
    except Exception as exc:
        raise RuntimeError(f"test database {url} is unreachable: {exc}") from exc
    await drop_everything(db)
    await upgrade(db)
    return db


async def drop_everything(db: Database) -> None:
    """Drop every table in the database, whatever revision (or branch) left them there,
    so a run never depends on the state an earlier run left behind."""

    def _drop(conn: Connection) -> None:
        existing = MetaData()
        existing.reflect(conn)
        existing.drop_all(conn)

    async with db.engine.begin() as conn:
        await conn.run_sync(_drop)


@pytest.fixture(scope="session", params=requested_databases())
def database_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """A migrated database per backend in the matrix, shared by the session. Tests keep
    their data apart with unique values rather than by truncating tables."""
    database = await fresh_database(database_url(database_name, tmp_path_factory.mktemp(database_name)))
    yield database
    await database.dispose()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``@pytest.mark.slow`` tests (full-size load and soak variants) run only when
    ``RCOMMERCE_TEST_SLOW=1``; otherwise they are reported as skipped with that reason
    and their short forms run."""
    if os.environ.get("RCOMMERCE_TEST_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set RCOMMERCE_TEST_SLOW=1 to run the full-size variant")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
