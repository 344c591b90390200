"""Tables of notifications: template overrides, rules and sent/queued notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = ["NotificationRow", "NotificationRuleRow", "NotificationTemplateRow"]


class NotificationTemplateRow(Base):
    """A template saved through the API; it overrides the directory and built-in one."""

    __tablename__ = "notification_templates"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    subject: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text, default="")
    #: Variables the template is rendered with (checked on save).
    variables: Mapped[list[str]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NotificationRuleRow(Base):
    """When an event of ``event_type`` commits, render ``template`` and send it through
    ``channel`` to ``recipient`` (itself a template over the event's variables)."""

    __tablename__ = "notification_rules"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    #: Exact ("order.placed"), resource wildcard ("order.*") or "*".
    event_type: Mapped[str] = mapped_column(String(100))
    template: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(50))
    recipient: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime]


class NotificationRow(Base):
    """One message to one recipient through one channel, and what became of it."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_status_created_at", "status", "created_at"),
        Index("ix_notifications_channel_created_at", "channel", "created_at"),
    )

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(50))
    recipient: Mapped[str] = mapped_column(String(500))
    template: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text, default="")
    #: "queued", "sent", "failed", "cancelled" or "skipped" (the recipient's preferences
    #: opted out; ``last_error`` says why; never sent or retried).
    status: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    message_id: Mapped[str] = mapped_column(String(200), default="")
    event_id: Mapped[str] = mapped_column(String(40), default="")
    rule_id: Mapped[str] = mapped_column(String(40), default="")
    #: "<rule>:<event>" for rule-made notifications, so a redelivered event adds nothing.
    dedupe_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
