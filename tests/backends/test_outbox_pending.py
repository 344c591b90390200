"""Recorded events wait in the session and are written in recording order when it flushes,
commits or opens a savepoint; a rollback drops exactly what it rolled back, on every
database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf.struct_pb2 import Struct
from sqlalchemy import select

from rcommerce.db import Database
from rcommerce.events import OutboxEvent, record_event
from rcommerce.events.outbox import write_event, write_event_returning_seq

pytestmark = pytest.mark.backends

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _subject() -> str:
    return f"things/{uuid.uuid4().hex}"


def _obj(subject: str) -> Struct:
    obj = Struct()
    obj.update({"name": subject})
    return obj


async def _types(db: Database, subject: str) -> list[str]:
    async with db.read() as s:
        query = select(OutboxEvent.type).where(OutboxEvent.subject == subject).order_by(OutboxEvent.seq)
        return list(await s.scalars(query))


async def test_events_are_written_at_commit_in_recording_order_with_their_payload(db: Database) -> None:
    subject = _subject()
    async with db.transaction() as s:
        first = record_event(s, "thing.created", subject, _obj(subject), AT, source="a")
        for n in range(3):
            record_event(s, f"thing.step{n}", subject, _obj(subject), AT)
    assert await _types(db, subject) == ["thing.created", "thing.step0", "thing.step1", "thing.step2"]
    async with db.read() as s:
        row = await s.scalar(select(OutboxEvent).where(OutboxEvent.id == first.id))
    assert row is not None
    assert (row.type, row.subject, row.data, row.created_at) == (first.type, first.subject, first.data, AT)
    assert first.data == {"object": {"name": subject}, "source": "a"}


async def test_a_flush_writes_the_waiting_events_before_later_ones(db: Database) -> None:
    subject = _subject()
    async with db.transaction() as s:
        record_event(s, "thing.first", subject, _obj(subject), AT)
        s.add(OutboxEvent(id=f"evt_{uuid.uuid4().hex}", type="thing.orm", subject=subject, data={}, created_at=AT))
        await s.flush()  # writes the waiting event before the ORM's
        record_event(s, "thing.last", subject, _obj(subject), AT)
        id_, seq = await write_event_returning_seq(s, "thing.now", subject, _obj(subject), AT)
        written = await s.scalar(select(OutboxEvent.seq).where(OutboxEvent.id == id_))
        assert written == seq
    assert await _types(db, subject) == ["thing.first", "thing.orm", "thing.last", "thing.now"]


async def test_a_rolled_back_transaction_writes_none(db: Database) -> None:
    subject = _subject()
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            record_event(s, "thing.created", subject, _obj(subject), AT)
            raise RuntimeError("rolled back")
    assert await _types(db, subject) == []


async def test_a_closed_session_does_not_carry_events_into_its_next_transaction(db: Database) -> None:
    subject = _subject()
    async with db.sessions() as s:
        await s.begin()
        record_event(s, "thing.abandoned", subject, _obj(subject), AT)
        await s.close()
        async with s.begin():
            record_event(s, "thing.kept", subject, _obj(subject), AT)
    assert await _types(db, subject) == ["thing.kept"]


async def test_a_rolled_back_savepoint_drops_only_its_own_events(db: Database) -> None:
    subject = _subject()
    async with db.transaction() as s:
        record_event(s, "thing.before", subject, _obj(subject), AT)
        with pytest.raises(RuntimeError):
            async with s.begin_nested():
                record_event(s, "thing.inside", subject, _obj(subject), AT)
                await write_event(s, "thing.inside_written", subject, _obj(subject), AT)
                record_event(s, "thing.inside_pending", subject, _obj(subject), AT)
                raise RuntimeError("savepoint rolled back")
        async with s.begin_nested():
            record_event(s, "thing.released", subject, _obj(subject), AT)
            with pytest.raises(RuntimeError):
                async with s.begin_nested():
                    record_event(s, "thing.inner", subject, _obj(subject), AT)
                    raise RuntimeError("inner savepoint rolled back")
            record_event(s, "thing.released_after", subject, _obj(subject), AT)
        record_event(s, "thing.after", subject, _obj(subject), AT)
    assert await _types(db, subject) == ["thing.before", "thing.released", "thing.released_after", "thing.after"]
