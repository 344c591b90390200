"""Tables of the orders context.

An order is a snapshot: lines, prices, discounts, tax, shipping and addresses are copied
at placement and never re-read from the catalog or the cart. ``status`` follows
``states.ORDER_TRANSITIONS``; ``payment_status`` and ``fulfillment_status`` are derived
from the facts by ``repository.refresh_statuses``. Tags live in ``order_tags`` (one row
per tag, so listing by tag is an indexed join); ``order_number_counters`` hands out the
human order numbers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = [
    "DraftOrderRow",
    "OrderLineRow",
    "OrderNoteRow",
    "OrderNumberCounterRow",
    "OrderRow",
    "OrderStatusChangeRow",
    "OrderTagRow",
]


class OrderRow(Base):
    """An order. Money columns are minor units of ``currency``."""

    __tablename__ = "orders"
    __table_args__ = (
        Index("ix_orders_customer_id_created_at", "customer_id", "created_at"),
        Index("ix_orders_status_created_at", "status", "created_at"),
    )

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    #: The human order number, "1001"; unique per store.
    number: Mapped[str] = mapped_column(String(20), unique=True)
    #: Numeric form of ``number`` for sorting and range filters.
    number_value: Mapped[int] = mapped_column(BigInteger)
    #: "checkout", "admin" or "draft".
    source: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    payment_status: Mapped[str] = mapped_column(String(30), index=True)
    fulfillment_status: Mapped[str] = mapped_column(String(30), index=True)
    region_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(320), index=True)
    #: The cart the order was placed from ("cart_..."), "" otherwise.
    cart_id: Mapped[str] = mapped_column(String(40), index=True)
    #: common.Address as proto3 JSON (snake_case), or NULL.
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    vat_id: Mapped[str] = mapped_column(String(32))
    prices_include_tax: Mapped[bool]
    reverse_charge_applied: Mapped[bool]
    tax_exempt: Mapped[bool]
    subtotal: Mapped[int]
    discount_total: Mapped[int]
    shipping_total: Mapped[int]
    shipping_discount: Mapped[int]
    item_tax: Mapped[int]
    shipping_tax: Mapped[int]
    tax_total: Mapped[int]
    total: Mapped[int] = mapped_column(BigInteger, index=True)
    #: The shipping choice: stored quote id, provider, service code and display name.
    shipping_quote_id: Mapped[str] = mapped_column(String(40))
    shipping_provider: Mapped[str] = mapped_column(String(100))
    shipping_service: Mapped[str] = mapped_column(String(100))
    shipping_method: Mapped[str] = mapped_column(String(255))
    #: Upper-case coupon codes the order was placed with.
    coupon_codes: Mapped[list[str]]
    #: [{promotion_id, code, title, amount, free_shipping}].
    promotions: Mapped[list[dict[str, Any]]]
    #: Tax by component over lines and shipping: [{name, rate, amount, jurisdiction}].
    tax_lines: Mapped[list[dict[str, Any]]]
    tags: Mapped[list[str]]
    #: Free-form string metadata.
    extra: Mapped[dict[str, Any]]
    customer_note: Mapped[str] = mapped_column(Text)
    ip_address: Mapped[str] = mapped_column(String(45))
    fraud_score: Mapped[int] = mapped_column(Integer)
    fraud_recommendation: Mapped[str] = mapped_column(String(20))
    #: Rule hits "rule[:detail]" and provider reasons.
    fraud_reasons: Mapped[list[str]]
    fraud_provider_score: Mapped[int | None] = mapped_column(Integer)
    #: Why the order is on hold ("fraud_review", "payment_blocked_by_fraud", "manual"), "" otherwise.
    hold_reason: Mapped[str] = mapped_column(String(50))
    cancel_reason: Mapped[str] = mapped_column(String(50))
    cancel_note: Mapped[str] = mapped_column(Text)
    #: Who cancelled: the caller's resource name ("apiKeys/key_...", "customers/cus_...").
    cancelled_by: Mapped[str] = mapped_column(String(100))
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    #: Counts changes; the etag.
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(index=True)


class OrderLineRow(Base):
    """One order line: the snapshot of a cart line with its share of discounts and tax."""

    __tablename__ = "order_lines"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    order_id: Mapped[PrefixedId] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[str] = mapped_column(String(40))
    variant_id: Mapped[str] = mapped_column(String(40), index=True)
    title: Mapped[str] = mapped_column(String(255))
    variant_title: Mapped[str] = mapped_column(String(255))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int]
    original_unit_price: Mapped[int]
    price_list_id: Mapped[str] = mapped_column(String(40))
    subtotal: Mapped[int]
    discount: Mapped[int]
    tax: Mapped[int]
    #: subtotal − discount.
    total: Mapped[int]
    #: [{name, rate, amount, jurisdiction, rate_id}].
    tax_components: Mapped[list[dict[str, Any]]]
    tax_category: Mapped[str] = mapped_column(String(64))
    requires_shipping: Mapped[bool]
    quantity_fulfilled: Mapped[int] = mapped_column(Integer)
    quantity_returned: Mapped[int] = mapped_column(Integer)
    #: The inventory reservations holding this line's units ("rsv_...").
    reservation_ids: Mapped[list[str]]
    #: The cart line it came from ("cli_..."), "" for admin and draft orders.
    source_line_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class OrderNoteRow(Base):
    """A note on an order: internal (staff only) or visible to the customer."""

    __tablename__ = "order_notes"
    __table_args__ = (Index("ix_order_notes_order_id_created_at", "order_id", "created_at"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    order_id: Mapped[PrefixedId] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    customer_visible: Mapped[bool]
    #: Shown name: "System" for system notes.
    author_name: Mapped[str] = mapped_column(String(255))
    #: The author's resource name ("apiKeys/key_..."), "" for system notes.
    author: Mapped[str] = mapped_column(String(100))
    system: Mapped[bool]
    created_at: Mapped[datetime]


class OrderTagRow(Base):
    """One tag of an order (for filtering; ``orders.tags`` keeps the order of tags)."""

    __tablename__ = "order_tags"

    order_id: Mapped[PrefixedId] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class OrderStatusChangeRow(Base):
    """The status history: every transition with its actor and reason."""

    __tablename__ = "order_status_changes"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    order_id: Mapped[PrefixedId] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]


class OrderNumberCounterRow(Base):
    """The last order number handed out, per store ("default")."""

    __tablename__ = "order_number_counters"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class DraftOrderRow(Base):
    """An admin draft order: lines, region, customer and addresses, priced on every read.
    Completing it places a real order (source "draft") and marks the draft completed."""

    __tablename__ = "draft_orders"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    region_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[str] = mapped_column(String(40))
    email: Mapped[str] = mapped_column(String(320))
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    billing_address: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: [{variant: "products/../variants/..", quantity, unit_price (0 = catalog price)}].
    lines: Mapped[list[dict[str, Any]]]
    coupon_codes: Mapped[list[str]]
    #: A custom shipping line: title and amount (minor units).
    shipping_title: Mapped[str] = mapped_column(String(255))
    shipping_amount: Mapped[int]
    tags: Mapped[list[str]]
    extra: Mapped[dict[str, Any]]
    note: Mapped[str] = mapped_column(Text)
    #: "open" or "completed".
    status: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[str] = mapped_column(String(40))
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
