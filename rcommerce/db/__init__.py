"""Persistence: SQLAlchemy 2 asyncio on SQLite, PostgreSQL and MySQL/MariaDB, with one
Alembic migration chain for all three."""

from rcommerce.db.base import Base, PrefixedId, UtcDateTime
from rcommerce.db.database import Database, DatabaseBehind, is_unique_violation

__all__ = ["Base", "Database", "DatabaseBehind", "PrefixedId", "UtcDateTime", "is_unique_violation"]
