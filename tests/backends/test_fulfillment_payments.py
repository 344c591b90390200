"""Money on orders against every database: Ex5 refunds (R19), manual capture (full and
partial), void, line refunds with restock, idempotent replays, and nothing changing on
refused input."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from rcommerce.db import Database
from rcommerce.domain.fulfillment.models import OrderRefundRow
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import fulfillment_pb2 as F
from tests.backends._fulfillment_world import FulfilmentWorld, key, make_fulfilment_world

pytestmark = pytest.mark.backends


@pytest.fixture
async def fw(db: Database) -> AsyncIterator[FulfilmentWorld]:
    yield await make_fulfilment_world(db)


async def _refund_count(fw: FulfilmentWorld, order_id: str) -> int:
    async with fw.db.read() as s:
        return int(await s.scalar(select(func.count()).where(OrderRefundRow.order_id == order_id)) or 0)


async def test_ex5_refunds_step_by_step(fw: FulfilmentWorld) -> None:
    placed = await fw.paid_order(total=12591)
    row = await fw.order(placed.id)
    assert (row.status, row.payment_status) == ("confirmed", "paid")
    refund = fw.svc.payments.refund

    # 1. 50.00 → partially_refunded, 75.91 left.
    first = await refund(F.RefundOrderRequest(name=placed.name, amount=5000, idempotency_key=key()))
    fw.w.clock.advance(1)
    assert first.amount == 5000 and first.summary.refundable == 7591
    assert first.summary.payment_status == "partially_refunded"
    assert (await fw.order(placed.id)).payment_status == "partially_refunded"

    # 2. 80.00 → REFUND_EXCEEDS_PAYMENT{requested 80.00, remaining 75.91}; nothing changes.
    with pytest.raises(DomainError) as caught:
        await refund(F.RefundOrderRequest(name=placed.name, amount=8000, idempotency_key=key()))
    assert caught.value.reason.name == "REFUND_EXCEEDS_PAYMENT"
    assert (caught.value.metadata["requested"], caught.value.metadata["remaining"]) == ("8000", "7591")
    assert await _refund_count(fw, placed.id) == 1
    assert (await fw.svc.payments.get_summary(placed.name)).refunded == 5000

    # 3. 75.91 → refunded, and the order becomes refunded.
    third = await refund(F.RefundOrderRequest(name=placed.name, amount=7591, idempotency_key=key()))
    assert third.summary.payment_status == "refunded" and third.summary.refundable == 0
    row = await fw.order(placed.id)
    assert (row.status, row.payment_status) == ("refunded", "refunded")

    # 4. 0.01 more → refused: the order is refunded (terminal) and nothing remains.
    with pytest.raises(DomainError) as again:
        await refund(F.RefundOrderRequest(name=placed.name, amount=1, idempotency_key=key()))
    assert again.value.reason.name == "REFUND_EXCEEDS_PAYMENT"
    assert (again.value.metadata["requested"], again.value.metadata["remaining"]) == ("1", "0")
    assert await _refund_count(fw, placed.id) == 2
    listed = await fw.svc.payments.list_refunds(placed.name)
    assert [r.amount for r in listed.refunds] == [5000, 7591]
    events = await fw.events(placed.name)
    assert events.count("refund.created") == 2 and "order.refunded" in events


async def test_step4_one_cent_over_on_a_partially_refunded_order(fw: FulfilmentWorld) -> None:
    placed = await fw.paid_order(total=12591)
    await fw.svc.payments.refund(F.RefundOrderRequest(name=placed.name, amount=12590, idempotency_key=key()))
    with pytest.raises(DomainError) as caught:
        await fw.svc.payments.refund(F.RefundOrderRequest(name=placed.name, amount=2, idempotency_key=key()))
    assert caught.value.reason.name == "REFUND_EXCEEDS_PAYMENT"
    assert (caught.value.metadata["requested"], caught.value.metadata["remaining"]) == ("2", "1")


async def test_refund_replay_with_the_same_key_refunds_once(fw: FulfilmentWorld) -> None:
    placed = await fw.paid_order(total=10000)
    k = key()
    request = F.RefundOrderRequest(name=placed.name, amount=3000, idempotency_key=k)
    first = await fw.svc.payments.refund(request)
    second = await fw.svc.payments.refund(request)
    assert first.name == second.name
    assert (await fw.svc.payments.get_summary(placed.name)).refunded == 3000
    with pytest.raises(DomainError) as caught:
        await fw.svc.payments.refund(F.RefundOrderRequest(name=placed.name, amount=3001, idempotency_key=k))
    assert caught.value.reason.name == "IDEMPOTENCY_KEY_REUSED"


async def test_bad_refund_input_changes_nothing(fw: FulfilmentWorld) -> None:
    placed = await fw.paid_order(total=10000)
    for request, reason in (
        (F.RefundOrderRequest(name=placed.name, amount=0, idempotency_key=key()), "VALIDATION_FAILED"),
        (F.RefundOrderRequest(name=placed.name, amount=-5, idempotency_key=key()), "VALIDATION_FAILED"),
        (F.RefundOrderRequest(name=placed.name, amount=100, reason="bored", idempotency_key=key()), "VALIDATION_FAILED"),
        (F.RefundOrderRequest(name=placed.name, amount=100), "VALIDATION_FAILED"),
        (F.RefundOrderRequest(name="orders/ord_00000000000000000000000000", amount=1, idempotency_key=key()),
         "ORDER_NOT_FOUND"),
        (F.RefundOrderRequest(name=placed.name, lines=[F.OrderLineQuantity(line_id="oli_x", quantity=1)],
                              idempotency_key=key()), "ORDER_LINE_NOT_FOUND"),
    ):  # fmt: skip
        with pytest.raises(DomainError) as caught:
            await fw.svc.payments.refund(request)
        assert caught.value.reason.name == reason, request
    assert await _refund_count(fw, placed.id) == 0
    assert (await fw.svc.payments.get_summary(placed.name)).refunded == 0


async def test_manual_capture_partial_then_rest(fw: FulfilmentWorld) -> None:
    placed = await fw.paid_order(total=10000, capture="manual")
    row = await fw.order(placed.id)
    assert (row.status, row.payment_status) == ("confirmed", "authorized")
    part = await fw.svc.payments.capture(
        F.CaptureOrderPaymentRequest(name=placed.name, amount=4000, idempotency_key=key())
    )
    # Nothing is left to capture (the gateway released the rest): paid, 60.00 still due.
    assert (part.captured, part.payment_status, part.balance_due) == (4000, "paid", 6000)
    with pytest.raises(DomainError) as caught:  # a captured payment has nothing left to capture
        await fw.svc.payments.capture(F.CaptureOrderPaymentRequest(name=placed.name, idempotency_key=key()))
    assert caught.value.reason.name == "NOTHING_TO_CAPTURE"
    with pytest.raises(DomainError) as over:  # refunds are capped by what was captured
        await fw.svc.payments.refund(F.RefundOrderRequest(name=placed.name, amount=4001, idempotency_key=key()))
    assert over.value.metadata["remaining"] == "4000"


async def test_manual_capture_in_full_marks_the_order_paid(fw: FulfilmentWorld) -> None:
    placed = await fw.paid_order(total=10000, capture="manual")
    k = key()
    done = await fw.svc.payments.capture(F.CaptureOrderPaymentRequest(name=placed.name, idempotency_key=k))
    assert (done.captured, done.payment_status) == (10000, "paid")
    replay = await fw.svc.payments.capture(F.CaptureOrderPaymentRequest(name=placed.name, idempotency_key=k))
    assert replay.captured == 10000
    assert "order.paid" in await fw.events(placed.name)


async def test_void_releases_the_authorization(fw: FulfilmentWorld) -> None:
    placed = await fw.paid_order(total=10000, capture="manual")
    voided = await fw.svc.payments.void(F.VoidOrderPaymentRequest(name=placed.name, idempotency_key=key()))
    assert voided.payment_status == "voided" and voided.authorized == 0
    with pytest.raises(DomainError) as caught:
        await fw.svc.payments.void(F.VoidOrderPaymentRequest(name=placed.name, idempotency_key=key()))
    assert caught.value.reason.name == "NOTHING_TO_VOID"


async def test_line_refund_with_restock_after_fulfilment(fw: FulfilmentWorld) -> None:
    _, variant_id = await fw.managed_variant(stock=10)
    placed = await fw.paid_order(total=9998, quantity=2, variant_id=variant_id)
    (line,) = await fw.lines(placed.id)
    await fw.svc.fulfillments.create(
        placed.name, F.Fulfillment(lines=[F.FulfillmentLine(line_id=line.id, quantity=2)]), actor="test"
    )
    assert await fw.level(variant_id) == (8, 0)
    refund = await fw.svc.payments.refund(
        F.RefundOrderRequest(
            name=placed.name, lines=[F.OrderLineQuantity(line_id=line.id, quantity=1)], restock=True,
            idempotency_key=key(),
        )
    )  # fmt: skip
    assert refund.amount == 4999 and refund.lines[0].restocked and refund.lines[0].amount == 4999
    assert await fw.level(variant_id) == (9, 0)
    with pytest.raises(DomainError) as caught:
        await fw.svc.payments.refund(
            F.RefundOrderRequest(
                name=placed.name, lines=[F.OrderLineQuantity(line_id=line.id, quantity=2)], idempotency_key=key()
            )
        )
    assert caught.value.reason.name == "INVALID_REFUND_QUANTITY"
    assert caught.value.metadata["available"] == "1"


async def test_concurrent_refunds_never_exceed_the_capture(fw: FulfilmentWorld) -> None:
    placed = await fw.paid_order(total=12591)

    async def attempt() -> str:
        try:
            await fw.svc.payments.refund(F.RefundOrderRequest(name=placed.name, amount=7000, idempotency_key=key()))
        except DomainError as exc:
            return exc.reason.name
        return "ok"

    outcomes = sorted(await asyncio.gather(attempt(), attempt()))
    assert outcomes == ["REFUND_EXCEEDS_PAYMENT", "ok"]
    summary = await fw.svc.payments.get_summary(placed.name)
    assert (summary.refunded, summary.refundable) == (7000, 5591)
