"""``write_event`` (one Core INSERT at once) records what ``record_event`` records, in the
order events were recorded, on every database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf.struct_pb2 import Struct
from sqlalchemy import select

from rcommerce.db import Database
from rcommerce.events import record_event
from rcommerce.events.outbox import OutboxEvent, write_event

pytestmark = pytest.mark.backends

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def test_write_event_matches_record_event_and_keeps_the_order(db: Database) -> None:
    subject = f"things/{uuid.uuid4().hex}"
    obj = Struct()
    obj.update({"name": subject, "count": 2})
    woken: list[bool] = []
    before = db.on_outbox_commit
    db.on_outbox_commit = lambda: woken.append(True)
    try:
        async with db.transaction() as s:
            record_event(s, "thing.created", subject, obj, AT, source="orm")  # waits for the flush
            written = await write_event(s, "thing.updated", subject, obj, AT, source="core")
            record_event(s, "thing.deleted", subject, obj, AT)
    finally:
        db.on_outbox_commit = before
    assert woken == [True]
    async with db.read() as s:
        rows = list(
            await s.scalars(select(OutboxEvent).where(OutboxEvent.subject == subject).order_by(OutboxEvent.seq))
        )
    assert [r.type for r in rows] == ["thing.created", "thing.updated", "thing.deleted"]
    assert rows[1].id == written and written.startswith("evt_")
    assert rows[1].data == {"object": {"name": subject, "count": 2.0}, "source": "core"}
    assert rows[0].data == {**rows[1].data, "source": "orm"}
    assert rows[1].created_at == rows[0].created_at == AT
