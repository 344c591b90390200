"""The event stream on every database in the matrix: an event whose lower ``seq`` commits
after a higher one is still streamed, exactly once, and a hole left by a rolled-back
transaction is given up after the grace period.

On PostgreSQL and MySQL the out-of-order commit is real: transaction A takes its seq and
stays open while transaction B takes a higher seq and commits, and a rolled-back insert
leaves its seq unused. SQLite serialises writers (A would block B) and reuses the rowid
of a rolled-back insert, so neither can happen there; the tests then write the rows with
explicit seqs (B's first, A's later, or none below B's) to reproduce what a reader sees
on the other databases. Either way the reader's view is the same: a missing lower seq
above its frontier that appears later, or never.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
from google.protobuf.struct_pb2 import Struct
from sqlalchemy import func, insert, select

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import ScopeSet
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.events.cursor import Position, decode_cursor
from rcommerce.events.outbox import OutboxEvent, write_event_returning_seq
from rcommerce.events.stream import EventFilter, EventStream
from rcommerce.ids import new_id
from tests.backends._events_db import isolated_database

pytestmark = pytest.mark.backends

STAFF = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_test", ScopeSet.of("read"))
GRACE_S = 5.0
BOUND_S = 5.0
PAGE = 100


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """This module's own database, so no other writer adds rows or holes to the outbox
    while a test compares exact positions (see tests/backends/_events_db.py)."""
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


class _RolledBack(Exception):
    pass


def _setup(db: Database) -> tuple[FrozenClock, str, EventStream, EventFilter]:
    clock = FrozenClock(datetime.now(UTC))
    event_type = f"t{uuid.uuid4().hex[:10]}.created"
    stream = EventStream(db, clock=clock, gap_grace_s=GRACE_S, poll_interval_s=0.01)
    return clock, event_type, stream, EventFilter.build([event_type], STAFF)


def _text(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


async def _head(db: Database) -> Position:
    async with db.read() as session:
        return Position(int(await session.scalar(select(func.max(OutboxEvent.seq))) or 0))


async def _insert_at(db: Database, clock: FrozenClock, event_type: str, subject: str, seq: int) -> str:
    """An event written with an explicit seq (SQLite's stand-in for concurrent writers)."""
    event_id = new_id("evt", clock.now())
    row = {"seq": seq, "id": event_id, "type": event_type, "subject": subject, "data": {}, "created_at": clock.now()}
    async with db.transaction() as session:
        await session.execute(insert(OutboxEvent).values(row))
    return event_id


@asynccontextmanager
async def _late_event(db: Database, clock: FrozenClock, event_type: str) -> AsyncIterator[tuple[str, int]]:
    """An event that takes its seq on entry and becomes visible (commits) on exit."""
    if db.dialect == "sqlite":
        event_id, seq = new_id("evt", clock.now()), (await _head(db)).frontier + 1
        yield event_id, seq
        async with db.transaction() as session:
            row = {"seq": seq, "id": event_id, "type": event_type, "subject": "things/late", "data": {}}
            await session.execute(insert(OutboxEvent).values({**row, "created_at": clock.now()}))
        return
    async with db.sessions() as slow:
        await slow.begin()
        yield await write_event_returning_seq(slow, event_type, "things/late", Struct(), clock.now())
        await slow.commit()


async def _event_above(db: Database, clock: FrozenClock, event_type: str, below: int) -> tuple[str, int]:
    """A committed event whose seq is above ``below``, which is taken but not visible."""
    if db.dialect == "sqlite":
        return await _insert_at(db, clock, event_type, "things/early", below + 1), below + 1
    async with db.transaction() as session:
        return await write_event_returning_seq(session, event_type, "things/early", Struct(), clock.now())


async def _rolled_back_seq(db: Database, clock: FrozenClock, event_type: str) -> int:
    """The seq of an event whose transaction rolled back (on SQLite: a seq never written)."""
    if db.dialect == "sqlite":
        return (await _head(db)).frontier + 1
    taken: list[int] = []
    with contextlib.suppress(_RolledBack):
        async with db.transaction() as session:
            _, seq = await write_event_returning_seq(session, event_type, "things/gone", Struct(), clock.now())
            taken.append(seq)
            raise _RolledBack
    return taken[0]


async def test_a_lower_seq_committed_late_is_paged_exactly_once(db: Database) -> None:
    clock, event_type, stream, selection = _setup(db)
    start = await _head(db)
    async with _late_event(db, clock, event_type) as (late_id, late_seq):
        early_id, early_seq = await _event_above(db, clock, event_type, late_seq)
        assert early_seq > late_seq
        before = await stream.page(start, selection, PAGE)
        assert [e.id for e in before.events] == [early_id]
        assert before.position.covers(early_seq) and not before.position.covers(late_seq)
    after = await stream.page(before.position, selection, PAGE)
    assert [e.id for e in after.events] == [late_id]
    assert after.position == Position(early_seq)
    assert (await stream.page(after.position, selection, PAGE)).events == []
    resumed = await stream.page(decode_cursor(before.events[0].cursor), selection, PAGE)
    assert [e.id for e in resumed.events] == [late_id]
    assert _text(after.events[0].cursor) == f"seq:{early_seq}"


async def test_a_watcher_gets_a_lower_seq_that_commits_after_it_passed(db: Database) -> None:
    clock, event_type, stream, selection = _setup(db)
    events = stream.watch(await _head(db), selection, max_events=2)
    async with _late_event(db, clock, event_type) as (late_id, late_seq):
        early_id, early_seq = await _event_above(db, clock, event_type, late_seq)
        first = await asyncio.wait_for(anext(events), BOUND_S)
        assert first.id == early_id
    second = await asyncio.wait_for(anext(events), BOUND_S)
    assert second.id == late_id
    assert decode_cursor(second.cursor) == Position(early_seq)  # nothing left to re-send


async def test_a_rolled_back_hole_is_given_up_after_the_grace_period(db: Database) -> None:
    clock, event_type, stream, selection = _setup(db)
    start = await _head(db)
    hole = await _rolled_back_seq(db, clock, event_type)
    kept_id, kept_seq = await _event_above(db, clock, event_type, hole)
    first = await stream.page(start, selection, PAGE)
    assert [e.id for e in first.events] == [kept_id]  # delivered at once, hole or not
    assert first.position == Position(start.frontier, ((kept_seq, kept_seq),))
    assert _text(first.events[0].cursor) == f"seq:{start.frontier}+{kept_seq}-{kept_seq}"
    clock.advance(GRACE_S - 1)
    waiting = await stream.page(first.position, selection, PAGE)
    assert (waiting.events, waiting.position) == ([], first.position)
    clock.advance(2)
    given_up = await stream.page(first.position, selection, PAGE)
    assert (given_up.events, given_up.position) == ([], Position(kept_seq))
    fresh = await stream.page(start, selection, PAGE)  # the old row is read in the same call
    assert [e.id for e in fresh.events] == [kept_id] and fresh.position == Position(kept_seq)
