"""Tables of the fulfilment context.

``fulfillments`` / ``fulfillment_lines``: units of order lines sent from a stock location,
with tracking; each line records where its stock was taken (``stock``: the converted
reservations per location) so a cancel can put it back. ``order_refunds`` /
``order_refund_lines``: money returned on an order, split over its payments; a refund is
``pending`` between claiming its idempotency key and the gateways' answers.
``order_changes`` / ``order_change_lines``: returns, exchanges and claims (one model).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = [
    "FulfillmentLineRow",
    "FulfillmentRow",
    "OrderChangeLineRow",
    "OrderChangeRow",
    "OrderRefundLineRow",
    "OrderRefundRow",
]


class FulfillmentRow(Base):
    """Units of an order sent from one location: pending → shipped → delivered, or cancelled."""

    __tablename__ = "fulfillments"
    __table_args__ = (Index("ix_fulfillments_order_id_created_at", "order_id", "created_at"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    order_id: Mapped[PrefixedId] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    location_id: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20))
    tracking_number: Mapped[str] = mapped_column(String(255))
    carrier: Mapped[str] = mapped_column(String(100))
    tracking_url: Mapped[str] = mapped_column(String(2048))
    cancel_reason: Mapped[str] = mapped_column(String(255))
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class FulfillmentLineRow(Base):
    """Units of one order line in a fulfilment."""

    __tablename__ = "fulfillment_lines"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    fulfillment_id: Mapped[PrefixedId] = mapped_column(ForeignKey("fulfillments.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[str] = mapped_column(String(40))
    variant_id: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    #: Stock taken: [{"location_id", "quantity"}] per converted reservation part.
    stock: Mapped[list[dict[str, Any]]]


class OrderRefundRow(Base):
    """Money given back on an order. ``status``: pending (gateways being called) or
    succeeded. ``payments``: {payment id: amount}."""

    __tablename__ = "order_refunds"
    __table_args__ = (Index("ix_order_refunds_order_id_created_at", "order_id", "created_at"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    order_id: Mapped[PrefixedId] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    #: The caller's idempotency key; a replay returns this refund.
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    #: SHA-256 of the request without its key: the same key with another request is refused.
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(String(50))
    note: Mapped[str] = mapped_column(Text)
    payments: Mapped[dict[str, Any]]
    restock: Mapped[bool]
    location_id: Mapped[str] = mapped_column(String(40))
    #: The return or claim it settles ("och_..."), "" otherwise.
    change_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderRefundLineRow(Base):
    __tablename__ = "order_refund_lines"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    refund_id: Mapped[PrefixedId] = mapped_column(ForeignKey("order_refunds.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[str] = mapped_column(String(40), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int]
    restocked: Mapped[bool]


class OrderChangeRow(Base):
    """A return, exchange or claim: requested → received → processed, or cancelled."""

    __tablename__ = "order_changes"
    __table_args__ = (Index("ix_order_changes_order_id_created_at", "order_id", "created_at"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    order_id: Mapped[PrefixedId] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    #: "refund" or "replace".
    resolution: Mapped[str] = mapped_column(String(20))
    receive_items: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text)
    #: [{"variant_id", "product_id", "quantity"}] sent instead (exchange, claim replace).
    replacements: Mapped[list[dict[str, Any]]]
    refund_amount: Mapped[int]
    refunded_amount: Mapped[int]
    restocked: Mapped[bool]
    location_id: Mapped[str] = mapped_column(String(40))
    cancel_reason: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderChangeLineRow(Base):
    __tablename__ = "order_change_lines"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    change_id: Mapped[PrefixedId] = mapped_column(ForeignKey("order_changes.id", ondelete="CASCADE"), index=True)
    line_id: Mapped[str] = mapped_column(String(40))
    variant_id: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text)
    refund_amount: Mapped[int]
