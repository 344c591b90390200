"""Tables of the price lists context.

A price list holds prices (variant, currency, amount) that replace a variant's base
price while the list is active and inside its validity window, optionally only for some
customer groups. Customer groups belong to the customers context; their ids are stored
as plain strings without a foreign key so the two contexts stay independent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = ["PriceListCustomerGroupRow", "PriceListPriceRow", "PriceListRow"]


class PriceListRow(Base):
    """A price list. ``revision`` counts updates and is the etag."""

    __tablename__ = "price_lists"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    #: "sale" or "override".
    type: Mapped[str] = mapped_column(String(20))
    #: "draft" or "active".
    status: Mapped[str] = mapped_column(String(20), index=True)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    extra: Mapped[dict[str, Any]] = mapped_column("metadata")
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class PriceListPriceRow(Base):
    """One price of a list: minor units of ``currency_code`` for one variant."""

    __tablename__ = "price_list_prices"
    __table_args__ = (Index("ix_price_list_prices_variant_id_currency_code", "variant_id", "currency_code"),)

    price_list_id: Mapped[PrefixedId] = mapped_column(
        ForeignKey("price_lists.id", ondelete="CASCADE"), primary_key=True
    )
    variant_id: Mapped[PrefixedId] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    currency_code: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class PriceListCustomerGroupRow(Base):
    """Restricts a price list to a customer group; a list without rows is for everyone."""

    __tablename__ = "price_list_customer_groups"

    price_list_id: Mapped[PrefixedId] = mapped_column(
        ForeignKey("price_lists.id", ondelete="CASCADE"), primary_key=True
    )
    customer_group_id: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)
