"""CheckoutService on every database: completion into an order with one charge, replays,
declines, 3-D Secure, bad input that changes nothing, a placement failure that voids the
authorization, and the reconciler on the injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select, update

from rcommerce.db import Database
from rcommerce.domain.carts.models import CartRow
from rcommerce.domain.checkout.models import CheckoutAttemptRow
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.payments.models import IdempotencyKeyRow, PaymentRow
from rcommerce.domain.payments.service import CreateClaim
from rcommerce.domain.shipping.models import ShippingRateRow
from rcommerce.domain.shipping.repository import REFERENCE_NAMESPACE as SHIPPING_REFERENCE
from rcommerce.errors import DomainError
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import checkout_pb2 as X
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.gen.v1.common_pb2 import Address
from tests.backends._checkout_world import SHIPPING, STOREFRONT, World, as_customer, tag, world

pytestmark = pytest.mark.backends


@pytest.fixture
async def w(db: Database) -> AsyncIterator[World]:
    async with world(db) as built:
        yield built


async def _error(awaitable: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value


async def _payments(db: Database, cart_id: str, order_id: str = "") -> list[PaymentRow]:
    targets = [f"carts/{cart_id}"] + ([f"orders/{order_id}"] if order_id else [])
    async with db.read() as s:
        return list(await s.scalars(select(PaymentRow).where(PaymentRow.target.in_(targets))))


async def _state(db: Database, cart_id: str) -> tuple[object, ...]:
    """What a refused completion must leave unchanged."""
    async with db.read() as s:
        cart = await s.get(CartRow, cart_id)
        assert cart is not None
        orders = await s.scalar(select(func.count()).select_from(OrderRow))
        attempt = await s.scalar(select(CheckoutAttemptRow).where(CheckoutAttemptRow.cart_id == cart_id))
        payments = await s.scalar(
            select(func.count()).select_from(PaymentRow).where(PaymentRow.target == f"carts/{cart_id}")
        )
        return cart.status, cart.version, orders, attempt is None, payments


async def test_guest_checkout_places_the_order_and_captures_once(w: World, db: Database) -> None:
    variant = await w.variant(2500, stock=5)
    cart, token = await w.cart(variant, 2)
    done = await w.complete(cart, token, "first")
    assert done.status == X.CHECKOUT_STATUS_COMPLETED
    assert done.order.startswith("orders/ord_") and done.order_number
    assert done.total == 2 * 2500 + SHIPPING and done.currency_code == "AUD"
    cart_id = cart.removeprefix("carts/")
    order_id = done.order.removeprefix("orders/")
    async with db.read() as s:
        row = await s.get(CartRow, cart_id)
        assert row is not None and row.status == "converted" and row.converted_to == order_id
        order = await s.get(OrderRow, order_id)
        assert order is not None and order.total == 6000
        assert (order.status, order.payment_status) == ("confirmed", "paid")
        events = set(
            await s.scalars(select(OutboxEvent.type).where(OutboxEvent.subject.in_([cart, f"{cart}/checkout"])))
        )
    assert {"cart.converted", "checkout.completed"} <= events
    (payment,) = await _payments(db, cart_id, order_id)
    assert payment.status == "succeeded" and payment.amount_captured == 6000
    # Completing again, with the same key or another, returns the same order; no new charge.
    calls = dict(w.gateway.calls)
    again = await w.complete(cart, token, "first")
    other = await w.complete(cart, token, "second")
    assert again.order == other.order == done.order
    assert dict(w.gateway.calls) == calls
    got = await w.checkout.get(STOREFRONT, f"{cart}/checkout", token)
    assert got.status == X.CHECKOUT_STATUS_COMPLETED and got.order == done.order


async def test_customer_checkout(w: World, db: Database) -> None:
    customer = await w.customer()
    me = as_customer(customer)
    cart, _ = await w.cart(await w.variant(1200), principal=me, email="")
    done = await w.complete(cart, principal=me)
    async with db.read() as s:
        order = await s.get(OrderRow, done.order.removeprefix("orders/"))
    assert order is not None and order.customer_id == customer


async def test_decline_changes_nothing_but_a_failed_payment_and_a_new_key_retries(w: World, db: Database) -> None:
    variant = await w.variant(2500, stock=3)
    cart, token = await w.cart(variant)
    failed = await _error(w.complete(cart, token, "k1", card="4000000000000002"))
    assert failed.reason.name == "CARD_DECLINED" and failed.reason.http_status == 402
    cart_id = cart.removeprefix("carts/")
    assert (await _state(db, cart_id))[0] == "active"
    again = await _error(w.complete(cart, token, "k1", card="4000000000000002"))
    assert again.reason.name == "CARD_DECLINED"
    got = await w.checkout.get(STOREFRONT, f"{cart}/checkout", token)
    assert got.status == X.CHECKOUT_STATUS_FAILED and got.failure_reason == "CARD_DECLINED"
    done = await w.complete(cart, token, "k2")
    assert done.status == X.CHECKOUT_STATUS_COMPLETED and done.attempts == 2


async def test_three_d_secure_returns_the_action_and_completes_through_the_same_call(w: World, db: Database) -> None:
    cart, token = await w.cart(await w.variant(4000))
    first = await w.complete(cart, token, "3ds", card="4000002500003155")
    assert first.status == X.CHECKOUT_STATUS_REQUIRES_ACTION
    assert first.required_action.type == "three_d_secure" and first.payment.startswith("payments/")
    assert first.order == ""
    # Without the action's result the same answer comes back.
    still = await w.complete(cart, token, "3ds", card="4000002500003155")
    assert still.status == X.CHECKOUT_STATUS_REQUIRES_ACTION and still.payment == first.payment
    done = await w.complete(cart, token, "3ds", card="4000002500003155", action_data={"result": "ok"})
    assert done.status == X.CHECKOUT_STATUS_COMPLETED and done.payment == first.payment


async def test_three_d_secure_failure_fails_the_checkout(w: World, db: Database) -> None:
    cart, token = await w.cart(await w.variant(4000))
    await w.complete(cart, token, "3ds", card="4000002500003155")
    failed = await _error(w.complete(cart, token, "3ds", card="4000002500003155", action_data={"result": "fail"}))
    assert failed.reason.http_status == 402
    assert (await _state(db, cart.removeprefix("carts/")))[0] == "active"


async def test_bad_input_gets_its_reason_and_changes_nothing(w: World, db: Database) -> None:
    variant = await w.variant(2500, stock=1)
    # Empty cart.
    empty = await w.carts.create_cart(STOREFRONT, K.Cart(region=f"regions/{w.region}", email="a@example.com"))
    before = await _state(db, empty.id)
    assert (await _error(w.complete(empty.name, empty.cart_token))).reason.name == "CHECKOUT_CART_EMPTY"
    assert await _state(db, empty.id) == before
    # No shipping option selected.
    cart, token = await w.cart(variant, ship=False)
    cart_id = cart.removeprefix("carts/")
    before = await _state(db, cart_id)
    assert (await _error(w.complete(cart, token))).reason.name == "SHIPPING_ADDRESS_REQUIRED"
    await w.carts.update_cart(
        STOREFRONT, K.Cart(name=cart, shipping_address=Address(country_code="AU", city="Perth")),
        FieldMask(paths=["shipping_address"]), token,
    )  # fmt: skip
    before = await _state(db, cart_id)
    assert (await _error(w.complete(cart, token))).reason.name == "CHECKOUT_SHIPPING_OPTION_REQUIRED"
    assert await _state(db, cart_id) == before
    # An expired quote.
    options = await w.carts.list_shipping_options(STOREFRONT, cart, token)
    await w.carts.select_shipping_option(STOREFRONT, cart, options[0].quote_id, token)
    before = await _state(db, cart_id)
    w.clock.advance(hours=1)
    assert (await _error(w.complete(cart, token))).reason.name == "SHIPPING_QUOTE_EXPIRED"
    assert await _state(db, cart_id) == before
    # Wrong token, unknown gateway, gateway outside the region.
    assert (await _error(w.complete(cart, "ctok_wrong"))).reason.name == "CART_TOKEN_INVALID"
    options = await w.carts.list_shipping_options(STOREFRONT, cart, token)
    await w.carts.select_shipping_option(STOREFRONT, cart, options[0].quote_id, token)
    before = await _state(db, cart_id)
    assert (await _error(w.complete(cart, token, gateway="nope"))).reason.name == "CHECKOUT_GATEWAY_NOT_ALLOWED"
    assert (await _error(w.complete(cart, token, key=" "))).reason.name == "VALIDATION_FAILED"
    assert await _state(db, cart_id) == before
    # Expired cart (410).
    w.clock.advance(days=31)
    expired = await _error(w.complete(cart, token))
    assert expired.reason.name == "CART_EXPIRED" and expired.reason.http_status == 410
    assert await _state(db, cart_id) == before


async def test_stock_is_checked_before_any_payment(w: World, db: Database) -> None:
    variant = await w.variant(2500, stock=1)
    first, t1 = await w.cart(variant)
    second, t2 = await w.cart(variant)
    await w.complete(first, t1)
    second_id = second.removeprefix("carts/")
    before = await _state(db, second_id)
    failed = await _error(w.complete(second, t2))
    assert failed.reason.name == "INSUFFICIENT_INVENTORY" and failed.metadata["available"] == "0"
    assert await _state(db, second_id) == before


async def test_placement_failure_after_authorization_voids_it(
    w: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = await w.variant(2500, stock=2)
    cart, token = await w.cart(variant)
    cart_id = cart.removeprefix("carts/")

    async def refuse(*args: object, **kwargs: object) -> object:
        from rcommerce.domain.inventory.errors import INSUFFICIENT_INVENTORY
        from rcommerce.domain.orders.errors import OrderError

        raise OrderError(INSUFFICIENT_INVENTORY, "gone", requested=1, available=0)

    monkeypatch.setattr(w.checkout._placement, "place", refuse)
    failed = await _error(w.complete(cart, token, "p1"))
    assert failed.reason.name == "INSUFFICIENT_INVENTORY"
    (payment,) = await _payments(db, cart_id)
    assert payment.status == "cancelled" and payment.amount_captured == 0
    status, _, _, _, _ = await _state(db, cart_id)
    assert status == "active"
    got = await w.checkout.get(STOREFRONT, f"{cart}/checkout", token)
    assert got.status == X.CHECKOUT_STATUS_FAILED and got.failure_reason == "INSUFFICIENT_INVENTORY"


async def test_reconciler_voids_orphans_after_the_timeout_only(w: World, db: Database) -> None:
    variant = await w.variant(2500)
    cart, token = await w.cart(variant)
    cart_id = cart.removeprefix("carts/")
    crashed: list[bool] = []
    w.checkout.settings = w.checkout.settings.model_copy(update={"fault_injection": "crash_after_authorize"})

    class Crash(BaseException):
        pass

    def crash() -> None:
        crashed.append(True)
        raise Crash

    w.checkout._crash = crash
    with pytest.raises(Crash):
        await w.complete(cart, token, "c1")
    assert crashed
    (payment,) = await _payments(db, cart_id)
    assert payment.status == "authorized"
    # A completed checkout's payment is never touched.
    done_cart, done_token = await w.cart(variant)
    w.checkout.settings = w.checkout.settings.model_copy(update={"fault_injection": ""})
    await w.complete(done_cart, done_token)
    assert await w.reconciler.reconcile() == []  # too young
    w.clock.advance(w.reconciler.settings.orphan_timeout_s)
    assert await w.reconciler.reconcile() == [f"payments/{payment.id}"]
    (payment,) = await _payments(db, cart_id)
    assert payment.status == "cancelled"
    assert await w.reconciler.reconcile() == []
    got = await w.checkout.get(STOREFRONT, f"{cart}/checkout", token)
    assert got.status == X.CHECKOUT_STATUS_FAILED and got.failure_reason == "CHECKOUT_ABANDONED"


async def test_gateway_failure_is_retried_with_the_same_key(w: World, db: Database) -> None:
    cart, token = await w.cart(await w.variant(2500))
    w.gateway.fail_next("initiate", after=True)  # the provider authorized, the answer was lost
    failed = await _error(w.complete(cart, token, "lost"))
    assert failed.reason.name == "PAYMENT_GATEWAY_ERROR"
    assert (await _state(db, cart.removeprefix("carts/")))[0] == "active"
    done = await w.complete(cart, token, "lost")
    assert done.status == X.CHECKOUT_STATUS_COMPLETED
    (payment,) = await _payments(db, cart.removeprefix("carts/"), done.order.removeprefix("orders/"))
    assert payment.status == "succeeded" and payment.amount_captured == 3500


async def test_shipping_is_requoted_on_the_server(w: World, db: Database) -> None:
    cart, token = await w.cart(await w.variant(2500))
    cart_id = cart.removeprefix("carts/")
    before = await _state(db, cart_id)
    async with db.transaction() as s:
        await s.execute(
            update(ShippingRateRow).where(ShippingRateRow.service_code == "chk_std").values(amount=SHIPPING + 250)
        )
    await w.reference.bump(SHIPPING_REFERENCE)  # as ShippingService does after its writes
    try:
        error = await _error(w.complete(cart, token))
    finally:
        async with db.transaction() as s:
            await s.execute(
                update(ShippingRateRow).where(ShippingRateRow.service_code == "chk_std").values(amount=SHIPPING)
            )
        await w.reference.bump(SHIPPING_REFERENCE)
    assert error.reason.name == "CHECKOUT_SHIPPING_RATE_CHANGED" and error.reason.http_status == 409
    assert (error.metadata["quotedAmount"], error.metadata["currentAmount"]) == (str(SHIPPING), str(SHIPPING + 250))
    assert await _state(db, cart_id) == before


async def test_cart_changed_during_3ds_voids_the_authorization(w: World, db: Database) -> None:
    variant = await w.variant(4000)
    cart, token = await w.cart(variant)
    first = await w.complete(cart, token, "3ds", card="4000002500003155")
    assert first.status == X.CHECKOUT_STATUS_REQUIRES_ACTION
    await w.carts.add_line(STOREFRONT, cart, variant, 1, token)
    error = await _error(w.complete(cart, token, "3ds", card="4000002500003155", action_data={"result": "ok"}))
    assert error.reason.name == "CHECKOUT_TOTAL_CHANGED"
    assert error.metadata["authorizedAmount"] == "5000" and error.metadata["total"] == "9000"
    (payment,) = await _payments(db, cart.removeprefix("carts/"))
    assert payment.status == "cancelled"
    # A new key authorizes the new total.
    done = await w.complete(cart, token, "3ds-2")
    assert done.status == X.CHECKOUT_STATUS_COMPLETED and done.total == 9000


async def test_the_capture_and_the_order_paid_event_commit_together_in_order(w: World, db: Database) -> None:
    variant = await w.variant(2500, stock=5)
    cart, token = await w.cart(variant, 1)
    done = await w.complete(cart, token)
    order_id = done.order.removeprefix("orders/")
    (payment,) = await _payments(db, cart.removeprefix("carts/"), order_id)
    async with db.read() as s:
        trace = list(
            await s.execute(
                select(OutboxEvent.type, OutboxEvent.data)
                .where(OutboxEvent.subject.in_([done.order, f"payments/{payment.id}"]))
                .order_by(OutboxEvent.seq)
            )
        )
    types = [t for t, _ in trace]
    assert types[-2:] == ["payment.captured", "order.paid"] and types.count("order.paid") == 1
    paid = trace[-1][1]
    assert (
        paid["previousPaymentStatus"] == "authorized" and paid["object"]["paymentStatus"] == "ORDER_PAYMENT_STATUS_PAID"
    )
    assert (payment.status, payment.lock_key, payment.amount_captured) == ("succeeded", "", 2500 + SHIPPING)


async def test_a_refused_capture_claim_leaves_the_order_placed_and_authorized(
    w: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The automatic capture is claimed in the order's transaction; when the payment
    cannot be captured then (here another operation holds it), the order still commits,
    with an authorized payment and nothing of the capture's claim."""
    cart, token = await w.cart(await w.variant(2500))
    cart_id = cart.removeprefix("carts/")
    initiate = w.payments.initiate_claimed

    async def then_held(claim: CreateClaim) -> P.Payment:
        payment = await initiate(claim)
        async with db.transaction() as s:  # staff (or a webhook) operating on the payment meanwhile
            await s.execute(
                update(PaymentRow)
                .where(PaymentRow.id == claim.payment_id)
                .values(lock_key="another-operation", locked_at=w.clock.now())
            )
        return payment

    monkeypatch.setattr(w.payments, "initiate_claimed", then_held)
    done = await w.complete(cart, token, "held")
    assert done.status == X.CHECKOUT_STATUS_COMPLETED
    order_id = done.order.removeprefix("orders/")
    (payment,) = await _payments(db, cart_id, order_id)
    assert (payment.target, payment.status, payment.amount_captured) == (done.order, "authorized", 0)
    assert payment.lock_key == "another-operation"  # not touched
    async with db.read() as s:
        order = await s.get(OrderRow, order_id)
        assert order is not None and (order.status, order.payment_status) == ("confirmed", "authorized")
        assert await s.get(IdempotencyKeyRow, f"chk-cap:{payment.id}") is None
    # Once the other operation is over, staff capture it, even with the checkout's key.
    async with db.transaction() as s:
        await s.execute(update(PaymentRow).where(PaymentRow.id == payment.id).values(lock_key="", locked_at=None))
    captured = await w.payments.capture(
        P.CapturePaymentRequest(name=f"payments/{payment.id}", idempotency_key=f"chk-cap:{payment.id}")
    )
    assert captured.status == P.PAYMENT_STATUS_SUCCEEDED and captured.amount_captured == 2500 + SHIPPING


