"""SQLite: the write transactions of one process queue on an in-process lock, in arrival
order, instead of sleeping in SQLite's busy handler; one that cannot get the lock within
``sqlite_busy_timeout_s`` fails as the database being unavailable."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from rcommerce.config import DatabaseSettings
from rcommerce.db import Database


def _database(tmp_path: Path, busy_timeout_s: float = 30.0) -> Database:
    return Database(
        DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'w.db'}", sqlite_busy_timeout_s=busy_timeout_s)
    )


async def test_concurrent_writers_commit_one_after_another_in_arrival_order(tmp_path: Path) -> None:
    db = _database(tmp_path)
    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE seen (n INTEGER, inside INTEGER)"))
        inside = 0

        async def write(n: int) -> None:
            nonlocal inside
            async with db.transaction() as s:
                inside += 1
                await s.execute(text("INSERT INTO seen VALUES (:n, :inside)"), {"n": n, "inside": inside})
                await asyncio.sleep(0)  # let every other writer try to start meanwhile
                inside -= 1

        await asyncio.gather(*(write(n) for n in range(25)))
        async with db.read() as s:
            rows = (await s.execute(text("SELECT n, inside FROM seen ORDER BY rowid"))).all()
        assert [n for n, _ in rows] == list(range(25))  # committed in the order they arrived
        assert {i for _, i in rows} == {1}  # never two writers at once
    finally:
        await db.dispose()


async def test_a_writer_that_cannot_get_the_lock_in_time_fails_as_unavailable(tmp_path: Path) -> None:
    db = _database(tmp_path, busy_timeout_s=0.05)
    release = asyncio.Event()
    try:

        async def hold() -> None:
            async with db.transaction() as s:
                await s.execute(text("SELECT 1"))
                await release.wait()

        holder = asyncio.create_task(hold())
        await asyncio.sleep(0)
        with pytest.raises(OperationalError, match="database is locked"):
            async with db.transaction():
                pass
        release.set()
        await holder
        async with db.transaction() as s:  # the lock was released: the next writer goes
            await s.execute(text("SELECT 1"))
    finally:
        await db.dispose()
