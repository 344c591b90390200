"""A 5-field cron expression ("minute hour day-of-month month day-of-week"), UTC.

Supports ``*``, numbers, ranges ``a-b``, lists ``a,b`` and steps ``*/n`` / ``a-b/n``.
Day of week is 0-6 with 0 = Sunday (7 is accepted as Sunday too). As in Vixie cron,
when both day fields are restricted a time matches if either does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_MAX_SCAN = timedelta(days=366 * 5)


def _field(text: str, low: int, high: int) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        body, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"cron step must be positive in {part!r}")
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, b = body.split("-", 1)
            start, end = int(a), int(b)
        else:
            start = end = int(body)
            if step_text:
                end = high
        if high == 6 and end == 7:  # day of week: 7 is Sunday
            values.add(0)
            end = 6
        if not (low <= start <= end <= high):
            raise ValueError(f"cron field {part!r} is outside {low}-{high}")
        values.update(range(start, end + 1, step))
    return frozenset(values)


@dataclass(frozen=True, slots=True)
class Cron:
    """A parsed expression; :meth:`latest` and :meth:`next_after` find matching minutes."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_restricted: bool
    weekday_restricted: bool

    @classmethod
    def parse(cls, expression: str) -> Cron:
        parts = expression.split()
        if len(parts) != 5:
            raise ValueError(f"cron expression {expression!r} needs 5 fields, has {len(parts)}")
        minutes, hours, days, months, weekdays = (_field(p, lo, hi) for p, (lo, hi) in zip(parts, _RANGES, strict=True))
        return cls(
            minutes, hours, days, months, weekdays, day_restricted=parts[2] != "*", weekday_restricted=parts[4] != "*"
        )

    def _day_ok(self, at: datetime) -> bool:
        day_ok = at.day in self.days
        weekday_ok = (at.isoweekday() % 7) in self.weekdays
        if self.day_restricted and self.weekday_restricted:
            return day_ok or weekday_ok
        return day_ok and weekday_ok

    def matches(self, at: datetime) -> bool:
        return at.month in self.months and self._day_ok(at) and at.hour in self.hours and at.minute in self.minutes

    def next_after(self, at: datetime) -> datetime:
        """The first matching minute strictly after ``at``."""
        t = at.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t + _MAX_SCAN
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_ok(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                return t
        raise ValueError("cron expression never matches")

    def latest(self, at: datetime) -> datetime:
        """The last matching minute at or before ``at``."""
        t = at.replace(second=0, microsecond=0)
        limit = t - _MAX_SCAN
        while t > limit:
            if t.month not in self.months:
                t = t.replace(day=1, hour=0, minute=0) - timedelta(minutes=1)
            elif not self._day_ok(t):
                t = t.replace(hour=0, minute=0) - timedelta(minutes=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) - timedelta(minutes=1)
            elif t.minute not in self.minutes:
                t -= timedelta(minutes=1)
            else:
                return t
        raise ValueError("cron expression never matches")