async def test_a_refused_capture_claim_writes_nothing_in_the_callers_transaction(w: World, db: Database) -> None:
    cart, _ = await w.cart(await w.variant(2500))
    payment = await w.payments.create_payment(
        P.CreatePaymentRequest(
            target=cart, gateway="test", method_type="card", amount=2500, currency_code="AUD",
            capture_method="manual", method_data={"number": "4242424242424242"}, idempotency_key=f"pay-{tag()}",
        )
    )  # fmt: skip
    assert payment.status == P.PAYMENT_STATUS_AUTHORIZED
    payment_id = payment.name.removeprefix("payments/")
    released = f"cap-{tag()}"
    w.gateway.fail_next("capture")  # the provider never saw it: the key is released
    failed = await _error(w.payments.capture(P.CapturePaymentRequest(name=payment.name, idempotency_key=released)))
    assert failed.reason.name == "PAYMENT_GATEWAY_ERROR"
    await w.payments.void(P.VoidPaymentRequest(name=payment.name, idempotency_key=f"void-{tag()}"))
    async with db.read() as s:
        revision = (await s.get(PaymentRow, payment_id)).revision  # type: ignore[union-attr]
    fresh = f"cap-{tag()}"
    for key in (released, fresh):  # a released key taken over, a new key inserted
        async with db.transaction() as s:
            refused = await _error(
                w.payments.claim_capture(s, P.CapturePaymentRequest(name=payment.name, idempotency_key=key))
            )
            assert refused.reason.name == "INVALID_PAYMENT_STATUS"
            # The caller's transaction goes on and commits.
            await s.execute(update(PaymentRow).where(PaymentRow.id == payment_id).values(customer_email=f"{key}@x.io"))
    async with db.read() as s:
        row = await s.get(PaymentRow, payment_id)
        assert row is not None and (row.status, row.lock_key, row.locked_at) == ("cancelled", "", None)
        assert row.revision == revision and row.customer_email == f"{fresh}@x.io"
        assert await s.get(IdempotencyKeyRow, fresh) is None
        kept = await s.get(IdempotencyKeyRow, released)
        assert kept is not None and (kept.state, kept.claimed_at) == ("pending", None)


