"""``backlog_pages`` reads a query's rows in key order, a page at a time after the last
row seen: every row once, ties broken by the second key, and rows the caller changes
between pages do not shift the pages after them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Select, delete, select

from rcommerce.db import Database
from rcommerce.db.backlog import backlog_pages
from rcommerce.domain.payments.models import IdempotencyKeyRow
from tests.backends._checkout_world import tag

pytestmark = pytest.mark.backends

T0 = datetime(2026, 1, 1, tzinfo=UTC)


async def _keys(db: Database, created: dict[str, datetime]) -> None:
    async with db.transaction() as s:
        s.add_all(
            IdempotencyKeyRow(
                key=key, operation="Test", request_hash="", state="pending", claimed_at=None, response="",
                error={}, payment_id="", created_at=at,
            )
            for key, at in created.items()
        )  # fmt: skip


ORDER = (IdempotencyKeyRow.created_at, IdempotencyKeyRow.key)


@pytest.fixture
def p() -> str:
    """A prefix of this test's own keys (the database is shared by the tests)."""
    return f"bl-{tag()}-"


def _query(prefix: str) -> Select[str]:
    return select(IdempotencyKeyRow.key).where(IdempotencyKeyRow.key.like(f"{prefix}%"))


async def test_every_row_once_in_key_order_with_ties_broken(db: Database, p: str) -> None:
    # Three rows share a timestamp: a page boundary falls between them.
    second = T0 + timedelta(seconds=1)
    await _keys(
        db, {p + "e": T0, p + "c": second, p + "a": second, p + "b": second, p + "d": second + timedelta(seconds=1)}
    )
    pages = [[row[0] for row in page] async for page in backlog_pages(db, _query(p), ORDER, page_size=2)]
    assert pages == [[p + "e", p + "a"], [p + "b", p + "c"], [p + "d"]]


async def test_rows_removed_between_pages_do_not_shift_the_next_page(db: Database, p: str) -> None:
    await _keys(db, {f"{p}{i}": T0 + timedelta(seconds=i) for i in range(6)})
    seen: list[str] = []
    async for page in backlog_pages(db, _query(p), ORDER, page_size=2):
        keys = [row[0] for row in page]
        seen += keys
        async with db.transaction() as s:  # the caller acts on the page: the rows leave the backlog
            await s.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.key.in_(keys)))
    assert seen == [f"{p}{i}" for i in range(6)]


async def test_an_empty_backlog_yields_no_page(db: Database, p: str) -> None:
    assert [page async for page in backlog_pages(db, _query(p), ORDER)] == []


async def test_page_size_must_be_positive(db: Database, p: str) -> None:
    with pytest.raises(ValueError):
        async for _ in backlog_pages(db, _query(p), ORDER, page_size=0):
            pass
