"""The outbox table and the one function domain services call to append an event.

An event is written in the caller's transaction, so it exists exactly when the change
it describes was committed (DESIGN 7). Delivery (dispatcher, webhooks, plugin hooks)
reads this table after commit. ``seq`` orders events; ``id`` ("evt_...") is what
receivers dedupe on. The payload is the proto3 JSON of the changed resource, the same
schema as the API (DECISIONS 19: ``data.object``).

Recorded events wait in ``session.info`` as plain rows (no ORM object per event) and reach
the table in recording order with one multi-row ``INSERT`` (no ``RETURNING``) when the
session flushes ORM changes, commits or opens a savepoint; a rollback drops the rows
recorded in what it rolled back. ``session.flush()`` with no ORM change pending does not
write them: use :func:`write_event` or :func:`write_event_returning_seq` to write at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.message import Message
from sqlalchemy import CursorResult, Index, String, Table, event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, SessionTransaction, mapped_column

from rcommerce.db.base import BIGSERIAL, Base
from rcommerce.db.database import OUTBOX_WRITTEN
from rcommerce.ids import new_id


class OutboxEvent(Base):
    """One recorded domain event."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_type_seq", "type", "seq"),)

    seq: Mapped[int] = mapped_column(BIGSERIAL, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    #: "<resource>.<past_tense>", for example "product.created".
    type: Mapped[str] = mapped_column(String(100))
    #: Resource name of the subject, for example "products/prod_...".
    subject: Mapped[str] = mapped_column(String(200))
    #: {"object": <proto3 JSON of the resource>, ...extra}
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """What :func:`record_event` appended (``seq`` is assigned when it is written)."""

    id: str
    type: str
    subject: str
    data: dict[str, Any]
    created_at: datetime


#: ``session.info`` key: rows recorded and not written yet, in recording order.
_PENDING = "rcommerce.outbox_pending"

_INSERT = insert(cast(Table, OutboxEvent.__table__))


def _row(type_: str, subject: str, obj: Message, at: datetime, extra: dict[str, Any]) -> dict[str, Any]:
    payload = {"object": json_format.MessageToDict(obj), **extra}
    return {"id": new_id("evt", at), "type": type_, "subject": subject, "data": payload, "created_at": at}


def record_event(
    session: AsyncSession,
    type_: str,
    subject: str,
    obj: Message,
    at: datetime,
    **extra: Any,
) -> RecordedEvent:
    """Append an event to the outbox in ``session``'s transaction and return it.

    The row is written at the session's next flush, commit or savepoint, together with
    the other events waiting; :func:`write_event_returning_seq` writes at once."""
    row = _row(type_, subject, obj, at, extra)
    session.info.setdefault(_PENDING, []).append(row)
    session.info[OUTBOX_WRITTEN] = True
    return RecordedEvent(row["id"], type_, subject, row["data"], at)


async def write_event(
    session: AsyncSession,
    type_: str,
    subject: str,
    obj: Message,
    at: datetime,
    **extra: Any,
) -> str:
    """:func:`record_event`, written at once in one ``INSERT`` with the events still
    waiting (recorded before it, so ``seq`` keeps the recording order); returns the id."""
    row = _row(type_, subject, obj, at, extra)
    waiting: list[dict[str, Any]] = session.info.pop(_PENDING, None) or []
    waiting.append(row)
    await session.execute(_INSERT, waiting)
    session.info[OUTBOX_WRITTEN] = True
    return cast(str, row["id"])


async def write_event_returning_seq(
    session: AsyncSession,
    type_: str,
    subject: str,
    obj: Message,
    at: datetime,
    **extra: Any,
) -> tuple[str, int]:
    """:func:`write_event` for callers that need the event's ``seq`` now: writes the
    waiting events first, then this one alone; returns ``(id, seq)``."""
    waiting: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if waiting:
        await session.execute(_INSERT, waiting)
    row = _row(type_, subject, obj, at, extra)
    result = cast(CursorResult[Any], await session.execute(_INSERT, row))
    session.info[OUTBOX_WRITTEN] = True
    key = result.inserted_primary_key
    assert key is not None  # a single-row INSERT
    return cast(str, row["id"]), int(key[0])


def _write_pending(session: Session, transaction: SessionTransaction | None = None) -> None:
    waiting: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if waiting:
        connection = session.connection() if transaction is None else transaction.connection(None)
        connection.execute(_INSERT, waiting)


@event.listens_for(Session, "before_flush")
def _write_before_flush(session: Session, _context: Any, _instances: Any) -> None:
    _write_pending(session)


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    _write_pending(session)


@event.listens_for(Session, "after_transaction_create")
def _write_before_savepoint(session: Session, transaction: SessionTransaction) -> None:
    # The SAVEPOINT is sent lazily, at the new transaction's first statement: events
    # recorded before it are written on the enclosing transaction now, so rolling the
    # savepoint back cannot take them along.
    if transaction.nested and _PENDING in session.info:
        _write_pending(session, transaction.parent)


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_rollback(session: Session, _previous: SessionTransaction) -> None:
    # Everything still waiting was recorded inside what was rolled back: events recorded
    # before a savepoint were written when it began.
    session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _drop_when_closed(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # commit wrote them; a close without commit drops them
        session.info.pop(_PENDING, None)
