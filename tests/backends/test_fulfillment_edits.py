"""Order edits against every database: the Ex1 order (125.03) repriced through the carts'
pipeline after quantity, coupon and line changes (exact figures), stock following the
quantities, preview without writes, the balance, notes and events, and refusals
(ORDER_NOT_EDITABLE, unknown lines, bad input) that change nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rcommerce.db import Database
from rcommerce.domain.orders.placement import PlacedOrder
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.domain.orders.states import OrderStatus
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.gen.v1.common_pb2 import Address
from tests.backends._fulfillment_world import FulfilmentWorld, key, make_fulfilment_world

pytestmark = pytest.mark.backends


@pytest.fixture
async def fw(db: Database) -> AsyncIterator[FulfilmentWorld]:
    yield await make_fulfilment_world(db)


async def _ex1_order(fw: FulfilmentWorld) -> tuple[PlacedOrder, str, str]:
    """The Ex1 order, paid: (order, line id, variant id)."""
    cart = await fw.w.ex1_cart(stock=10)
    placed = await fw.w.place_cart(cart)
    assert placed.total == 12503
    await fw.pay(placed)
    (line,) = await fw.lines(placed.id)
    return placed, line.id, line.variant_id


async def test_quantity_change_reprices_through_the_pipeline(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _ex1_order(fw)
    assert await fw.level(variant_id) == (10, 2)
    edit = await fw.svc.edits.edit(
        F.EditOrderRequest(name=placed.name, update_lines=[F.OrderLineQuantity(line_id=line_id, quantity=3)]),
        actor="test",
    )
    # 3 × 49.99 = 149.97; fixed coupon 10.00; tax 139.97 × 0.0875 = 12.247 → 12.25; shipping 24.99
    # (not re-quoted) + its tax 2.19: 149.97 − 10.00 + 12.25 + 24.99 + 2.19 = 179.40.
    row = await fw.order(placed.id)
    assert (row.subtotal, row.discount_total, row.item_tax, row.shipping_total, row.shipping_tax, row.total) == (
        14997, 1000, 1225, 2499, 219, 17940,
    )  # fmt: skip
    assert (edit.previous_total, edit.new_total, edit.balance) == (12503, 17940, 5437)
    assert edit.order.totals.total == 17940
    assert edit.changes[0].startswith("Changed quantity of ") and edit.changes[0].endswith(": 2 → 3")
    (line,) = await fw.lines(placed.id)
    assert (line.quantity, line.subtotal, line.discount, line.total, line.tax) == (3, 14997, 1000, 13997, 1225)
    assert await fw.level(variant_id) == (10, 3)
    assert "order.edited" in await fw.events(placed.name)


async def test_removing_the_coupon_and_adding_a_line(fw: FulfilmentWorld) -> None:
    placed, _, _ = await _ex1_order(fw)
    row = await fw.order(placed.id)
    (code,) = row.coupon_codes
    product_id, variant_id = await fw.managed_variant(usd=1000, stock=5)
    edit = await fw.svc.edits.edit(
        F.EditOrderRequest(
            name=placed.name, remove_coupon_codes=[code.lower()],
            add_lines=[F.ReplacementItem(variant=f"products/{product_id}/variants/{variant_id}", quantity=2)],
        ),
        actor="test",
    )  # fmt: skip
    # 99.98 + 20.00 = 119.98, no discount; tax 8.75 (99.98 × 0.0875 = 8.748) + 1.75 = 10.50; + 24.99 + 2.19.
    row = await fw.order(placed.id)
    assert (row.subtotal, row.discount_total, row.item_tax, row.total) == (11998, 0, 1050, 11998 + 1050 + 2499 + 219)
    assert row.coupon_codes == [] and row.promotions == []
    assert edit.balance == row.total - 12503
    lines = await fw.lines(placed.id)
    assert [(x.quantity, x.unit_price, x.tax) for x in lines] == [(2, 4999, 875), (2, 1000, 175)]
    assert await fw.level(variant_id) == (5, 2)
    assert any(c.startswith("Added item:") for c in edit.changes) and f"Coupon {code} removed" in edit.changes


async def test_validate_only_writes_nothing(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _ex1_order(fw)
    preview = await fw.svc.edits.edit(
        F.EditOrderRequest(
            name=placed.name, update_lines=[F.OrderLineQuantity(line_id=line_id, quantity=1)], validate_only=True
        ),
        actor="test",
    )
    assert preview.validate_only and preview.new_total < 12503
    row = await fw.order(placed.id)
    assert row.total == 12503 and await fw.level(variant_id) == (10, 2)
    assert "order.edited" not in await fw.events(placed.name)


async def test_refused_edits_change_nothing(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _ex1_order(fw)
    edits = fw.svc.edits
    for request, reason in (
        (F.EditOrderRequest(name=placed.name), "VALIDATION_FAILED"),
        (F.EditOrderRequest(name=placed.name, update_lines=[F.OrderLineQuantity(line_id="oli_x", quantity=1)]),
         "ORDER_LINE_NOT_FOUND"),
        (F.EditOrderRequest(name=placed.name, remove_line_ids=[line_id]), "VALIDATION_FAILED"),
        (F.EditOrderRequest(name=placed.name, remove_coupon_codes=["NOPE"]), "COUPON_NOT_ON_ORDER"),
        (F.EditOrderRequest(name=placed.name, add_coupon_codes=["NOPE-NOT-A-CODE"]), None),
        (F.EditOrderRequest(name=placed.name, update_lines=[F.OrderLineQuantity(line_id=line_id, quantity=11)]),
         "INSUFFICIENT_INVENTORY"),
        (F.EditOrderRequest(name=placed.name, shipping_address=Address(country_code="FR", city="Paris")),
         "SHIPPING_COUNTRY_NOT_IN_REGION"),
    ):  # fmt: skip
        with pytest.raises(DomainError) as caught:
            await edits.edit(request, actor="test")
        if reason is not None:
            assert caught.value.reason.name == reason, request
    assert (await fw.order(placed.id)).total == 12503 and await fw.level(variant_id) == (10, 2)


async def test_a_shipped_order_is_not_editable(fw: FulfilmentWorld) -> None:
    placed, line_id, _ = await _ex1_order(fw)
    made = await fw.svc.fulfillments.create(
        placed.name, F.Fulfillment(lines=[F.FulfillmentLine(line_id=line_id, quantity=2)]), actor="test"
    )
    await fw.svc.fulfillments.ship(F.ShipFulfillmentRequest(name=made.name), actor="test")
    with pytest.raises(DomainError) as caught:
        await fw.svc.edits.edit(
            F.EditOrderRequest(name=placed.name, update_lines=[F.OrderLineQuantity(line_id=line_id, quantity=1)]),
            actor="test",
        )
    assert caught.value.reason.name == "ORDER_NOT_EDITABLE"
    assert caught.value.metadata["currentStatus"] == "shipped"
    assert (await fw.order(placed.id)).total == 12503


async def test_balance_is_refunded_explicitly(fw: FulfilmentWorld) -> None:
    placed, line_id, _ = await _ex1_order(fw)
    edit = await fw.svc.edits.edit(
        F.EditOrderRequest(name=placed.name, update_lines=[F.OrderLineQuantity(line_id=line_id, quantity=1)]),
        actor="test",
    )
    assert edit.balance < 0
    refund = await fw.svc.payments.refund(
        F.RefundOrderRequest(name=placed.name, amount=-edit.balance, idempotency_key=key())
    )
    assert refund.summary.refundable == edit.new_total


async def test_an_on_hold_order_keeps_its_fulfilled_units(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _ex1_order(fw)
    await fw.svc.fulfillments.create(
        placed.name, F.Fulfillment(lines=[F.FulfillmentLine(line_id=line_id, quantity=1)]), actor="test"
    )
    async with fw.db.transaction() as s:  # processing → on_hold (a manual hold)
        repo = OrderRepository(fw.w.clock)
        row = await repo.load(s, placed.id, lock=True)
        await repo.transition(s, row, OrderStatus.ON_HOLD, actor="test", reason="check")
    assert await fw.level(variant_id) == (9, 1)
    with pytest.raises(DomainError) as caught:
        await fw.svc.edits.edit(
            F.EditOrderRequest(name=placed.name, update_lines=[F.OrderLineQuantity(line_id=line_id, quantity=0)]),
            actor="test",
        )
    assert caught.value.reason.name == "VALIDATION_FAILED" and caught.value.metadata["fulfilled"] == "1"
    await fw.svc.edits.edit(
        F.EditOrderRequest(name=placed.name, update_lines=[F.OrderLineQuantity(line_id=line_id, quantity=3)]),
        actor="test",
    )
    assert await fw.level(variant_id) == (9, 2)  # 3 ordered, 1 shipped: 2 held
