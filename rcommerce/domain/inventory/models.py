"""Tables of the inventory context.

Levels are the source of truth for stock: one row per variant per location with
``on_hand`` and ``reserved`` (available = on_hand - reserved, DECISIONS 11). The catalog's
``variants.inventory_quantity`` is a denormalised copy of the total ``on_hand`` over all
locations, written in the same transaction as every level change. Every change of
``on_hand`` writes a movement (the ledger); reservations hold stock for orders and carts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = [
    "InventoryItemRow",
    "InventoryLevelRow",
    "ReservationRow",
    "StockAlertRow",
    "StockLocationRow",
    "StockMovementRow",
]


class StockLocationRow(Base):
    """A place stock is kept. Exactly one location is the default (``is_default``)."""

    __tablename__ = "stock_locations"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    code: Mapped[str] = mapped_column(String(64), unique=True)
    #: {"line1", "city", "postal_code", "country_code", ...}
    address: Mapped[dict[str, Any]]
    is_active: Mapped[bool]
    is_default: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InventoryLevelRow(Base):
    """Stock of one variant at one location. Changed only by atomic conditional UPDATEs."""

    __tablename__ = "inventory_levels"

    variant_id: Mapped[PrefixedId] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    location_id: Mapped[PrefixedId] = mapped_column(
        ForeignKey("stock_locations.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    product_id: Mapped[PrefixedId] = mapped_column(index=True)
    on_hand: Mapped[int] = mapped_column(BigInteger)
    reserved: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InventoryItemRow(Base):
    """Per-variant inventory state: the last stock status, so alerts fire on a change of
    level only (never on every write)."""

    __tablename__ = "inventory_items"

    variant_id: Mapped[PrefixedId] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    product_id: Mapped[PrefixedId] = mapped_column(index=True)
    #: "in_stock", "low", "critical" or "out_of_stock".
    stock_status: Mapped[str] = mapped_column(String(20), index=True)
    updated_at: Mapped[datetime]


class StockMovementRow(Base):
    """One change of ``on_hand`` at one location: the ledger."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_variant_id_created_at", "variant_id", "created_at"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    variant_id: Mapped[PrefixedId]
    product_id: Mapped[PrefixedId] = mapped_column(index=True)
    location_id: Mapped[PrefixedId] = mapped_column(index=True)
    #: "adjustment", "set", "receipt", "transfer_in", "transfer_out" or "sale".
    movement_type: Mapped[str] = mapped_column(String(20), index=True)
    #: damaged, lost, found, count, return, other, received, transfer, fulfilled.
    reason: Mapped[str] = mapped_column(String(20))
    #: Signed change of on_hand.
    quantity: Mapped[int] = mapped_column(BigInteger)
    quantity_before: Mapped[int] = mapped_column(BigInteger)
    quantity_after: Mapped[int] = mapped_column(BigInteger)
    #: Minor units per unit (receipts); 0 when unknown.
    cost_per_unit: Mapped[int] = mapped_column(BigInteger)
    currency_code: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(255), index=True)
    notes: Mapped[str] = mapped_column(Text)
    #: Subject of the principal who made the change ("apiKeys/...", "system").
    actor: Mapped[str] = mapped_column(String(200))
    #: Links the two movements of one transfer.
    transfer_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(index=True)


class ReservationRow(Base):
    """Stock held at one location for a reference (an order, a cart)."""

    __tablename__ = "stock_reservations"
    __table_args__ = (Index("ix_stock_reservations_status_expires_at", "status", "expires_at"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    variant_id: Mapped[PrefixedId] = mapped_column(index=True)
    product_id: Mapped[PrefixedId]
    location_id: Mapped[PrefixedId]
    #: Units still held (partial conversions lower it).
    quantity: Mapped[int] = mapped_column(BigInteger)
    #: Units converted into sales so far.
    converted_quantity: Mapped[int] = mapped_column(BigInteger)
    #: "orders/ord_...", "carts/cart_..." or any caller's reference.
    reference: Mapped[str] = mapped_column(String(255), index=True)
    #: "active", "released", "expired" or "converted".
    status: Mapped[str] = mapped_column(String(20))
    #: Why it ended: order_cancelled, order_expired, manual_release, order_completed.
    reason: Mapped[str] = mapped_column(String(40))
    #: "deny" or "continue": the policy it was taken under.
    policy: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class StockAlertRow(Base):
    """A low, critical or out-of-stock alert for a variant, acknowledged once."""

    __tablename__ = "stock_alerts"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    variant_id: Mapped[PrefixedId] = mapped_column(index=True)
    product_id: Mapped[PrefixedId]
    #: "low", "critical" or "out_of_stock".
    alert_level: Mapped[str] = mapped_column(String(20), index=True)
    current_stock: Mapped[int] = mapped_column(BigInteger)
    threshold: Mapped[int] = mapped_column(BigInteger)
    recommended_reorder_quantity: Mapped[int] = mapped_column(BigInteger)
    acknowledged: Mapped[bool] = mapped_column(index=True)
    acknowledged_by: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime | None]
    notes: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
