"""Tables of the carts context.

A cart belongs to a region (its currency) and either to a customer or to whoever holds
its secret token, stored as a SHA-256 hash. Addresses and coupon codes are JSON on the
cart row: nothing filters on them. A cart has at most one line per variant (unique
``cart_id, variant_id``), so adding a variant twice adds to the line.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = ["CartLineRow", "CartRow"]


#: The stored values of ``CartRow.status``; "expired" is derived from ``expires_at``.
ACTIVE, CONVERTED = "active", "converted"


class CartRow(Base):
    """A cart. ``version`` counts changes (it guards concurrent writers)."""

    __tablename__ = "carts"
    __table_args__ = (Index("ix_carts_customer_id_status", "customer_id", "status"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    region_id: Mapped[str] = mapped_column(String(40))
    currency_code: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[str | None] = mapped_column(String(40))
    #: SHA-256 hex of the guest cart token; NULL for customer carts.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    #: common.Address as proto3 JSON, or NULL.
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    vat_id: Mapped[str] = mapped_column(String(32))
    #: Upper-case coupon codes in the order applied.
    coupon_codes: Mapped[list[str]]
    #: The selected shipping quote ("shq_..."), or NULL.
    shipping_quote_id: Mapped[str | None] = mapped_column(String(40))
    #: ACTIVE or CONVERTED; "expired" is derived from ``expires_at``.
    status: Mapped[str] = mapped_column(String(20))
    #: The order the cart became, or the cart it was merged into.
    converted_to: Mapped[str | None] = mapped_column(String(40))
    expires_at: Mapped[datetime] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CartLineRow(Base):
    """A line: one variant with the price snapshot taken when it was added."""

    __tablename__ = "cart_lines"
    __table_args__ = (UniqueConstraint("cart_id", "variant_id", name="uq_cart_lines_cart_id_variant_id"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    cart_id: Mapped[PrefixedId] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"))
    product_id: Mapped[str] = mapped_column(String(40))
    variant_id: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(255))
    variant_title: Mapped[str] = mapped_column(String(255))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    original_unit_price: Mapped[int] = mapped_column(BigInteger)
    price_list_id: Mapped[str] = mapped_column(String(40))
    requires_shipping: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
