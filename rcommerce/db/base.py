"""Declarative base and the column types shared by every context's tables."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, Integer, MetaData, String
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, mapped_column
from sqlalchemy.types import TypeDecorator

from rcommerce.clock import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class _UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC with microseconds on every dialect, read back aware.

    SQLite and MySQL have no time zone in the column, so values are normalised to naive
    UTC on the way in and tagged UTC on the way out.
    """

    impl = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


#: A primary or foreign key holding a prefixed id such as "prod_01JA...".
PrefixedId = Annotated[str, mapped_column(String(40))]
#: An aware UTC timestamp.
UtcDateTime = Annotated[datetime, mapped_column(_UtcDateTime())]
#: Auto-incrementing 64-bit sequence numbers (plain INTEGER on SQLite, which only
#: auto-increments an INTEGER PRIMARY KEY).
BIGSERIAL = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    """Base of every table. Column types come from the ``Mapped[...]`` annotations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: _UtcDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
        list[dict[str, Any]]: JSON(),
        int: BigInteger(),
        str: String(255),
    }
