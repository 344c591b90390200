"""Inventory through the public API, each test on gRPC and on REST."""

from __future__ import annotations

import uuid

from google.protobuf import field_mask_pb2

from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import inventory_pb2 as I
from rcommerce.gen.v1.common_pb2 import Address, Money
from rcommerce.testing.client import ApiClient, ApiError

DEFAULT = "stockLocations/sloc_00000000000000000000000000"


def _tag() -> str:
    return uuid.uuid4().hex[:8]


async def _variant(client: ApiClient, quantity: int = 0, policy: int = C.INVENTORY_POLICY_DENY) -> str:
    """A new stock-tracked variant with ``quantity`` in the catalog; its resource name."""
    product = await client.call(
        "CreateProduct",
        C.CreateProductRequest(
            product=C.Product(
                title=f"Stock {_tag()}", status=C.PRODUCT_STATUS_ACTIVE,
                variants=[C.Variant(
                    sku=f"INV-{_tag()}", prices=[Money(currency_code="USD", amount=1000)], manage_inventory=True,
                    inventory_quantity=quantity, inventory_policy=policy,
                )],
            )
        ),
    )  # fmt: skip
    return str(product.variants[0].name)


async def _location(client: ApiClient, **fields: object) -> I.StockLocation:
    loc = I.StockLocation(display_name=f"Warehouse {_tag()}", code=f"wh-{_tag()}", **fields)  # type: ignore[arg-type]
    return await client.call("CreateStockLocation", I.CreateStockLocationRequest(stock_location=loc))


async def _error(client: ApiClient, method: str, request: object) -> ApiError:
    try:
        await client.call(method, request)  # type: ignore[arg-type]
    except ApiError as exc:
        return exc
    raise AssertionError(f"{method} did not fail")


def _expect(error: ApiError, reason: str, http: int) -> None:
    """The reason on both transports; the HTTP status on REST (gRPC has none)."""
    assert error.reason == reason, error
    assert error.http_status in (None, http), error


async def test_locations_crud(client: ApiClient) -> None:
    created = await _location(client, address=Address(city="Berlin", country_code="DE"))
    assert created.name == f"stockLocations/{created.id}" and created.active and not created.is_default
    assert created.address.city == "Berlin"
    assert await client.call("GetStockLocation", I.GetStockLocationRequest(name=created.name)) == created
    listed = await client.call("ListStockLocations", I.ListStockLocationsRequest(page_size=100))
    assert listed.stock_locations[0].name == DEFAULT and listed.stock_locations[0].is_default
    assert created.name in [loc.name for loc in listed.stock_locations]
    taken = await _error(
        client,
        "CreateStockLocation",
        I.CreateStockLocationRequest(stock_location=I.StockLocation(display_name="Twin", code=created.code)),
    )
    _expect(taken, "LOCATION_CODE_TAKEN", 409)
    bad = await _error(
        client,
        "CreateStockLocation",
        I.CreateStockLocationRequest(stock_location=I.StockLocation(display_name="", code="Bad Code")),
    )
    _expect(bad, "VALIDATION_FAILED", 400)
    updated = await client.call(
        "UpdateStockLocation",
        I.UpdateStockLocationRequest(
            stock_location=I.StockLocation(name=created.name, display_name="Renamed", active=False),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name", "active"]),
        ),
    )
    assert (updated.display_name, updated.active, updated.code) == ("Renamed", False, created.code)
    default_gone = await _error(client, "DeleteStockLocation", I.DeleteStockLocationRequest(name=DEFAULT))
    _expect(default_gone, "LOCATION_NOT_EMPTY", 422)
    await client.call("DeleteStockLocation", I.DeleteStockLocationRequest(name=created.name))
    missing = await _error(client, "GetStockLocation", I.GetStockLocationRequest(name=created.name))
    _expect(missing, "LOCATION_NOT_FOUND", 404)


