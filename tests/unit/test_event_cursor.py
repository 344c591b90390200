"""Event stream positions and cursors (rcommerce.events.cursor): the canonical cursor
text, strict decoding, and the rules that move a position (merge, frontier advance,
giving up holes after the grace period, the bound on ranges)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from rcommerce.errors import RequestError
from rcommerce.events.cursor import (
    MAX_RANGES,
    Position,
    decode_cursor,
    encode_cursor,
    expire_hole,
    normalized,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _text(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def _reason(cursor: str) -> str:
    with pytest.raises(RequestError) as err:
        decode_cursor(cursor, "page_token")
    assert err.value.metadata["field"] == "page_token"
    return err.value.reason.name


def _examined(position: Position, *seqs: int) -> Position:
    for seq in seqs:
        position = position.after_examining(seq)
    return position


# --- encoding -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "position",
    [
        Position(),
        Position(9),
        Position(9, ((11, 15), (18, 18))),
        Position(0, ((2, 2),)),
        Position(10**18 - 3, ((10**18 - 1, 10**18 - 1),)),
        Position(0, tuple((3 * i + 2, 3 * i + 3) for i in range(MAX_RANGES))),
    ],
)
def test_cursors_round_trip(position: Position) -> None:
    assert decode_cursor(encode_cursor(position)) == position


def test_the_cursor_text_is_the_frontier_then_the_seen_ranges() -> None:
    assert _text(encode_cursor(Position(9))) == "seq:9"
    assert _text(encode_cursor(Position(9, ((11, 15), (18, 18))))) == "seq:9+11-15,18-18"
    assert "=" not in encode_cursor(Position(9, ((11, 15),)))


def test_old_cursors_still_decode_as_a_frontier_without_ranges() -> None:
    assert decode_cursor("c2VxOjk") == Position(9)  # base64url("seq:9"), as issued before
    assert decode_cursor(_b64("seq:123456")) == Position(123456)


def test_an_empty_cursor_is_the_start() -> None:
    assert decode_cursor("") == Position()


@pytest.mark.parametrize(
    "text",
    [
        "seq:x",
        "seq:-1",
        "foo:1",
        "seq:",
        "seq:9+",
        "seq:9+11",
        "seq:9+11-15,",
        "seq:09",  # leading zero
        "seq:9+011-15",
        "seq: 9",
        "seq:9 ",
        "seq:9\n",
        "seq:9+15-11",  # reversed
        "seq:9+18-18,11-15",  # unsorted
        "seq:9+11-15,14-18",  # overlapping
        "seq:9+11-15,16-18",  # adjacent: one range
        "seq:9+10-12",  # starts at frontier + 1: the frontier would cover it
        "seq:9+5-12",  # below the frontier
        "seq:9+11-11,11-11",
        "seq:1234567890123456789",  # 19 digits
        "seq:1+3-1234567890123456789",
        "seq:0+" + ",".join(f"{3 * i + 2}-{3 * i + 3}" for i in range(MAX_RANGES + 1)),
    ],
)
def test_non_canonical_cursor_text_is_refused(text: str) -> None:
    assert _reason(_b64(text)) == "INVALID_CURSOR"


@pytest.mark.parametrize("cursor", ["bogus", "c2VxOjk==x", "c2VxOjk!", "c2Vx Ojk", "\u0663", "A" * 5000])
def test_junk_is_refused(cursor: str) -> None:
    assert _reason(cursor) == "INVALID_CURSOR"


def test_trailing_padding_is_tolerated_as_before() -> None:
    assert decode_cursor("c2VxOjk=") == Position(9)


# --- moving a position --------------------------------------------------------------


def test_contiguous_rows_move_the_frontier() -> None:
    assert _examined(Position(), 1, 2, 3) == Position(3)


def test_a_row_above_a_hole_is_kept_as_a_range() -> None:
    assert _examined(Position(9), 11) == Position(9, ((11, 11),))
    assert _examined(Position(9), 11, 12, 13, 18) == Position(9, ((11, 13), (18, 18)))


def test_filling_a_hole_merges_ranges_and_advances_the_frontier() -> None:
    position = _examined(Position(9), 11, 12, 14, 15)
    assert position == Position(9, ((11, 12), (14, 15)))
    assert position.after_examining(13) == Position(9, ((11, 15),))
    assert position.after_examining(13).after_examining(10) == Position(15)
    assert position.after_examining(10) == Position(12, ((14, 15),))


def test_covered_rows_leave_the_position_unchanged() -> None:
    position = Position(9, ((11, 12),))
    assert position.after_examining(5) is position
    assert position.after_examining(12) is position
    assert position.covers(9) and position.covers(11) and not position.covers(10) and not position.covers(13)


def test_normalized_sorts_merges_clips_and_advances() -> None:
    assert normalized(5, [(20, 21), (8, 9), (10, 12), (3, 4), (4, 7), (22, 22)]) == Position(12, ((20, 22),))
    assert normalized(5, [(2, 9)]) == Position(9)
    assert normalized(5, [(9, 9), (7, 8)]) == Position(5, ((7, 9),))


def test_giving_up_the_first_hole_moves_the_frontier_to_the_end_of_the_first_range() -> None:
    position = Position(9, ((11, 15), (18, 18)))
    assert position.past_first_hole() == Position(15, ((18, 18),))
    assert position.past_first_hole().past_first_hole() == Position(18)
    assert Position(4).past_first_hole() == Position(4)


def test_a_hole_is_given_up_only_once_the_event_above_it_is_older_than_the_grace() -> None:
    position = Position(9, ((11, 15),))
    grace = timedelta(seconds=60)
    created = NOW - grace
    assert expire_hole(position, created, NOW - grace - timedelta(microseconds=1)) == position
    assert expire_hole(position, created, NOW - grace) == Position(15)
    assert expire_hole(position, created + timedelta(seconds=1), NOW - grace) == position


def test_a_hole_whose_upper_row_is_gone_is_given_up() -> None:
    assert expire_hole(Position(9, ((11, 15),)), None, NOW) == Position(15)


def test_without_ranges_there_is_no_hole_to_give_up() -> None:
    assert expire_hole(Position(9), NOW - timedelta(days=1), NOW) == Position(9)


def test_ranges_are_bounded_by_giving_up_the_lowest_holes() -> None:
    position = _examined(Position(), *(2 * i for i in range(1, MAX_RANGES + 1)))  # 2, 4, ..., one hole below each
    assert len(position.seen) == MAX_RANGES and position.frontier == 0
    more = position.after_examining(2 * MAX_RANGES + 2)
    assert len(more.seen) == MAX_RANGES
    assert more.frontier == 2 and more.seen[0] == (4, 4) and more.seen[-1] == (2 * MAX_RANGES + 2,) * 2
    far = normalized(0, [(3 * i + 2, 3 * i + 2) for i in range(MAX_RANGES + 3)])
    assert len(far.seen) == MAX_RANGES and far.frontier == 3 * 2 + 2
    assert decode_cursor(encode_cursor(far)) == far
