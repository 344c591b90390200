"""Positions in the event stream and the opaque cursors that carry them (DECISIONS 24).

``seq`` is allocated when an outbox row is inserted, not when its transaction commits:
on PostgreSQL and MySQL seq 10 can become visible after seq 11, and a rolled-back
insert leaves a hole forever. One "last seq" cannot say "11 was delivered, 10 was not
yet", so a :class:`Position` is a contiguous *frontier* ``F`` (every seq <= F was
delivered or given up on as a hole) plus a few sorted *seen* ranges above ``F + 1``
that were delivered already. Reading after a position means ``seq > F`` outside those
ranges: a lower seq that commits late is read then, exactly once.

A cursor is base64url (no padding) of ``seq:F`` or ``seq:F+a-b,c-d``, for example
``seq:9+11-15,18-18``. The old ``seq:N`` cursors are the positions without ranges.
Only the canonical text the encoder writes decodes; anything else is INVALID_CURSOR.

Bound: a position keeps at most :data:`MAX_RANGES` ranges, so a cursor stays under
~1.7 kB (it travels as an SSE ``Last-Event-ID`` header). Each range needs a hole below
it, that is a transaction still open (or rolled back less than the grace period ago)
with events allocated below ones already delivered; when more than
:data:`MAX_RANGES` such holes are open at once, the lowest are given up early, and an
event committing into one of those later is not delivered to this reader.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from rcommerce.domain.events.errors import INVALID_CURSOR
from rcommerce.errors import FieldViolation, RequestError

MAX_RANGES = 32
_MAX_DIGITS = 18  # any such number fits a signed 64-bit seq
_PREFIX = "seq:"
_NUMBER = f"[0-9]{{1,{_MAX_DIGITS}}}"
_RANGE = f"{_NUMBER}-{_NUMBER}"
_TEXT = re.compile(rf"{_PREFIX}({_NUMBER})(?:\+({_RANGE}(?:,{_RANGE})*))?")
_MAX_TEXT_CHARS = len(_PREFIX) + _MAX_DIGITS + MAX_RANGES * (2 * _MAX_DIGITS + 2)
_MAX_CURSOR_CHARS = -(-_MAX_TEXT_CHARS // 3) * 4

#: Inclusive ``(first, last)`` seqs.
SeqRange = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Position:
    """Where a reader of the outbox stands (see the module doc). Build positions with
    :func:`normalized` or the methods, which keep the ranges canonical: sorted,
    disjoint, non-adjacent, the first starting above ``frontier + 1``."""

    frontier: int = 0
    seen: tuple[SeqRange, ...] = ()

    def covers(self, seq: int) -> bool:
        """Whether the row ``seq`` was delivered (or given up on) already."""
        return seq <= self.frontier or any(first <= seq <= last for first, last in self.seen)

    def after_examining(self, seq: int) -> Position:
        """This position once row ``seq`` was read, whether delivered or filtered out."""
        if self.covers(seq):
            return self
        return normalized(self.frontier, (*self.seen, (seq, seq)))

    def past_first_hole(self) -> Position:
        """Give up the hole just above the frontier: it moves to the end of the first range."""
        if not self.seen:
            return self
        return Position(self.seen[0][1], self.seen[1:])


def normalized(frontier: int, ranges: Iterable[SeqRange]) -> Position:
    """The canonical position of ``frontier`` and ``ranges`` (in any order, each
    ``first <= last``): ranges merged, the frontier moved over every range that reaches
    ``frontier + 1``, and at most :data:`MAX_RANGES` ranges kept by giving up the lowest
    holes."""
    merged = _merged(sorted(r for r in ranges if r[1] > frontier))
    return _bounded(_advanced(frontier, merged))


def _merged(ranges: list[SeqRange]) -> list[SeqRange]:
    """Sorted ranges with overlapping and adjacent ones joined."""
    out: list[SeqRange] = []
    for first, last in ranges:
        if out and first <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out


def _advanced(frontier: int, ranges: list[SeqRange]) -> Position:
    """Move the frontier over the leading ranges that touch it (no hole between)."""
    index = 0
    while index < len(ranges) and ranges[index][0] <= frontier + 1:
        frontier = max(frontier, ranges[index][1])
        index += 1
    return Position(frontier, tuple(ranges[index:]))


def _bounded(position: Position) -> Position:
    """Give up the lowest holes until at most MAX_RANGES ranges remain (module doc)."""
    while len(position.seen) > MAX_RANGES:
        position = position.past_first_hole()
    return position


def expire_hole(position: Position, start_created_at: datetime | None, deadline: datetime) -> Position:
    """``position`` with the hole just above its frontier given up when the event at the
    start of the first seen range was created at or before ``deadline``: the hole's seqs
    were allocated before that event was written, so their transaction has been open
    longer than the grace period and has almost surely rolled back. ``None`` (that row
    no longer exists) gives the hole up too: there is nothing left to wait beside."""
    if not position.seen or (start_created_at is not None and start_created_at > deadline):
        return position
    return position.past_first_hole()


def encode_cursor(position: Position) -> str:
    """The opaque cursor of ``position``."""
    text = f"{_PREFIX}{position.frontier}"
    if position.seen:
        text += "+" + ",".join(f"{first}-{last}" for first, last in position.seen)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "cursor") -> Position:
    """The position of ``cursor``; the start for an empty cursor. Raises INVALID_CURSOR
    for anything :func:`encode_cursor` did not write."""
    if not cursor:
        return Position()
    position = _parsed(_text_of(cursor)) if len(cursor) <= _MAX_CURSOR_CHARS else None
    if position is None or not _canonical(position) or encode_cursor(position) != cursor.rstrip("="):
        raise RequestError(
            INVALID_CURSOR,
            f"{field} is not an event cursor issued by this server.",
            violations=[FieldViolation(field, "not an event cursor")],
            field=field,
        )
    return position


def _text_of(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return ""


def _parsed(text: str) -> Position | None:
    match = _TEXT.fullmatch(text)
    if match is None:
        return None
    frontier, ranges = match.groups()
    return Position(int(frontier), tuple(_range(part) for part in ranges.split(",")) if ranges else ())


def _range(text: str) -> SeqRange:
    first, _, last = text.partition("-")
    return int(first), int(last)


def _canonical(position: Position) -> bool:
    """Whether the ranges are what :func:`normalized` keeps, so the encoder wrote them."""
    ordered = all(first <= last for first, last in position.seen)
    return ordered and normalized(position.frontier, position.seen) == position
