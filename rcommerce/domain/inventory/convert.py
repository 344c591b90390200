"""Rows to protos and back for the inventory context. No I/O and no rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rcommerce.domain.inventory.levels import CRITICAL, IN_STOCK, LOW, OUT_OF_STOCK
from rcommerce.domain.inventory.models import ReservationRow, StockAlertRow, StockLocationRow, StockMovementRow
from rcommerce.gen.v1 import catalog_pb2, common_pb2, inventory_pb2
from rcommerce.names import variant_name
from rcommerce.timestamps import to_timestamp

STATUS_TO_PROTO = {
    IN_STOCK: inventory_pb2.STOCK_STATUS_IN_STOCK,
    LOW: inventory_pb2.STOCK_STATUS_LOW,
    CRITICAL: inventory_pb2.STOCK_STATUS_CRITICAL,
    OUT_OF_STOCK: inventory_pb2.STOCK_STATUS_OUT_OF_STOCK,
}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}
ALERT_TO_PROTO = {
    LOW: inventory_pb2.ALERT_LEVEL_LOW,
    CRITICAL: inventory_pb2.ALERT_LEVEL_CRITICAL,
    OUT_OF_STOCK: inventory_pb2.ALERT_LEVEL_OUT_OF_STOCK,
}
ALERT_FROM_PROTO = {v: k for k, v in ALERT_TO_PROTO.items()}
MOVEMENT_TO_PROTO = {
    "adjustment": inventory_pb2.MOVEMENT_TYPE_ADJUSTMENT,
    "set": inventory_pb2.MOVEMENT_TYPE_SET,
    "receipt": inventory_pb2.MOVEMENT_TYPE_RECEIPT,
    "transfer_in": inventory_pb2.MOVEMENT_TYPE_TRANSFER_IN,
    "transfer_out": inventory_pb2.MOVEMENT_TYPE_TRANSFER_OUT,
    "sale": inventory_pb2.MOVEMENT_TYPE_SALE,
}
MOVEMENT_FROM_PROTO = {v: k for k, v in MOVEMENT_TO_PROTO.items()}
RESERVATION_TO_PROTO = {
    "active": inventory_pb2.RESERVATION_STATUS_ACTIVE,
    "released": inventory_pb2.RESERVATION_STATUS_RELEASED,
    "expired": inventory_pb2.RESERVATION_STATUS_EXPIRED,
    "converted": inventory_pb2.RESERVATION_STATUS_CONVERTED,
}
RESERVATION_FROM_PROTO = {v: k for k, v in RESERVATION_TO_PROTO.items()}
POLICY_TO_PROTO = {"deny": catalog_pb2.INVENTORY_POLICY_DENY, "continue": catalog_pb2.INVENTORY_POLICY_CONTINUE}


def location_name(location_id: str) -> str:
    return f"stockLocations/{location_id}"


def reservation_name(reservation_id: str) -> str:
    return f"reservations/{reservation_id}"


def alert_name(alert_id: str) -> str:
    return f"stockAlerts/{alert_id}"


def inventory_name(product_id: str, variant_id: str) -> str:
    return f"{variant_name(product_id, variant_id)}/inventory"


_ADDRESS_FIELDS = tuple(f.name for f in common_pb2.Address.DESCRIPTOR.fields)


def address_to_db(address: common_pb2.Address) -> dict[str, Any]:
    return {name: getattr(address, name) for name in _ADDRESS_FIELDS if getattr(address, name)}


def location_to_proto(row: StockLocationRow) -> inventory_pb2.StockLocation:
    return inventory_pb2.StockLocation(
        name=location_name(row.id),
        id=row.id,
        display_name=row.name,
        code=row.code,
        address=common_pb2.Address(**{k: v for k, v in row.address.items() if k in _ADDRESS_FIELDS}),
        active=row.is_active,
        is_default=row.is_default,
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
    )


def movement_to_proto(row: StockMovementRow) -> inventory_pb2.StockMovement:
    cost = common_pb2.Money(currency_code=row.currency_code, amount=row.cost_per_unit) if row.currency_code else None
    return inventory_pb2.StockMovement(
        name=f"stockMovements/{row.id}",
        id=row.id,
        variant=variant_name(row.product_id, row.variant_id),
        location=location_name(row.location_id),
        movement_type=MOVEMENT_TO_PROTO[row.movement_type],
        reason=row.reason,
        quantity=row.quantity,
        quantity_before=row.quantity_before,
        quantity_after=row.quantity_after,
        cost_per_unit=cost,
        reference=row.reference,
        notes=row.notes,
        actor=row.actor,
        transfer_id=row.transfer_id,
        create_time=to_timestamp(row.created_at),
    )


def reservation_to_proto(row: ReservationRow) -> inventory_pb2.Reservation:
    return inventory_pb2.Reservation(
        name=reservation_name(row.id),
        id=row.id,
        variant=variant_name(row.product_id, row.variant_id),
        location=location_name(row.location_id),
        quantity=row.quantity,
        converted_quantity=row.converted_quantity,
        reference=row.reference,
        status=RESERVATION_TO_PROTO[row.status],
        reason=row.reason,
        inventory_policy=POLICY_TO_PROTO.get(row.policy, catalog_pb2.INVENTORY_POLICY_DENY),
        expire_time=to_timestamp(row.expires_at),
        release_time=to_timestamp(row.released_at),
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
    )


def alert_to_proto(row: StockAlertRow) -> inventory_pb2.StockAlert:
    return inventory_pb2.StockAlert(
        name=alert_name(row.id),
        id=row.id,
        variant=variant_name(row.product_id, row.variant_id),
        alert_level=ALERT_TO_PROTO[row.alert_level],
        current_stock=row.current_stock,
        threshold=row.threshold,
        recommended_reorder_quantity=row.recommended_reorder_quantity,
        acknowledged=row.acknowledged,
        acknowledged_by=row.acknowledged_by,
        acknowledge_time=to_timestamp(row.acknowledged_at),
        notes=row.notes,
        create_time=to_timestamp(row.created_at),
    )


def level_to_proto(
    *,
    product_id: str,
    variant_id: str,
    sku: str,
    managed: bool,
    policy: str,
    threshold: int,
    status: str | None,
    locations: Sequence[inventory_pb2.LocationLevel],
) -> inventory_pb2.InventoryLevel:
    """The variant's stock; totals count active locations only."""
    on_hand = sum(loc.on_hand for loc in locations if loc.active)
    reserved = sum(loc.reserved for loc in locations if loc.active)
    return inventory_pb2.InventoryLevel(
        name=inventory_name(product_id, variant_id),
        variant=variant_name(product_id, variant_id),
        product=f"products/{product_id}",
        sku=sku,
        managed=managed,
        inventory_policy=POLICY_TO_PROTO.get(policy, catalog_pb2.INVENTORY_POLICY_DENY),
        on_hand=on_hand,
        reserved=reserved,
        available=max(0, on_hand - reserved),
        stock_status=STATUS_TO_PROTO[status] if managed and status else inventory_pb2.STOCK_STATUS_NOT_TRACKED,
        low_stock_threshold=threshold,
        locations=locations,
    )
