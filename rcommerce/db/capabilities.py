"""What a session's database can do in one statement, for code that keeps a fallback.

- ``UPDATE ... RETURNING``: PostgreSQL and SQLite (3.35+) answer it, MariaDB/MySQL do
  not, so code that reads what an UPDATE wrote keeps an UPDATE-then-SELECT fallback.
- ``SELECT ... FOR UPDATE OF <table>`` over a join: PostgreSQL locks only that table's
  rows, SQLite locks the whole database anyway (BEGIN IMMEDIATE); MariaDB/MySQL have no
  ``OF`` and would lock the joined rows too, so they read the tables apart.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["locks_one_table_of_join", "update_returning"]

_LOCK_OF_JOIN = frozenset({"postgresql", "sqlite"})


def update_returning(session: AsyncSession) -> bool:
    """True when ``session``'s database supports ``UPDATE ... RETURNING``."""
    return bool(session.get_bind().dialect.update_returning)


def locks_one_table_of_join(session: AsyncSession) -> bool:
    """True when ``session``'s database can lock one table's rows of a joined read."""
    return session.get_bind().dialect.name in _LOCK_OF_JOIN
