"""The reconciler finishes automatic captures that did not finish: a capture claimed with
its order that met a gateway error (retried with backoff on the injected clock), or whose
process died before it was applied (resumed after the payments' lock timeout), with the
checkout's own key so the provider acts once; payments that are no longer authorized
are left alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from sqlalchemy import select

from rcommerce.db import Database
from rcommerce.domain.checkout.service import capture_key
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.payments.models import IdempotencyKeyRow, PaymentRow
from rcommerce.domain.payments.retries import RetryPolicy
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import payments_pb2 as P
from tests.backends._checkout_world import SHIPPING, ProcessCrash, World, tag, world

pytestmark = pytest.mark.backends

TOTAL = 2500 + SHIPPING


@pytest.fixture
async def w(db: Database) -> AsyncIterator[World]:
    async with world(db) as built:
        yield built


async def _statuses(db: Database, order_id: str, payment_id: str) -> tuple[str, str, int, str]:
    async with db.read() as s:
        order = await s.get(OrderRow, order_id)
        payment = await s.get(PaymentRow, payment_id)
        key = await s.get(IdempotencyKeyRow, capture_key(payment_id))
        assert order is not None and payment is not None and key is not None
        return order.payment_status, payment.status, payment.amount_captured, key.state


async def _paid_events(db: Database, order_id: str) -> int:
    async with db.read() as s:
        types = await s.scalars(select(OutboxEvent.type).where(OutboxEvent.subject == f"orders/{order_id}"))
        return list(types).count("order.paid")


async def test_a_capture_whose_answer_was_lost_is_finished_once_after_the_retry_delay(w: World, db: Database) -> None:
    w.gateway.fail_next("capture", after=True)  # the provider captured; the answer never came
    order_id, payment_id = await w.placed()
    assert await _statuses(db, order_id, payment_id) == ("authorized", "authorized", 0, "pending")
    assert w.gateway.calls["capture"] == 1

    assert await w.reconciler.resume_captures() == []  # the first retry waits gateway_retry_s
    w.clock.advance(seconds=w.payments.settings.gateway_retry.base_s)
    assert await w.reconciler.resume_captures() == [f"payments/{payment_id}"]

    assert await _statuses(db, order_id, payment_id) == ("paid", "succeeded", TOTAL, "done")
    assert w.gateway.calls["capture"] == 1  # the same key: the provider did not capture twice
    assert await _paid_events(db, order_id) == 1
    assert await w.reconciler.resume_captures() == []


async def test_repeated_gateway_errors_back_off_until_the_capture_goes_through(w: World, db: Database) -> None:
    retry = w.payments.settings.gateway_retry.base_s
    w.gateway.fail_next("capture")  # at checkout
    w.gateway.fail_next("capture")  # the reconciler's first try
    order_id, payment_id = await w.placed()
    w.clock.advance(seconds=retry)
    assert await w.reconciler.resume_captures() == []  # tried: a second gateway error
    assert w.gateway.calls["capture"] == 0
    w.clock.advance(seconds=retry)
    assert await w.reconciler.resume_captures() == []  # two errors: it waits 2 * gateway_retry_s
    w.clock.advance(seconds=retry)
    assert await w.reconciler.resume_captures() == [f"payments/{payment_id}"]
    assert await _statuses(db, order_id, payment_id) == ("paid", "succeeded", TOTAL, "done")
    async with db.read() as s:
        payment = await s.get(PaymentRow, payment_id)
        assert payment is not None and payment.lock_key == ""


async def test_the_wait_between_tries_is_capped(w: World, db: Database) -> None:
    w.payments.settings = replace(w.payments.settings, gateway_retry=RetryPolicy(base_s=60, cap_s=90))
    for _ in range(3):
        w.gateway.fail_next("capture")
    order_id, payment_id = await w.placed()  # error 1
    w.clock.advance(seconds=60)
    assert await w.reconciler.resume_captures() == []  # error 2: next after min(120, 90)
    w.clock.advance(seconds=90)
    assert await w.reconciler.resume_captures() == []  # error 3: next after min(240, 90)
    w.clock.advance(seconds=89)
    assert await w.reconciler.resume_captures() == []
    w.clock.advance(seconds=1)
    assert await w.reconciler.resume_captures() == [f"payments/{payment_id}"]
    assert (await _statuses(db, order_id, payment_id))[0] == "paid"


async def test_a_process_that_died_after_placement_is_captured_after_the_lock_timeout(w: World, db: Database) -> None:
    cart, token = await w.cart(await w.variant(2500))
    with w.crashing("crash_after_placement"), pytest.raises(ProcessCrash):
        await w.complete(cart, token)
    async with db.read() as s:
        order_id = await s.scalar(select(OrderRow.id).where(OrderRow.cart_id == cart.removeprefix("carts/")))
        assert order_id is not None
        payment_id = await s.scalar(select(PaymentRow.id).where(PaymentRow.target == f"orders/{order_id}"))
        assert payment_id is not None
        payment = await s.get(PaymentRow, payment_id)
        assert payment is not None and payment.lock_key == capture_key(payment_id)  # claimed, never run
    assert await _statuses(db, order_id, payment_id) == ("authorized", "authorized", 0, "pending")

    assert await w.reconciler.resume_captures() == []  # the claim may still be running elsewhere
    w.clock.advance(seconds=w.payments.settings.lock_timeout_s)
    assert await w.reconciler.resume_captures() == [f"payments/{payment_id}"]
    assert await _statuses(db, order_id, payment_id) == ("paid", "succeeded", TOTAL, "done")
    assert w.gateway.calls["capture"] == 1


async def test_a_payment_voided_meanwhile_is_not_captured(w: World, db: Database) -> None:
    w.gateway.fail_next("capture")
    order_id, payment_id = await w.placed()
    await w.payments.void(P.VoidPaymentRequest(name=f"payments/{payment_id}", idempotency_key=f"void-{tag()}"))
    w.clock.advance(seconds=w.payments.settings.gateway_retry.cap_s)
    assert await w.reconciler.resume_captures() == []
    assert await _statuses(db, order_id, payment_id) == ("voided", "cancelled", 0, "pending")
    assert w.gateway.calls["capture"] == 0


async def test_staff_capturing_first_leaves_nothing_to_resume(w: World, db: Database) -> None:
    """Staff capture with their own key (part of the amount); the checkout's key stays
    pending, but the payment is no longer authorized: the reconciler leaves it."""
    w.gateway.fail_next("capture")
    order_id, payment_id = await w.placed()
    await w.payments.capture(
        P.CapturePaymentRequest(name=f"payments/{payment_id}", amount=1000, idempotency_key=f"staff-{tag()}")
    )
    w.clock.advance(seconds=w.payments.settings.gateway_retry.cap_s)
    assert await w.reconciler.resume_captures() == []
    # paid: a partial capture released the rest (the order shows the balance due)
    assert await _statuses(db, order_id, payment_id) == ("paid", "succeeded", 1000, "pending")
    assert w.gateway.calls["capture"] == 1
