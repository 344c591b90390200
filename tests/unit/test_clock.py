"""The clocks behind every time-dependent rule."""

from __future__ import annotations

from datetime import UTC, datetime

from rcommerce.clock import FrozenClock, PausableClock, SystemClock, as_utc


def test_pausable_clock_stands_still_while_paused_then_follows_real_time() -> None:
    clock = PausableClock()
    with clock.paused():
        first, mono = clock.now(), clock.monotonic()
        SystemClock().now()  # real time moves on ...
        assert (clock.now(), clock.monotonic()) == (first, mono)  # ... the paused clock does not
    assert clock.now() >= first and clock.now().tzinfo is UTC


def test_frozen_clock_moves_only_when_told() -> None:
    clock = FrozenClock(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    clock.advance(minutes=90)
    assert clock.now() == datetime(2026, 3, 29, 2, 0, tzinfo=UTC) and clock.monotonic() == 5400


def test_naive_datetimes_are_taken_as_utc() -> None:
    assert as_utc(datetime(2026, 1, 1, 12)) == datetime(2026, 1, 1, 12, tzinfo=UTC)
