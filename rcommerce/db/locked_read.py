"""A parent row read ``FOR UPDATE`` with its child rows, in one statement where the
database can lock the parent's table alone in a join (:func:`locks_one_table_of_join`),
else in two: the order with its lines, the payment with its ledger."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.db.capabilities import locks_one_table_of_join

__all__ = ["LockedWithChildren"]


class LockedWithChildren:
    """Statements built once (compiled form and cache key reused), run with the parent's key.

    ``parent`` (its ``parent_columns``, ``FOR UPDATE``) joined to ``child`` (its
    ``child_columns``, the first of which is never NULL) on ``child.<foreign_key> =
    parent.<key>``, children ordered by ``order_by``.
    """

    def __init__(
        self, parent: Table, parent_columns: Sequence[str], key: str,
        child: Table, child_columns: Sequence[str], foreign_key: str, order_by: str,
    ) -> None:  # fmt: skip
        value: BindParameter[str] = bindparam("key")
        own = [parent.c[name] for name in parent_columns]
        theirs = [child.c[name] for name in child_columns]
        self._width = len(own)
        #: The parent alone, ``FOR UPDATE``.
        self.parent = select(*own).where(parent.c[key] == value).with_for_update()
        #: The children alone, in order (no lock).
        self.children = select(*theirs).where(child.c[foreign_key] == value).order_by(child.c[order_by])
        # MariaDB/MySQL have no FOR UPDATE OF and would lock the children too.
        self._joined = (
            select(*own, *theirs)
            .select_from(parent.outerjoin(child, child.c[foreign_key] == parent.c[key]))
            .where(parent.c[key] == value)
            .order_by(child.c[order_by])
            .with_for_update(of=parent)
        )

    async def read(self, session: AsyncSession, key: str) -> tuple[Sequence[Any], list[Sequence[Any]]] | None:
        """The parent's column values (locked) and its children's, in order; ``None``
        when the parent does not exist."""
        params = {"key": key}
        if not locks_one_table_of_join(session):
            found = (await session.execute(self.parent, params)).first()
            if found is None:
                return None
            return found, list((await session.execute(self.children, params)).all())
        rows = (await session.execute(self._joined, params)).all()
        if not rows:
            return None
        width = self._width
        return rows[0][:width], [row[width:] for row in rows if row[width] is not None]
