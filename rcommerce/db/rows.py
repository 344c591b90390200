"""Rows written once and never changed in their transaction, inserted without the unit
of work.

:func:`insert_rows` sends mapped objects built in memory as one Core ``INSERT`` of their
table (an executemany for several), which costs far less than adding them to the
session and flushing. The objects stay transient: the session does not know them, so
code that changes them later in the transaction, or that needs database-generated
keys back, must add them to the session instead. Columns an object leaves unset get
their column defaults, as the unit of work would give them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sqlalchemy import Table, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.db.base import Base

__all__ = ["insert_rows"]


@cache
def _columns(model: type[Base]) -> tuple[Table, tuple[tuple[str, str], ...]]:
    """The model's table and its (attribute name, column key) pairs."""
    mapper = inspect(model)
    table = mapper.local_table
    assert isinstance(table, Table)
    pairs = tuple((prop.key, prop.columns[0].key) for prop in mapper.column_attrs)
    return table, pairs


async def insert_rows(session: AsyncSession, rows: Sequence[Base]) -> None:
    """INSERT ``rows`` (objects of one mapped class) in the session's transaction."""
    if not rows:
        return
    table, pairs = _columns(type(rows[0]))
    values = []
    for row in rows:
        loaded = vars(row)
        values.append({column: loaded[attr] for attr, column in pairs if attr in loaded})
    await session.execute(insert(table), values[0] if len(values) == 1 else values)
