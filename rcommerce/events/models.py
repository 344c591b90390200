"""Tables of event delivery: dispatcher progress, webhook endpoints and delivery attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import BIGSERIAL, Base, PrefixedId


class EventConsumer(Base):
    """One dispatcher consumer's progress through the outbox.

    Every event with ``seq <= last_seq`` is handled. Events above last_seq that were
    handled out of order (because a lower seq was still uncommitted) are listed in
    :class:`EventConsumerMark`. ``lease_owner``/``lease_until`` make one process at a time
    the active dispatcher for a consumer.
    """

    __tablename__ = "event_consumers"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BIGSERIAL, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    updated_at: Mapped[datetime]


class EventConsumerMark(Base):
    """An event above its consumer's cursor that was already handled."""

    __tablename__ = "event_consumer_marks"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    seq: Mapped[int] = mapped_column(BIGSERIAL, primary_key=True, autoincrement=False)
    #: The event's created_at: old gaps below a mark are given up on (see dispatcher).
    event_created_at: Mapped[datetime]


class WebhookEndpointRow(Base):
    """A receiver of signed event deliveries. ``secret`` is kept in clear because signing
    needs it; it is returned only by create and rotate and never logged."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]]
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(default=False)
    disabled_reason: Mapped[str] = mapped_column(String(500), default="")
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookDeliveryRow(Base):
    """One attempt to deliver one event to one endpoint."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_id_created_at", "endpoint_id", "created_at"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    endpoint_id: Mapped[PrefixedId] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(100))
    attempt: Mapped[int]
    #: "succeeded", "retrying" or "failed".
    status: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int] = mapped_column(default=0)
    request_headers: Mapped[dict[str, Any]]
    request_body: Mapped[str] = mapped_column(Text)
    response_body_excerpt: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(String(1000), default="")
    duration_ms: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    test: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
