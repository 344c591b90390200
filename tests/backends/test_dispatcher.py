"""The outbox dispatcher on every database in the matrix: order, resume, no duplicates,
failure isolation and the uncommitted-gap problem."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf import struct_pb2
from sqlalchemy import select, update

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.events.dispatcher import PLUGIN_HOOK_KIND, Dispatcher
from rcommerce.events.models import EventConsumer, WebhookEndpointRow
from rcommerce.events.outbox import record_event, write_event, write_event_returning_seq
from rcommerce.events.webhooks import DELIVER_KIND
from rcommerce.ids import new_id
from rcommerce.jobs import JobQueue, Worker
from rcommerce.jobs.models import JobRow
from rcommerce.plugins.providers import Event
from tests.backends._events_db import isolated_database

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """This module's own database (see tests/backends/_events_db.py)."""
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


_URL = "https://93.184.216.34/hook"


@pytest.fixture(autouse=True)
async def _disable_endpoints_afterwards(db: Database) -> AsyncIterator[None]:
    # Later tests' workers run every due delivery job; these endpoints must not be sent to.
    yield
    async with db.transaction() as session:
        await session.execute(update(WebhookEndpointRow).where(WebhookEndpointRow.url == _URL).values(disabled=True))


class Plugins:
    """A fake ``PluginHost.emit_event`` that records what it saw for one event type."""

    def __init__(self, event_type: str, fail: bool = False) -> None:
        self.event_type, self.fail = event_type, fail
        self.seen: list[str] = []

    async def emit(self, event: Event) -> Sequence[Any]:
        if event.type != self.event_type:
            return []
        self.seen.append(event.id)
        return ["failure"] if self.fail else []


def _obj(n: int) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update({"n": n})
    return s


async def _record(db: Database, clock: FrozenClock, event_type: str, count: int) -> list[str]:
    ids = []
    async with db.transaction() as session:
        for n in range(count):
            ids.append(record_event(session, event_type, f"things/{n}", _obj(n), clock.now()).id)
    return ids


async def _endpoint(db: Database, clock: FrozenClock, types: list[str]) -> str:
    now = clock.now()
    row = WebhookEndpointRow(
        id=new_id("whe", now), url=_URL, event_types=types, description="", secret="whsec_dGVzdA==",
        disabled=False, disabled_reason="", consecutive_failures=0, created_at=now, updated_at=now,
    )  # fmt: skip
    async with db.transaction() as session:
        session.add(row)
    return row.id


async def _drain(dispatcher: Dispatcher) -> int:
    total = 0
    while handled := await dispatcher.run_once():
        total += handled
    return total


async def _delivery_jobs(db: Database, endpoint_id: str) -> list[str]:
    async with db.read() as session:
        rows = (await session.execute(select(JobRow).where(JobRow.kind == DELIVER_KIND))).scalars().all()
    return sorted(r.payload["event_id"] for r in rows if r.payload["endpoint_id"] == endpoint_id)


def _setup() -> tuple[FrozenClock, str, str]:
    tag = uuid.uuid4().hex[:10]
    return FrozenClock(datetime.now(UTC)), f"t{tag}.created", f"consumer-{tag}"


async def test_events_reach_plugins_in_order_and_webhooks_once(db: Database) -> None:
    clock, event_type, consumer = _setup()
    endpoint = await _endpoint(db, clock, [event_type.split(".")[0] + ".*"])
    other = await _endpoint(db, clock, ["nothing.matches"])
    ids = await _record(db, clock, event_type, 3)
    plugins = Plugins(event_type)
    await _drain(Dispatcher(db, clock, JobQueue(clock), plugins.emit, consumer=consumer))
    assert plugins.seen == ids
    assert await _delivery_jobs(db, endpoint) == sorted(ids)
    assert await _delivery_jobs(db, other) == []


async def test_a_restart_resumes_and_redispatch_never_duplicates(db: Database) -> None:
    clock, event_type, consumer = _setup()
    endpoint = await _endpoint(db, clock, [event_type])
    first = await _record(db, clock, event_type, 3)
    plugins = Plugins(event_type)
    crashed = Dispatcher(db, clock, JobQueue(clock), plugins.emit, consumer=consumer, lease_s=60)
    await _drain(crashed)
    second = await _record(db, clock, event_type, 2)

    restarted = Dispatcher(db, clock, JobQueue(clock), plugins.emit, consumer=consumer, lease_s=60)
    assert await restarted.run_once() == 0  # the crashed process still holds the lease
    clock.advance(61)
    await _drain(restarted)
    assert plugins.seen == first + second  # each once, in order: progress was persisted
    async with db.read() as session:
        row = await session.get(EventConsumer, consumer)
    assert row is not None and row.lease_owner == restarted.owner

    # A second consumer reading everything again (or progress lost) re-emits to plugins,
    # but webhook deliveries are deduplicated per endpoint and event.
    await _drain(Dispatcher(db, clock, JobQueue(clock), None, consumer=consumer + "-again"))
    assert await _delivery_jobs(db, endpoint) == sorted(first + second)


