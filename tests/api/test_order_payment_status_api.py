"""An order's payment status follows its payments whoever moves them, each test on gRPC
and on REST: a bank transfer stays authorized through a region's automatic capture and
becomes paid when staff capture it with the payments API, refunded when it is refunded
there; a refund reported by the gateway's webhook marks a card order partially refunded."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.domain.payments.models import PaymentWebhookEventRow
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import checkout_pb2 as X
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.plugins.builtin.test_gateway import sign_stripe_style
from rcommerce.testing.client import ApiClient
from rcommerce.testing.server import LiveServer
from tests.api._checkout_flow import ready_cart
from tests.backends._checkout_world import SYDNEY, ensure_region, product


@pytest.fixture
async def region(db: Database) -> str:
    return await ensure_region(db, SystemClock())  # AUD, automatic capture, gateways test and manual


@pytest.fixture
async def shop(client: ApiClient, server: LiveServer) -> AsyncIterator[ApiClient]:
    key = await server.create_key(["carts:write", "carts:read", "checkout:write"], kind="publishable")
    yield client.with_token(key)


async def _checkout(client: ApiClient, shop: ApiClient, region: str, **payment: object) -> X.Checkout:
    cart, token = await ready_cart(client, shop, region, product(2500), SYDNEY, "chk_std", quantity=2)
    done = await shop.call(
        "CompleteCheckout",
        X.CompleteCheckoutRequest(cart=cart, cart_token=token, idempotency_key=uuid.uuid4().hex, **payment),  # type: ignore[arg-type]
    )
    assert done.status == X.CHECKOUT_STATUS_COMPLETED
    return done


async def _order(client: ApiClient, checkout: X.Checkout) -> O.Order:
    return await client.call("GetOrder", O.GetOrderRequest(name=checkout.order))


async def _order_events(db: Database, order: str) -> list[str]:
    async with db.read() as s:
        return list(
            await s.scalars(select(OutboxEvent.type).where(OutboxEvent.subject == order).order_by(OutboxEvent.seq))
        )


async def test_a_bank_transfer_is_paid_when_staff_capture_it_and_refunded_when_refunded(
    client: ApiClient, shop: ApiClient, region: str, db: Database
) -> None:
    done = await _checkout(client, shop, region, gateway="manual", method_type="bank_transfer")
    order = await _order(client, done)
    # The region captures automatically, but nothing has arrived for a bank transfer.
    assert order.payment_status == O.ORDER_PAYMENT_STATUS_AUTHORIZED
    payment = await client.call("GetPayment", P.GetPaymentRequest(name=done.payment))
    assert payment.status == P.PAYMENT_STATUS_AUTHORIZED and payment.amount_captured == 0

    await client.call("CapturePayment", P.CapturePaymentRequest(name=done.payment, idempotency_key=uuid.uuid4().hex))
    order = await _order(client, done)
    assert order.payment_status == O.ORDER_PAYMENT_STATUS_PAID
    assert (await _order_events(db, done.order)).count("order.paid") == 1

    await client.call(
        "RefundPayment",
        P.RefundPaymentRequest(name=done.payment, amount=order.totals.total, idempotency_key=uuid.uuid4().hex),
    )
    order = await _order(client, done)
    assert order.payment_status == O.ORDER_PAYMENT_STATUS_REFUNDED
    assert order.status == O.ORDER_STATUS_REFUNDED  # refunds reached the total


async def test_a_refund_reported_by_the_gateway_marks_the_order_partially_refunded(
    client: ApiClient, shop: ApiClient, region: str, server: LiveServer
) -> None:
    done = await _checkout(client, shop, region, gateway="test", method_data={"number": "4242424242424242"})
    assert (await _order(client, done)).payment_status == O.ORDER_PAYMENT_STATUS_PAID  # captured automatically
    payment = await client.call("GetPayment", P.GetPaymentRequest(name=done.payment))

    # A refund made in the provider's dashboard: only its webhook tells us.
    event_id, at = f"evt_{uuid.uuid4().hex}", int(time.time())
    body = json.dumps({
        "id": event_id, "type": "charge.refunded", "created": at,
        "data": {"object": {"id": f"ch_{uuid.uuid4().hex}", "payment_intent": payment.gateway_reference,
                            "amount_refunded": 1000, "currency": "aud"}},
    }).encode()  # fmt: skip
    headers = {"stripe-signature": sign_stripe_style("whsec_test", body, at), "content-type": "application/json"}
    async with httpx.AsyncClient() as http:
        answer = await http.post(f"{server.base_url}/v1/payments/webhooks/test", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    async with server.app.db.read() as s:
        hook_id = await s.scalar(select(PaymentWebhookEventRow.id).where(PaymentWebhookEventRow.event_id == event_id))
    assert hook_id is not None
    # The in-process worker may have processed it already; either way the result is the same.
    assert await server.app.payments.process_webhook(hook_id) == "processed"

    refunded = await client.call("GetPayment", P.GetPaymentRequest(name=done.payment))
    assert refunded.status == P.PAYMENT_STATUS_PARTIALLY_REFUNDED and refunded.amount_refunded == 1000
    order = await _order(client, done)
    assert order.payment_status == O.ORDER_PAYMENT_STATUS_PARTIALLY_REFUNDED
    assert order.status == O.ORDER_STATUS_CONFIRMED