async def test_receive_adjust_set_transfer_and_the_ledger(client: ApiClient) -> None:
    variant = await _variant(client, quantity=10)
    inv = f"{variant}/inventory"
    level = await client.call("GetInventoryLevel", I.GetInventoryLevelRequest(name=inv))
    assert (level.on_hand, level.available, level.stock_status) == (10, 10, I.STOCK_STATUS_LOW)
    received = await client.call(
        "ReceiveInventory",
        I.ReceiveInventoryRequest(
            name=inv, quantity=25, cost_per_unit=Money(currency_code="USD", amount=450), reference="PO-1"
        ),
    )
    assert received.inventory_level.on_hand == 35 and received.inventory_level.stock_status == I.STOCK_STATUS_IN_STOCK
    [move] = received.movements
    assert (move.movement_type, move.quantity, move.quantity_before, move.quantity_after, move.reason) == (
        I.MOVEMENT_TYPE_RECEIPT,
        25,
        10,
        35,
        "received",
    )
    assert move.cost_per_unit == Money(currency_code="USD", amount=450) and move.actor.startswith("apiKeys/")
    adjusted = await client.call(
        "AdjustInventory", I.AdjustInventoryRequest(name=inv, adjustment=-3, reason="damaged", notes="dropped")
    )
    assert adjusted.inventory_level.on_hand == 32
    too_far = await _error(client, "AdjustInventory", I.AdjustInventoryRequest(name=inv, adjustment=-33, reason="lost"))
    _expect(too_far, "INVALID_ADJUSTMENT", 422)
    assert too_far.metadata["onHand"] == "32"
    bad_reason = await _error(
        client, "AdjustInventory", I.AdjustInventoryRequest(name=inv, adjustment=1, reason="magic")
    )
    _expect(bad_reason, "VALIDATION_FAILED", 400)
    counted = await client.call("SetInventory", I.SetInventoryRequest(name=inv, quantity=30))
    assert (
        counted.movements[0].quantity,
        counted.movements[0].quantity_before,
        counted.movements[0].quantity_after,
    ) == (-2, 32, 30)
    other = await _location(client)
    moved = await client.call(
        "TransferInventory",
        I.TransferInventoryRequest(name=inv, from_location=DEFAULT, to_location=other.name, quantity=12),
    )
    out, into = moved.movements
    assert (out.movement_type, out.quantity, into.movement_type, into.quantity) == (
        I.MOVEMENT_TYPE_TRANSFER_OUT,
        -12,
        I.MOVEMENT_TYPE_TRANSFER_IN,
        12,
    )
    assert out.transfer_id == into.transfer_id != ""
    assert {loc.location: loc.on_hand for loc in moved.inventory_level.locations} == {DEFAULT: 18, other.name: 12}
    assert moved.inventory_level.on_hand == 30
    same = await _error(
        client,
        "TransferInventory",
        I.TransferInventoryRequest(name=inv, from_location=DEFAULT, to_location=DEFAULT, quantity=1),
    )
    _expect(same, "INVALID_TRANSFER", 400)
    short = await _error(
        client,
        "TransferInventory",
        I.TransferInventoryRequest(name=inv, from_location=other.name, to_location=DEFAULT, quantity=13),
    )
    _expect(short, "INSUFFICIENT_STOCK", 422)
    ledger = await client.call("ListStockMovements", I.ListStockMovementsRequest(variant=variant, page_size=100))
    assert sorted(m.movement_type for m in ledger.stock_movements) == sorted([
        I.MOVEMENT_TYPE_SET, I.MOVEMENT_TYPE_RECEIPT, I.MOVEMENT_TYPE_ADJUSTMENT, I.MOVEMENT_TYPE_SET,
        I.MOVEMENT_TYPE_TRANSFER_OUT, I.MOVEMENT_TYPE_TRANSFER_IN,
    ])  # fmt: skip
    assert ledger.stock_movements[-1].reason == "initial"
    receipts = await client.call(
        "ListStockMovements", I.ListStockMovementsRequest(variant=variant, movement_type=I.MOVEMENT_TYPE_RECEIPT)
    )
    assert [m.reference for m in receipts.stock_movements] == ["PO-1"]
    product = await client.call("GetProduct", C.GetProductRequest(name=variant.split("/variants/")[0]))
    assert product.variants[0].inventory_quantity == 30


async def test_reservations_through_the_api(client: ApiClient) -> None:
    variant = await _variant(client, quantity=5)
    made = await client.call(
        "CreateReservation", I.CreateReservationRequest(variant=variant, quantity=3, reference="orders/ord_api")
    )
    [held] = made.reservations
    assert (held.status, held.quantity, held.location) == (I.RESERVATION_STATUS_ACTIVE, 3, DEFAULT)
    assert held.HasField("expire_time")
    short = await _error(
        client, "CreateReservation", I.CreateReservationRequest(variant=variant, quantity=3, reference="orders/ord_2")
    )
    _expect(short, "INSUFFICIENT_INVENTORY", 422)
    assert (short.metadata["requested"], short.metadata["available"], short.metadata["inventoryPolicy"]) == (
        "3",
        "2",
        "deny",
    )
    converted = await client.call("ConvertReservation", I.ConvertReservationRequest(name=held.name, quantity=1))
    assert (converted.quantity, converted.converted_quantity, converted.status) == (2, 1, I.RESERVATION_STATUS_ACTIVE)
    released = await client.call(
        "ReleaseReservation", I.ReleaseReservationRequest(name=held.name, reason="order_cancelled")
    )
    assert (released.status, released.reason) == (I.RESERVATION_STATUS_RELEASED, "order_cancelled")
    again = await _error(client, "ReleaseReservation", I.ReleaseReservationRequest(name=held.name))
    _expect(again, "RESERVATION_EXPIRED", 409)
    level = await client.call("GetInventoryLevel", I.GetInventoryLevelRequest(name=f"{variant}/inventory"))
    assert (level.on_hand, level.reserved, level.available) == (4, 0, 4)
    listed = await client.call("ListReservations", I.ListReservationsRequest(variant=variant))
    assert [r.name for r in listed.reservations] == [held.name]
    missing = await _error(
        client, "ReleaseReservation", I.ReleaseReservationRequest(name="reservations/rsv_01JAAAAAAAAAAAAAAAAAAAAAAA")
    )
    _expect(missing, "RESERVATION_NOT_FOUND", 404)