async def test_a_failing_plugin_is_retried_by_a_job_and_never_blocks_webhooks(db: Database) -> None:
    clock, event_type, consumer = _setup()
    endpoint = await _endpoint(db, clock, [event_type])
    ids = await _record(db, clock, event_type, 2)
    plugins = Plugins(event_type, fail=True)
    queue = JobQueue(clock)
    dispatcher = Dispatcher(db, clock, queue, plugins.emit, consumer=consumer)
    dispatcher.register_jobs()
    await _drain(dispatcher)
    assert plugins.seen == ids
    assert await _delivery_jobs(db, endpoint) == sorted(ids)
    async with db.read() as session:
        retries = (await session.execute(select(JobRow).where(JobRow.kind == PLUGIN_HOOK_KIND))).scalars().all()
    mine = {r.payload["event_id"]: r for r in retries if r.payload["event_id"] in ids}
    assert set(mine) == set(ids)

    plugins.fail = False
    clock.advance(6)
    worker = Worker(db, queue, clock)
    while await worker.run_once():
        pass
    assert Counter(plugins.seen) == Counter({i: 2 for i in ids})
    async with db.read() as session:
        states = {
            r.payload["event_id"]: r.state
            for r in (await session.execute(select(JobRow).where(JobRow.kind == PLUGIN_HOOK_KIND))).scalars()
        }
    assert {states[i] for i in ids} == {"succeeded"}


async def test_a_lower_seq_committed_late_is_still_dispatched(db: Database) -> None:
    if db.dialect == "sqlite":
        pytest.skip("SQLite serialises writers from BEGIN IMMEDIATE, so seq order is commit order: no gap can occur")
    clock, event_type, consumer = _setup()
    plugins = Plugins(event_type)
    dispatcher = Dispatcher(db, clock, JobQueue(clock), plugins.emit, consumer=consumer, gap_grace_s=5)
    async with db.sessions() as slow:
        await slow.begin()
        late_id, late_seq = await write_event_returning_seq(slow, event_type, "things/late", _obj(0), clock.now())
        # seq allocated, not committed
        early = await _record(db, clock, event_type, 1)
        await _drain(dispatcher)
        assert plugins.seen == early
        await slow.commit()
    assert late_seq < (await _seq(db, early[0]))
    await _drain(dispatcher)
    assert plugins.seen == [*early, late_id]
    clock.advance(10)
    await _drain(dispatcher)
    async with db.read() as session:
        row = await session.get(EventConsumer, consumer)
    assert row is not None and row.last_seq >= await _seq(db, early[0])
    assert plugins.seen == [*early, late_id]


async def test_a_rolled_back_hole_is_passed_after_the_grace_period(db: Database) -> None:
    clock, event_type, consumer = _setup()
    plugins = Plugins(event_type)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await write_event(session, event_type, "things/rolled-back", _obj(0), clock.now())  # seq taken
            raise RuntimeError("rolled back")
    kept = await _record(db, clock, event_type, 1)
    dispatcher = Dispatcher(db, clock, JobQueue(clock), plugins.emit, consumer=consumer, gap_grace_s=5)
    await _drain(dispatcher)
    assert plugins.seen == kept  # delivered at once, hole or not
    clock.advance(6)
    await _drain(dispatcher)
    async with db.read() as session:
        row = await session.get(EventConsumer, consumer)
    assert row is not None and row.last_seq >= await _seq(db, kept[0])
    assert plugins.seen == kept


async def _seq(db: Database, event_id: str) -> int:
    from rcommerce.events.outbox import OutboxEvent

    async with db.read() as session:
        return int(await session.scalar(select(OutboxEvent.seq).where(OutboxEvent.id == event_id)) or 0)


async def test_a_lease_held_by_a_dead_local_process_is_taken_over_at_once(db: Database) -> None:
    import socket

    clock, event_type, consumer = _setup()
    plugins = Plugins(event_type)
    first = Dispatcher(db, clock, JobQueue(clock), plugins.emit, consumer=consumer)
    await _record(db, clock, event_type, 1)
    await _drain(first)
    # A process that held the lease was SIGKILLed: its pid no longer exists, its lease has
    # most of its two minutes left.
    dead_owner = f"{socket.gethostname()}:999999999:abcdef"
    async with db.transaction() as session:
        await session.execute(
            update(EventConsumer)
            .where(EventConsumer.name == consumer)
            .values(lease_owner=dead_owner, lease_until=clock.now().replace(year=clock.now().year + 1))
        )
    ids = await _record(db, clock, event_type, 2)
    restarted = Dispatcher(db, clock, JobQueue(clock), plugins.emit, consumer=consumer)
    assert await _drain(restarted) == 2
    assert plugins.seen[-2:] == ids
    live_owner = "another-host:1:abcdef"
    async with db.transaction() as session:
        await session.execute(
            update(EventConsumer)
            .where(EventConsumer.name == consumer)
            .values(lease_owner=live_owner, lease_until=clock.now().replace(year=clock.now().year + 1))
        )
    await _record(db, clock, event_type, 1)
    assert await restarted.run_once() == 0  # a lease of another host is respected until it expires


async def test_a_failing_consumer_keeps_the_events_before_it_and_retries_only_its_own(db: Database) -> None:
    clock, event_type, consumer = _setup()
    endpoint = await _endpoint(db, clock, [event_type])
    ids = await _record(db, clock, event_type, 3)
    consumed: list[str] = []
    failing = {ids[1]}

    async def consume(session: Any, event: Event) -> None:
        if event.type != event_type:
            return
        if event.id in failing:
            raise RuntimeError("consumer failed")
        consumed.append(event.id)

    dispatcher = Dispatcher(db, clock, JobQueue(clock), None, consumer=consumer, extra_consumers=[consume])
    with pytest.raises(RuntimeError, match="consumer failed"):
        await _drain(dispatcher)
    # The batch rolled back, then the event before the failing one was committed alone.
    assert consumed == [ids[0], ids[0]]
    assert await _delivery_jobs(db, endpoint) == [ids[0]]

    failing.clear()
    await _drain(dispatcher)
    assert consumed == [ids[0], ids[0], ids[1], ids[2]]  # the retry starts at the failed event
    assert await _delivery_jobs(db, endpoint) == sorted(ids)
