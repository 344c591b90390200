"""Reading a background job's backlog in pages, in key order, after the last row seen.

A sweep that reads only "the first N rows" of its backlog and then skips some of them
(not due yet, refused, failing) reads the same skipped rows again on its next run and
never reaches the rows behind them. Reading page after page from where the previous page
ended (keyset pagination) lets a sweep walk past what it skips.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Row, Select, SQLColumnExpression, and_, or_

from rcommerce.db.database import Database

__all__ = ["backlog_pages"]


async def backlog_pages(
    db: Database,
    query: Select[*tuple[Any, ...]],
    order: tuple[SQLColumnExpression[Any], SQLColumnExpression[Any]],
    *,
    page_size: int = 100,
) -> AsyncIterator[Sequence[Row[*tuple[Any, ...]]]]:
    """The rows of ``query`` ordered by ``order`` (a sort key and a unique tie-breaker),
    ``page_size`` at a time, each page read in its own short read transaction so the
    caller can act on a page (and commit) before the next is read. Each row carries the
    two ``order`` values as its last two columns."""
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    first, second = order
    paged = query.add_columns(first, second).order_by(first, second).limit(page_size)
    after: tuple[Any, Any] | None = None
    while True:
        statement = paged
        if after is not None:
            statement = paged.where(or_(first > after[0], and_(first == after[0], second > after[1])))
        async with db.read() as s:
            rows = (await s.execute(statement)).all()
        if rows:
            yield rows
        if len(rows) < page_size:
            return
        after = (rows[-1][-2], rows[-1][-1])
