"""Pooled server connections are checked only after sitting idle (``ping_after_idle_s``).

A connection the server closed while it sat in the pool is replaced without the caller
noticing once it has been idle long enough to be checked; a connection in steady use is
not checked, so its loss fails one call as a disconnect and the next call gets a new one.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rcommerce.clock import FrozenClock
from rcommerce.config import DatabaseSettings
from rcommerce.db import Database

pytestmark = pytest.mark.backends


def _own_pool(db: Database, clock: FrozenClock) -> Database:
    if db.dialect == "sqlite":
        pytest.skip("SQLite has no server connections to lose")
    settings = DatabaseSettings(url=db.settings.url, pool_size=1, max_overflow=0, ping_after_idle_s=5.0)
    return Database(settings, clock=clock)


async def _server_id(db: Database) -> int:
    query = "SELECT pg_backend_pid()" if db.dialect == "postgresql" else "SELECT CONNECTION_ID()"
    async with db.transaction() as s:
        return int((await s.execute(text(query))).scalar_one())


async def _close_from_the_server(admin: Database, server_id: int) -> None:
    if admin.dialect == "postgresql":
        kill, alive = "SELECT pg_terminate_backend(:id)", "SELECT count(*) FROM pg_stat_activity WHERE pid = :id"
    else:
        kill, alive = f"KILL {int(server_id)}", "SELECT count(*) FROM information_schema.processlist WHERE id = :id"
    async with admin.transaction() as s:
        await s.execute(text(kill), {"id": server_id})
    for _ in range(500):  # until the server has really let the connection go
        async with admin.read() as s:
            if not (await s.execute(text(alive), {"id": server_id})).scalar_one():
                return
        await asyncio.sleep(0)
    raise AssertionError(f"connection {server_id} still open on the server")


async def test_an_idle_connection_closed_by_the_server_is_replaced_before_use(db: Database) -> None:
    clock = FrozenClock()
    own = _own_pool(db, clock)
    try:
        first = await _server_id(own)
        await _close_from_the_server(db, first)
        clock.advance(6)
        assert await _server_id(own) != first  # checked, found closed, replaced: no error
    finally:
        await own.dispose()


async def test_a_busy_connection_is_not_checked_and_its_loss_fails_one_call(db: Database) -> None:
    clock = FrozenClock()
    own = _own_pool(db, clock)
    try:
        first = await _server_id(own)
        await _close_from_the_server(db, first)
        clock.advance(1)  # used a second ago: no round trip spent on checking it
        with pytest.raises(DBAPIError) as caught:
            await _server_id(own)
        assert caught.value.connection_invalidated
        assert await _server_id(own) != first
    finally:
        await own.dispose()
