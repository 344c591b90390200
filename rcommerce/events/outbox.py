"""The outbox table and the one function domain services call to append an event.

An event is written in the caller's transaction, so it exists exactly when the change
it describes was committed (DESIGN 7). Delivery (dispatcher, webhooks, plugin hooks)
reads this table after commit. ``seq`` orders events; ``id`` ("evt_...") is what
receivers dedupe on. The payload is the proto3 JSON of the changed resource, the same
schema as the API (DECISIONS 19: ``data.object``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from sqlalchemy import Index, String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

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


def record_event(
    session: AsyncSession,
    type_: str,
    subject: str,
    obj: Message,
    at: datetime,
    **extra: Any,
) -> OutboxEvent:
    """Append an event to the outbox in ``session``'s transaction and return it."""
    payload = {"object": json_format.MessageToDict(obj), **extra}
    event = OutboxEvent(id=new_id("evt", at), type=type_, subject=subject, data=payload, created_at=at)
    session.add(event)
    session.info[OUTBOX_WRITTEN] = True
    return event
