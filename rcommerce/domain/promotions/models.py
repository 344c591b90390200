"""Tables of the promotions context.

A promotion with a ``code`` is a coupon; one without is automatic. ``usage_count`` is the
atomic total counter (``UPDATE ... WHERE usage_count < usage_limit``); the per-customer
counter lives in ``promotion_customer_usages`` and is bumped the same way. Products,
collections, categories, customers and groups belong to other contexts and are stored as
plain ids without foreign keys.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = [
    "PromotionCurrencyRow",
    "PromotionCustomerUsageRow",
    "PromotionEligibilityRow",
    "PromotionRow",
    "PromotionTargetRow",
    "PromotionUsageRow",
]


class PromotionRow(Base):
    """A promotion. ``revision`` counts updates and is the etag."""

    __tablename__ = "promotions"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    #: Upper-cased coupon code; NULL for automatic promotions.
    code: Mapped[str | None] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    #: "percentage" | "fixed_amount" | "free_shipping" | "buy_x_get_y".
    type: Mapped[str] = mapped_column(String(20))
    #: "draft" | "active" | "archived".
    status: Mapped[str] = mapped_column(String(20), index=True)
    #: Percent off (percentage) or percent off the "get" units (buy X get Y); 0-100.
    percent: Mapped[Decimal] = mapped_column(Numeric(9, 6))
    buy_quantity: Mapped[int] = mapped_column(Integer)
    get_quantity: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    usage_limit: Mapped[int | None] = mapped_column(BigInteger)
    usage_limit_per_customer: Mapped[int | None] = mapped_column(BigInteger)
    usage_count: Mapped[int] = mapped_column(BigInteger)
    new_customers_only: Mapped[bool] = mapped_column(Boolean)
    combinable: Mapped[bool] = mapped_column(Boolean)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata")
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class PromotionCurrencyRow(Base):
    """Amounts of a promotion in one currency: fixed amount, percentage cap, minimum subtotal."""

    __tablename__ = "promotion_currencies"

    promotion_id: Mapped[PrefixedId] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"), primary_key=True)
    currency_code: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    max_discount: Mapped[int | None] = mapped_column(BigInteger)
    minimum_subtotal: Mapped[int | None] = mapped_column(BigInteger)


class PromotionTargetRow(Base):
    """A product, collection or category the promotion includes or (``exclude``) excludes."""

    __tablename__ = "promotion_targets"

    promotion_id: Mapped[PrefixedId] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"), primary_key=True)
    #: "product" | "collection" | "category".
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    exclude: Mapped[bool] = mapped_column(Boolean)


class PromotionEligibilityRow(Base):
    """Restricts a promotion to a customer group or a customer; none = everyone."""

    __tablename__ = "promotion_eligibility"

    promotion_id: Mapped[PrefixedId] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"), primary_key=True)
    #: "customer_group" | "customer".
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(40), primary_key=True)


class PromotionUsageRow(Base):
    """One use of a promotion by an order (at most one per promotion and order)."""

    __tablename__ = "promotion_usages"
    __table_args__ = (UniqueConstraint("promotion_id", "order_id"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    promotion_id: Mapped[PrefixedId] = mapped_column(ForeignKey("promotions.id", ondelete="RESTRICT"), index=True)
    customer_id: Mapped[str] = mapped_column(String(40), index=True)
    order_id: Mapped[str] = mapped_column(String(40))
    currency_code: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[datetime]


class PromotionCustomerUsageRow(Base):
    """Per-customer usage counter, bumped atomically under the per-customer limit."""

    __tablename__ = "promotion_customer_usages"

    promotion_id: Mapped[PrefixedId] = mapped_column(ForeignKey("promotions.id", ondelete="CASCADE"), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    usage_count: Mapped[int] = mapped_column(BigInteger)
