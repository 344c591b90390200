"""Time source. Every time-dependent rule takes a :class:`Clock` so tests can control time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tells the current time, always timezone-aware UTC."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary point, never going backwards (for durations)."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FrozenClock:
    """A clock that only moves when told to. For tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float = 0, **delta: float) -> None:
        step = timedelta(seconds=seconds, **delta)
        self._now += step
        self._mono += step.total_seconds()


class PausableClock:
    """The real clock, which a test can stop for a while: a live server whose behaviour
    depends on elapsed time (rate limits refill, tokens expire) then behaves the same on a
    slow machine as on a fast one."""

    def __init__(self) -> None:
        self._paused: tuple[datetime, float] | None = None

    def now(self) -> datetime:
        return self._paused[0] if self._paused else datetime.now(UTC)

    def monotonic(self) -> float:
        return self._paused[1] if self._paused else time.monotonic()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Stop time inside the block; it resumes at real time afterwards."""
        self._paused = (datetime.now(UTC), time.monotonic())
        try:
            yield
        finally:
            self._paused = None


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as aware UTC. Naive values (SQLite returns them) are taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
