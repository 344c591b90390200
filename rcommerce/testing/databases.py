"""Databases for end-to-end tests of plugins, on the same matrix as the core's tests.

``RCOMMERCE_TEST_DATABASES`` (default ``sqlite``) lists the databases: any of sqlite,
postgresql, mysql; ``RCOMMERCE_TEST_POSTGRESQL_URL`` / ``RCOMMERCE_TEST_MYSQL_URL`` point
at the servers. A plugin's live-server tests parametrize over :func:`matrix` and start the
server on :func:`migrated_url`::

    @pytest.fixture(params=matrix())
    async def shop(request, tmp_path):
        url = await migrated_url(request.param, tmp_path)
        async with live_server(url, clock, plugins={...}) as live:
            yield live

SQLite is a fresh file per test (the server migrates it itself). On a server the tests use
a database of their own beside the configured one (``<name>_plugins``, created when
missing), emptied (every table dropped) and migrated to head, so each test starts from
nothing and never touches the database another test session's live server works on.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import MetaData, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from rcommerce.config import DatabaseSettings
from rcommerce.db import Database
from rcommerce.db.migrate import upgrade

__all__ = ["DEFAULT_URLS", "ensure_database", "matrix", "migrated_url"]

DEFAULT_URLS = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
    "mysql": "mysql+asyncmy://root@127.0.0.1:3306/test",
}


def matrix() -> list[str]:
    """The database names of ``RCOMMERCE_TEST_DATABASES``, in order."""
    names = [n.strip() for n in os.environ.get("RCOMMERCE_TEST_DATABASES", "sqlite").split(",") if n.strip()]
    unknown = sorted(set(names) - {"sqlite", *DEFAULT_URLS})
    if unknown:
        raise ValueError(f"RCOMMERCE_TEST_DATABASES: unknown {unknown}")
    return names


async def ensure_database(url: str) -> None:
    """Create the database ``url`` names when its server does not have it yet (connecting
    to the server's maintenance database); nothing for SQLite, whose file appears on use."""
    target = make_url(url)
    if target.get_backend_name() == "sqlite" or not target.database:
        return
    name = target.database
    postgresql = target.get_backend_name() == "postgresql"
    engine = create_async_engine(
        target.set(database="postgres" if postgresql else "mysql"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with engine.connect() as conn:
            if postgresql:
                if not await conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
            else:
                await conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}`"))
    finally:
        await engine.dispose()


async def migrated_url(name: str, tmp: Path) -> str:
    """The URL of an empty, migrated database ``name`` for one test."""
    if name == "sqlite":
        return f"sqlite+aiosqlite:///{tmp / 'shop.db'}"
    base = make_url(os.environ.get(f"RCOMMERCE_TEST_{name.upper()}_URL", DEFAULT_URLS[name]))
    url = base.set(database=f"{base.database}_plugins").render_as_string(hide_password=False)
    await ensure_database(url)
    db = Database(DatabaseSettings(url=url))
    try:
        await db.ping()

        def _drop(conn: Connection) -> None:
            existing = MetaData()
            existing.reflect(conn)
            existing.drop_all(conn)

        async with db.engine.begin() as conn:
            await conn.run_sync(_drop)
        await upgrade(db)
    finally:
        await db.dispose()
    return url