async def test_a_refused_payment_claim_undoes_the_whole_first_step(w: World, db: Database) -> None:
    """The payment is claimed in the checkout's first transaction: when payments refuse it
    (here the same key now asks for another amount) nothing of that transaction stays,
    the attempt included, and the completion records no failure."""
    variant = await w.variant(2500)
    cart, token = await w.cart(variant)
    cart_id = cart.removeprefix("carts/")
    w.gateway.fail_next("initiate")  # nothing reached the provider: the completion is released
    assert (await _error(w.complete(cart, token, "same"))).reason.name == "PAYMENT_GATEWAY_ERROR"
    await w.carts.add_line(STOREFRONT, cart, variant, 1, token)

    async def attempt() -> tuple[object, ...]:
        async with db.read() as s:
            row = await s.scalar(select(CheckoutAttemptRow).where(CheckoutAttemptRow.cart_id == cart_id))
            assert row is not None
            return row.status, row.lock_key, row.attempts, row.amount, row.failure_reason, row.updated_at

    before, attempt_before = await _state(db, cart_id), await attempt()
    w.clock.advance(seconds=5)
    refused = await _error(w.complete(cart, token, "same"))
    assert refused.reason.name == "IDEMPOTENCY_KEY_REUSED"
    assert await _state(db, cart_id) == before and await attempt() == attempt_before
    assert attempt_before[:2] == ("authorizing", "")
    done = await w.complete(cart, token, "another")
    assert done.status == X.CHECKOUT_STATUS_COMPLETED and done.total == 2 * 2500 + SHIPPING


async def test_a_caller_that_goes_away_after_placement_still_gets_its_capture(
    w: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The order commits with its capture claimed; a client deadline or disconnect during
    the gateway's capture cancels the call, not the capture: the payment is captured and
    unlocked, the order paid."""
    cart, token = await w.cart(await w.variant(2500))
    capturing, answer = asyncio.Event(), asyncio.Event()
    capture = type(w.gateway).capture  # a gateway whose capture answers when the test says

    async def slow_capture(self: Any, request: Any) -> Any:
        capturing.set()
        await answer.wait()
        return await capture(self, request)

    monkeypatch.setattr(type(w.gateway), "capture", slow_capture)
    call = asyncio.create_task(w.complete(cart, token, "goes-away"))
    await capturing.wait()
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call
    answer.set()
    await w.checkout.finish_captures()
    async with db.read() as s:
        order = await s.scalar(select(OrderRow).where(OrderRow.cart_id == cart.removeprefix("carts/")))
        assert order is not None and (order.status, order.payment_status) == ("confirmed", "paid")
    (payment,) = await _payments(db, cart.removeprefix("carts/"), order.id)
    assert (payment.status, payment.lock_key) == ("succeeded", "")