async def test_levels_filters_and_alerts(client: ApiClient) -> None:
    variant = await _variant(client, quantity=30)
    inv = f"{variant}/inventory"
    product = variant.split("/variants/")[0]
    await client.call(
        "AdjustInventory", I.AdjustInventoryRequest(name=inv, adjustment=-25, reason="lost")
    )  # 5: critical
    low = await client.call("ListInventoryLevels", I.ListInventoryLevelsRequest(product=product, low_stock_only=True))
    assert [lv.variant for lv in low.inventory_levels] == [variant]
    assert low.inventory_levels[0].stock_status == I.STOCK_STATUS_CRITICAL
    in_stock = await client.call(
        "ListInventoryLevels", I.ListInventoryLevelsRequest(product=product, stock_status=I.STOCK_STATUS_IN_STOCK)
    )
    assert list(in_stock.inventory_levels) == []
    alerts = await client.call("ListStockAlerts", I.ListStockAlertsRequest(variant=variant))
    [alert] = alerts.stock_alerts
    # Worked example 6: stock 5 with threshold 20 is critical; reorder 5 x 20 - 5 = 95.
    assert (alert.alert_level, alert.current_stock, alert.threshold, alert.recommended_reorder_quantity) == (
        I.ALERT_LEVEL_CRITICAL,
        5,
        20,
        95,
    )
    acked = await client.call(
        "AcknowledgeStockAlert", I.AcknowledgeStockAlertRequest(name=alert.name, notes="reordered")
    )
    assert acked.acknowledged and acked.notes == "reordered" and acked.acknowledged_by.startswith("apiKeys/")
    twice = await _error(client, "AcknowledgeStockAlert", I.AcknowledgeStockAlertRequest(name=alert.name))
    _expect(twice, "ALERT_ALREADY_ACKNOWLEDGED", 409)
    open_only = await client.call("ListStockAlerts", I.ListStockAlertsRequest(variant=variant, acknowledged=False))
    assert list(open_only.stock_alerts) == []
    bad_name = await _error(
        client, "GetInventoryLevel", I.GetInventoryLevelRequest(name="products/nope/variants/nope/inventory")
    )
    _expect(bad_name, "INVALID_RESOURCE_NAME", 400)


async def test_the_catalog_quantity_opens_stock_and_is_read_only_once_levels_keep_it(client: ApiClient) -> None:
    variant = await _variant(client, quantity=10)
    inv = f"{variant}/inventory"

    def quantity(n: int) -> C.UpdateVariantRequest:
        return C.UpdateVariantRequest(
            variant=C.Variant(name=variant, inventory_quantity=n),
            update_mask=field_mask_pb2.FieldMask(paths=["inventory_quantity"]),
        )

    # No level yet: the catalog's figure is the opening stock and may still change.
    assert (await client.call("UpdateVariant", quantity(12))).inventory_quantity == 12
    assert (await client.call("GetInventoryLevel", I.GetInventoryLevelRequest(name=inv))).on_hand == 12
    await client.call("AdjustInventory", I.AdjustInventoryRequest(name=inv, adjustment=3, reason="found"))

    refused = await _error(client, "UpdateVariant", quantity(99))
    _expect(refused, "INVENTORY_QUANTITY_READ_ONLY", 422)
    assert refused.metadata["inventory"] == inv
    level = await client.call("GetInventoryLevel", I.GetInventoryLevelRequest(name=inv))
    assert level.on_hand == 15  # nothing moved
    product = await client.call("GetProduct", C.GetProductRequest(name=variant.rsplit("/variants/", 1)[0]))
    assert product.variants[0].inventory_quantity == 15  # and the catalog still shows the true total
    # Sending the figure it already has (a whole-variant update) is not a change.
    assert (await client.call("UpdateVariant", quantity(15))).inventory_quantity == 15
