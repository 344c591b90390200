"""Enqueueing jobs and the registry of handlers by kind.

A job is a row in ``jobs`` written in the caller's transaction (DESIGN 7), so the work
exists exactly when the change that caused it was committed.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.db.database import is_unique_violation
from rcommerce.ids import new_id
from rcommerce.jobs.cron import Cron
from rcommerce.jobs.models import QUEUED, JobRow

__all__ = ["Job", "JobHandler", "JobKind", "JobQueue", "RetryAfter", "Schedule", "exponential_backoff"]


@dataclass(frozen=True, slots=True)
class Job:
    """What a handler receives: one claimed attempt of a job."""

    id: str
    kind: str
    payload: dict[str, Any]
    #: 1 on the first attempt.
    attempt: int
    max_attempts: int

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts


JobHandler = Callable[[Job], Awaitable[None]]


class RetryAfter(Exception):
    """Raised by a handler to fail this attempt and choose the delay before the next one,
    overriding the kind's backoff. On the last attempt the job is dead regardless."""

    def __init__(self, delay_s: float, message: str) -> None:
        super().__init__(message)
        self.delay_s = delay_s


def exponential_backoff(
    attempt: int, *, base_s: float = 5.0, cap_s: float = 3600.0, jitter: float = 0.2, rng: random.Random | None = None
) -> float:
    """Delay in seconds after failed attempt ``attempt`` (1-based): ``base_s * 2**(attempt-1)``
    capped at ``cap_s``, then scaled by a random factor in ``[1 - jitter, 1 + jitter]`` so
    workers that failed together do not retry together."""
    delay = min(cap_s, base_s * 2 ** (attempt - 1))
    return float(delay * (rng or random).uniform(1 - jitter, 1 + jitter))


@dataclass(frozen=True, slots=True)
class JobKind:
    """A registered handler and its policy."""

    name: str
    handler: JobHandler
    max_attempts: int = 5
    #: Per-attempt limit, enforced with ``asyncio.timeout``.
    timeout_s: float = 60.0
    #: Seconds to wait after failed attempt n (1-based).
    backoff: Callable[[int], float] = exponential_backoff


@dataclass(frozen=True, slots=True)
class Schedule:
    """A recurring job: ``kind`` is enqueued at every minute matching ``cron`` (UTC).

    Every process may run the scheduler: the dedupe key ``cron:<name>:<slot>`` makes
    each slot's job exist once. After downtime only the latest missed slot runs.
    """

    name: str
    cron: Cron
    kind: str
    payload: dict[str, Any] = field(default_factory=dict)


class JobQueue:
    """Handler registry and :meth:`enqueue`. One per process, shared by workers."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.kinds: dict[str, JobKind] = {}
        self.schedules: list[Schedule] = []

    def register(
        self,
        kind: str,
        handler: JobHandler,
        *,
        max_attempts: int = 5,
        timeout_s: float = 60.0,
        backoff: Callable[[int], float] = exponential_backoff,
    ) -> None:
        """Register the handler of ``kind``; registering a kind twice is an error."""
        if kind in self.kinds:
            raise ValueError(f"job kind {kind!r} is registered twice")
        self.kinds[kind] = JobKind(kind, handler, max_attempts, timeout_s, backoff)

    def schedule(self, name: str, cron: str, kind: str, payload: dict[str, Any] | None = None) -> None:
        """Run ``kind`` at every minute matching the 5-field ``cron`` expression (UTC)."""
        self.schedules.append(Schedule(name, Cron.parse(cron), kind, payload or {}))

    async def enqueue(
        self,
        session: AsyncSession,
        kind: str,
        payload: dict[str, Any],
        run_at: datetime | None = None,
        dedupe_key: str | None = None,
        *,
        max_attempts: int | None = None,
    ) -> str | None:
        """Add a job in ``session``'s transaction (never commits). Returns its id, or
        ``None`` when a job with ``dedupe_key`` already exists (then nothing is written).

        The insert runs in a savepoint so a concurrent duplicate does not abort the
        caller's transaction (PostgreSQL would otherwise refuse every later statement).
        """
        if dedupe_key is not None:
            found = await session.execute(select(JobRow.id).where(JobRow.dedupe_key == dedupe_key))
            if found.first() is not None:
                return None
        now = self.clock.now()
        registered = self.kinds.get(kind)
        row = JobRow(
            id=new_id("job", now),
            kind=kind,
            payload=payload,
            run_at=run_at or now,
            attempts=0,
            max_attempts=max_attempts or (registered.max_attempts if registered else 5),
            state=QUEUED,
            last_error="",
            locked_by=None,
            locked_until=None,
            dedupe_key=dedupe_key,
            created_at=now,
            updated_at=now,
        )
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError as exc:
            if dedupe_key is None or not is_unique_violation(exc):
                raise
            return None
        return row.id

    def delay_after(self, kind: str, attempt: int) -> timedelta:
        registered = self.kinds.get(kind)
        backoff = registered.backoff if registered else exponential_backoff
        return timedelta(seconds=backoff(attempt))
