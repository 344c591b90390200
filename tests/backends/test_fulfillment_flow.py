"""Fulfilments and order changes against every database: stock conversion, ship with
tracking, deliver → completed, cancel rolls back, over-fulfilment refused; returns (Ex5
step 5), receive with restock, refund on processing, cancel; claims with replacement."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from rcommerce.db import Database
from rcommerce.domain.fulfillment.models import FulfillmentRow, OrderChangeRow
from rcommerce.domain.orders.placement import PlacedOrder
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import fulfillment_pb2 as F
from tests.backends._fulfillment_world import FulfilmentWorld, key, make_fulfilment_world

pytestmark = pytest.mark.backends


@pytest.fixture
async def fw(db: Database) -> AsyncIterator[FulfilmentWorld]:
    yield await make_fulfilment_world(db)


async def _order_of_two(fw: FulfilmentWorld, *, stock: int = 10) -> tuple[PlacedOrder, str, str]:
    """A paid order of 2 × 49.99 of a tracked variant: (order, line id, variant id)."""
    _, variant_id = await fw.managed_variant(stock=stock)
    placed = await fw.paid_order(total=9998, quantity=2, variant_id=variant_id)
    (line,) = await fw.lines(placed.id)
    return placed, line.id, variant_id


def _lines(line_id: str, quantity: int) -> list[F.FulfillmentLine]:
    return [F.FulfillmentLine(line_id=line_id, quantity=quantity)]


async def test_fulfil_ship_deliver_completes_the_order(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _order_of_two(fw)
    assert await fw.level(variant_id) == (10, 2)
    f = fw.svc.fulfillments
    first = await f.create(placed.name, F.Fulfillment(lines=_lines(line_id, 1)), actor="test")
    assert first.status == "pending" and first.order_fulfillment_status == "partially_fulfilled"
    assert await fw.level(variant_id) == (9, 1)  # the reservation converted: on hand and reserved drop
    assert (await fw.order(placed.id)).status == "processing"
    shipped = await f.ship(
        F.ShipFulfillmentRequest(name=first.name, tracking_number="1Z999", carrier="UPS",
                                 tracking_url="https://ups.example/1Z999"),
        actor="test",
    )  # fmt: skip
    assert (shipped.status, shipped.tracking_number, shipped.carrier) == ("shipped", "1Z999", "UPS")
    assert (await fw.order(placed.id)).status == "shipped"
    second = await f.create(placed.name, F.Fulfillment(lines=_lines(line_id, 1)), actor="test")
    assert second.order_fulfillment_status == "fulfilled" and await fw.level(variant_id) == (8, 0)
    await f.deliver(F.DeliverFulfillmentRequest(name=first.name), actor="test")
    assert (await fw.order(placed.id)).status == "shipped"  # one fulfilment still on its way
    await f.deliver(F.DeliverFulfillmentRequest(name=second.name), actor="test")
    row = await fw.order(placed.id)
    assert (row.status, row.fulfillment_status) == ("completed", "delivered")
    (line,) = await fw.lines(placed.id)
    assert line.quantity_fulfilled == 2
    events = await fw.events(placed.name)
    for name in ("order.fulfillment_created", "order.shipped", "order.delivered", "order.completed",
                 "fulfillment.created", "fulfillment.shipped", "fulfillment.delivered"):  # fmt: skip
        assert name in events, name
    listed = await f.list_fulfillments(placed.name)
    assert [x.name for x in listed.fulfillments] == sorted([first.name, second.name]) or len(listed.fulfillments) == 2


async def test_over_fulfilment_and_bad_states_change_nothing(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _order_of_two(fw)
    f = fw.svc.fulfillments
    with pytest.raises(DomainError) as caught:
        await f.create(placed.name, F.Fulfillment(lines=_lines(line_id, 3)), actor="test")
    assert caught.value.reason.name == "INVALID_FULFILLMENT_QUANTITY"
    assert caught.value.metadata == {"lineId": line_id, "requested": "3", "available": "2"}
    with pytest.raises(DomainError) as unknown:
        await f.create(placed.name, F.Fulfillment(lines=_lines("oli_nope", 1)), actor="test")
    assert unknown.value.reason.name == "ORDER_LINE_NOT_FOUND"
    with pytest.raises(DomainError) as bad_url:
        await f.create(placed.name, F.Fulfillment(lines=_lines(line_id, 1), tracking_url="ftp://x"), actor="test")
    assert bad_url.value.reason.name == "VALIDATION_FAILED"
    async with fw.db.read() as s:
        assert await s.scalar(select(func.count()).where(FulfillmentRow.order_id == placed.id)) == 0
    assert await fw.level(variant_id) == (10, 2)
    done = await f.create(placed.name, F.Fulfillment(lines=_lines(line_id, 2)), actor="test")
    with pytest.raises(DomainError) as full:
        await f.create(placed.name, F.Fulfillment(lines=_lines(line_id, 1)), actor="test")
    assert full.value.reason.name == "ORDER_FULFILLED"
    await f.deliver(F.DeliverFulfillmentRequest(name=done.name), actor="test")
    with pytest.raises(DomainError) as late:
        await f.cancel(F.CancelFulfillmentRequest(name=done.name), actor="test")
    assert late.value.reason.name == "INVALID_FULFILLMENT_STATUS"
    assert late.value.metadata["currentStatus"] == "delivered"


async def test_unpaid_order_cannot_be_fulfilled(fw: FulfilmentWorld) -> None:
    _, variant_id = await fw.managed_variant()
    placed = await fw.w.place_simple(total=4999, variant_id=variant_id)
    (line,) = await fw.lines(placed.id)
    with pytest.raises(DomainError) as caught:
        await fw.svc.fulfillments.create(placed.name, F.Fulfillment(lines=_lines(line.id, 1)), actor="test")
    assert caught.value.reason.name == "ORDER_NOT_FULFILLABLE"
    assert caught.value.metadata["currentStatus"] == "pending"


async def test_cancel_fulfilment_rolls_quantities_and_stock_back(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _order_of_two(fw)
    f = fw.svc.fulfillments
    made = await f.create(placed.name, F.Fulfillment(lines=_lines(line_id, 2)), actor="test")
    assert await fw.level(variant_id) == (8, 0)
    cancelled = await f.cancel(F.CancelFulfillmentRequest(name=made.name, reason="wrong box"), actor="test")
    assert cancelled.status == "cancelled" and cancelled.order_fulfillment_status == "unfulfilled"
    assert await fw.level(variant_id) == (10, 2)  # back on hand and held for the order again
    (line,) = await fw.lines(placed.id)
    assert line.quantity_fulfilled == 0
    again = await f.create(placed.name, F.Fulfillment(lines=_lines(line_id, 2)), actor="test")
    assert again.order_fulfillment_status == "fulfilled" and await fw.level(variant_id) == (8, 0)
    assert "order.fulfillment_cancelled" in await fw.events(placed.name)


async def test_ex5_step5_return_receive_restock_and_refund(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _order_of_two(fw)
    made = await fw.svc.fulfillments.create(placed.name, F.Fulfillment(lines=_lines(line_id, 2)), actor="test")
    await fw.svc.fulfillments.deliver(F.DeliverFulfillmentRequest(name=made.name), actor="test")
    c = fw.svc.changes
    with pytest.raises(DomainError) as caught:
        await c.create(
            placed.name, F.OrderChange(kind="return", lines=[F.OrderChangeLine(line_id=line_id, quantity=3)]), actor="t"
        )
    assert caught.value.reason.name == "INVALID_RETURN_QUANTITY"
    assert (caught.value.metadata["requested"], caught.value.metadata["available"]) == ("3", "2")
    ret = await c.create(
        placed.name,
        F.OrderChange(kind="return", lines=[F.OrderChangeLine(line_id=line_id, quantity=1, reason="too small")]),
        actor="t",
    )
    assert (ret.status, ret.refund_amount, ret.lines[0].refund_amount) == ("requested", 4999, 4999)
    assert (await fw.order(placed.id)).fulfillment_status == "partially_returned"
    with pytest.raises(DomainError) as early:
        await c.process(F.ProcessOrderChangeRequest(name=ret.name, idempotency_key=key()), actor="t")
    assert early.value.reason.name == "INVALID_ORDER_CHANGE_STATUS"
    received = await c.receive(F.ReceiveOrderChangeRequest(name=ret.name, restock=True), actor="t")
    assert received.status == "received" and received.restocked
    assert await fw.level(variant_id) == (9, 0)
    processed = await c.process(F.ProcessOrderChangeRequest(name=ret.name, idempotency_key=key()), actor="t")
    assert (processed.status, processed.refunded_amount) == ("processed", 4999)
    summary = await fw.svc.payments.get_summary(placed.name)
    assert (summary.refunded, summary.payment_status) == (4999, "partially_refunded")
    with pytest.raises(DomainError) as twice:
        await c.create(
            placed.name, F.OrderChange(kind="return", lines=[F.OrderChangeLine(line_id=line_id, quantity=2)]), actor="t"
        )
    assert twice.value.metadata["available"] == "1"
    events = await fw.events(placed.name)
    assert "return.requested" in events and "return.received" in events and "return.processed" in events


async def test_cancelled_return_gives_the_units_back(fw: FulfilmentWorld) -> None:
    placed, line_id, _ = await _order_of_two(fw)
    await fw.svc.fulfillments.create(placed.name, F.Fulfillment(lines=_lines(line_id, 2)), actor="test")
    c = fw.svc.changes
    ret = await c.create(placed.name, F.OrderChange(lines=[F.OrderChangeLine(line_id=line_id, quantity=2)]), actor="t")
    assert (await fw.order(placed.id)).fulfillment_status == "returned"
    await c.cancel(F.CancelOrderChangeRequest(name=ret.name), actor="t")
    (line,) = await fw.lines(placed.id)
    assert line.quantity_returned == 0
    assert (await fw.order(placed.id)).fulfillment_status == "fulfilled"
    with pytest.raises(DomainError) as caught:
        await c.receive(F.ReceiveOrderChangeRequest(name=ret.name), actor="t")
    assert caught.value.reason.name == "INVALID_ORDER_CHANGE_STATUS"


async def test_claim_with_replacement_adds_a_free_line_to_fulfil(fw: FulfilmentWorld) -> None:
    product_id, variant_id = await fw.managed_variant(stock=10)
    placed = await fw.paid_order(total=9998, quantity=2, variant_id=variant_id)
    (line,) = await fw.lines(placed.id)
    line_id = line.id
    await fw.svc.fulfillments.create(placed.name, F.Fulfillment(lines=_lines(line_id, 2)), actor="test")
    variant = f"products/{product_id}/variants/{variant_id}"
    claim = await fw.svc.changes.create(
        placed.name,
        F.OrderChange(kind="claim", resolution="replace", keep_items=True, reason="damaged",
                      lines=[F.OrderChangeLine(line_id=line_id, quantity=1)],
                      replacements=[F.ReplacementItem(variant=variant, quantity=1)]),
        actor="t",
    )  # fmt: skip
    done = await fw.svc.changes.process(F.ProcessOrderChangeRequest(name=claim.name), actor="t")
    assert done.status == "processed"
    lines = await fw.lines(placed.id)
    assert len(lines) == 2 and (lines[1].unit_price, lines[1].quantity, lines[1].total) == (0, 1, 0)
    assert await fw.level(variant_id) == (8, 1)  # the replacement is held for the order
    row = await fw.order(placed.id)
    assert row.total == 9998  # an even replacement: the order total is unchanged
    again = await fw.svc.fulfillments.create(placed.name, F.Fulfillment(lines=_lines(lines[1].id, 1)), actor="test")
    assert again.status == "pending" and await fw.level(variant_id) == (7, 0)
    async with fw.db.read() as s:
        assert await s.scalar(select(func.count()).where(OrderChangeRow.order_id == placed.id)) == 1


async def test_bad_change_input(fw: FulfilmentWorld) -> None:
    placed, line_id, _ = await _order_of_two(fw)
    c = fw.svc.changes
    for change in (
        F.OrderChange(kind="swap", lines=[F.OrderChangeLine(line_id=line_id, quantity=1)]),
        F.OrderChange(kind="exchange", lines=[F.OrderChangeLine(line_id=line_id, quantity=1)]),
        F.OrderChange(kind="claim", resolution="shrug", lines=[F.OrderChangeLine(line_id=line_id, quantity=1)]),
    ):
        with pytest.raises(DomainError) as caught:
            await c.create(placed.name, change, actor="t")
        assert caught.value.reason.name == "VALIDATION_FAILED"
    with pytest.raises(DomainError) as unfulfilled:  # nothing was fulfilled yet
        await c.create(placed.name, F.OrderChange(lines=[F.OrderChangeLine(line_id=line_id, quantity=1)]), actor="t")
    assert unfulfilled.value.reason.name == "INVALID_RETURN_QUANTITY"
    assert unfulfilled.value.metadata["available"] == "0"
    async with fw.db.read() as s:
        assert await s.scalar(select(func.count()).where(OrderChangeRow.order_id == placed.id)) == 0


async def test_claim_refund_for_a_lost_parcel_is_processed_once(fw: FulfilmentWorld) -> None:
    placed, line_id, variant_id = await _order_of_two(fw)
    await fw.svc.fulfillments.create(placed.name, F.Fulfillment(lines=_lines(line_id, 2)), actor="test")
    claim = await fw.svc.changes.create(
        placed.name,
        F.OrderChange(
            kind="claim", keep_items=True, reason="lost", lines=[F.OrderChangeLine(line_id=line_id, quantity=2)]
        ),
        actor="t",
    )
    assert (claim.resolution, claim.refund_amount, claim.keep_items) == ("refund", 9998, True)
    with pytest.raises(DomainError) as caught:  # nothing comes back for a claim that keeps its items
        await fw.svc.changes.receive(F.ReceiveOrderChangeRequest(name=claim.name), actor="t")
    assert caught.value.reason.name == "INVALID_ORDER_CHANGE_STATUS"
    request = F.ProcessOrderChangeRequest(name=claim.name, idempotency_key=key())
    first = await fw.svc.changes.process(request, actor="t")
    again = await fw.svc.changes.process(request, actor="t")
    assert first.status == again.status == "processed" and again.refunded_amount == 9998
    summary = await fw.svc.payments.get_summary(placed.name)
    assert (summary.refunded, summary.payment_status) == (9998, "refunded")
    assert await fw.level(variant_id) == (8, 0)  # nothing restocked
