"""The ``jobs`` table: scheduled background work claimed by any number of workers (DESIGN 7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

#: Job states. ``running`` rows whose ``locked_until`` passed are reclaimed (a worker died).
QUEUED, RUNNING, SUCCEEDED, DEAD, CANCELLED = "queued", "running", "succeeded", "dead", "cancelled"
STATES = (QUEUED, RUNNING, SUCCEEDED, DEAD, CANCELLED)


class JobRow(Base):
    """One job. ``dedupe_key`` is unique when set: enqueueing the same key twice is a no-op."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_state_run_at", "state", "run_at"), Index("ix_jobs_kind", "kind"))

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]]
    run_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int]
    state: Mapped[str] = mapped_column(String(20))
    last_error: Mapped[str] = mapped_column(Text, default="")
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
