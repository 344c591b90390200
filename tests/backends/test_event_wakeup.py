"""Event watchers wake on commits: in-process, and across processes over Redis pub/sub.

The Redis tests run only with ``RCOMMERCE_TEST_REDIS_URL``; when it is set and Redis does
not answer, they fail. Two ``Database`` objects on one SQLite file with two signals stand
in for two processes; the watcher's poll interval is a minute, so an event that arrives
within the test's few-second bound arrived because of the wake-up, not the poll.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google.protobuf.struct_pb2 import Struct

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import ScopeSet
from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.events import record_event
from rcommerce.events.cursor import Position
from rcommerce.events.stream import EventFilter, EventStream
from rcommerce.events.wakeup import LocalSignal, RedisSignal, create_signal
from tests.conftest import fresh_database

REDIS_URL = os.environ.get("RCOMMERCE_TEST_REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="RCOMMERCE_TEST_REDIS_URL is not set")
STAFF = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_test", ScopeSet.of("read"))
BOUND_S = 5.0  # far below the watchers' 60 s poll interval
NEVER_S = 60.0


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await fresh_database(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    try:
        yield db
    finally:
        await db.dispose()


async def _record(db: Database, type_: str = "product.updated") -> None:
    async with db.transaction() as session:
        record_event(session, type_, "products/prod_x", Struct(), SystemClock().now())


async def test_local_signal_wakes_every_waiter() -> None:
    signal = LocalSignal()
    waiters = [asyncio.create_task(signal.wait(NEVER_S)) for _ in range(3)]
    await asyncio.sleep(0)  # let them start waiting
    signal.committed()
    await asyncio.wait_for(asyncio.gather(*waiters), BOUND_S)


async def test_only_transactions_that_recorded_events_signal(database: Database) -> None:
    commits: list[int] = []
    database.on_outbox_commit = lambda: commits.append(1)
    async with database.transaction():
        pass
    assert commits == []
    await _record(database)
    assert commits == [1]
    with pytest.raises(RuntimeError):
        async with database.transaction() as session:
            record_event(session, "product.updated", "products/prod_x", Struct(), SystemClock().now())
            raise RuntimeError("rolled back")
    assert commits == [1]  # a rolled-back event wakes nobody


async def test_a_commit_wakes_a_watcher_in_the_same_process(database: Database) -> None:
    signal = LocalSignal()
    database.on_outbox_commit = signal.committed
    stream = EventStream(database, poll_interval_s=NEVER_S, signal=signal)
    events = stream.watch(Position(), EventFilter.build(["product.*"], STAFF), max_events=1)
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0)
    await _record(database)
    event = await asyncio.wait_for(first, BOUND_S)
    assert event.type == "product.updated"


def test_redis_signal_is_chosen_for_a_redis_cache() -> None:
    assert isinstance(create_signal("redis://127.0.0.1:6379/0"), RedisSignal)
    assert type(create_signal("memory://")) is LocalSignal


@needs_redis
async def test_a_commit_in_one_process_wakes_watchers_in_another(tmp_path: Path) -> None:
    channel = f"test:outbox:{uuid.uuid4().hex}"
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    writer_db = await fresh_database(url)
    reader_db = Database(writer_db.settings)
    writer_signal, reader_signal = RedisSignal(REDIS_URL, channel=channel), RedisSignal(REDIS_URL, channel=channel)
    await writer_signal.start()
    await reader_signal.start()
    try:
        await asyncio.wait_for(
            asyncio.gather(writer_signal.subscribed.wait(), reader_signal.subscribed.wait()), BOUND_S
        )
        writer_db.on_outbox_commit = writer_signal.committed
        stream = EventStream(reader_db, poll_interval_s=NEVER_S, signal=reader_signal)
        events = stream.watch(Position(), EventFilter.build(["order.*"], STAFF), max_events=2)
        first = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)
        await _record(writer_db, "order.created")
        assert (await asyncio.wait_for(first, BOUND_S)).type == "order.created"
        second = asyncio.ensure_future(anext(events))
        await asyncio.sleep(0)
        await _record(writer_db, "order.paid")
        assert (await asyncio.wait_for(second, BOUND_S)).type == "order.paid"
    finally:
        await writer_signal.stop()
        await reader_signal.stop()
        await writer_db.dispose()
        await reader_db.dispose()


@needs_redis
async def test_redis_down_falls_back_to_polling(caplog: pytest.LogCaptureFixture) -> None:
    signal = RedisSignal("redis://127.0.0.1:1/0", retry_s=NEVER_S)
    await signal.start()
    try:
        waiter = asyncio.create_task(signal.wait(NEVER_S))
        await asyncio.sleep(0)
        signal.committed()  # publishing fails quietly; local watchers still wake
        await asyncio.wait_for(waiter, BOUND_S)
        await asyncio.wait_for(signal.wait(0.01), BOUND_S)  # the poll-interval bound still holds
    finally:
        await signal.stop()
    assert "watchers fall back to polling" in caplog.text


async def test_a_wake_up_between_the_read_and_the_wait_is_not_lost() -> None:
    """A watcher takes its ticket before it reads the outbox: a commit that lands after
    the read and before the wait still ends the wait (it would otherwise sleep a whole
    poll interval with an event waiting)."""
    signal = LocalSignal()
    ticket = signal.ticket()  # the watcher, before its read
    signal.committed()  # a commit while it reads
    await asyncio.wait_for(signal.wait(NEVER_S, ticket), BOUND_S)
    later = signal.ticket()
    waiting = asyncio.ensure_future(signal.wait(NEVER_S, later))
    await asyncio.sleep(0)
    assert not waiting.done()  # no commit since this ticket: it waits
    signal.committed()
    await asyncio.wait_for(waiting, BOUND_S)
