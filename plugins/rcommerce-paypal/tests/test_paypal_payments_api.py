"""PayPal end to end: a live rcommerce server with the paypal plugin loaded from its entry
point, the buyer's approval at the local PayPal fake, refunds, and webhooks delivered by
the fake to ``POST /v1/payments/webhooks/paypal``. Every test runs over gRPC and REST."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_paypal import FakePayPal, RunningFake
from sqlalchemy import select

from rcommerce.clock import FrozenClock
from rcommerce.domain.payments.models import PaymentWebhookEventRow
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.databases import matrix, migrated_url
from rcommerce.testing.server import LiveServer, live_server

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def paypal(clock: FrozenClock) -> Iterator[FakePayPal]:
    fake = FakePayPal(clock=clock.now)
    with RunningFake(fake):
        yield fake


@pytest.fixture(params=matrix())
def database_name(request: pytest.FixtureRequest) -> str:
    """Each end-to-end test runs on every database of RCOMMERCE_TEST_DATABASES (sqlite by default)."""
    return str(request.param)


@pytest.fixture
async def shop(paypal: FakePayPal, clock: FrozenClock, tmp_path: Path, database_name: str) -> AsyncIterator[LiveServer]:
    settings = {
        "client_id": paypal.client_id, "client_secret": paypal.client_secret, "webhook_id": paypal.webhook_id,
        "base_url": paypal.base_url, "cert_url_prefixes": [f"{paypal.base_url}/v1/notifications/certs/"],
    }  # fmt: skip
    url = await migrated_url(database_name, tmp_path)
    async with live_server(url, clock, plugins={"autoload": True, "enabled": ["paypal"], "paypal": settings}) as live:
        paypal.webhook_url = f"{live.base_url}/v1/payments/webhooks/paypal"
        yield live


@pytest.fixture(params=["grpc", "rest"])
async def api(request: pytest.FixtureRequest, shop: LiveServer) -> AsyncIterator[ApiClient]:
    client = shop.grpc_client(shop.admin_key) if request.param == "grpc" else shop.rest_client(shop.admin_key)
    yield client
    await client.close()


@pytest.fixture
async def cart(shop: LiveServer) -> str:
    """A cart to pay: CreatePayment refuses a target that does not exist."""
    return (await shop.create_cart())[0]


def _payment(target: str, **kw: Any) -> P.CreatePaymentRequest:
    return P.CreatePaymentRequest(
        target=target, gateway="paypal", method_type="paypal", amount=kw.pop("amount", 9999), currency_code="USD",
        return_url="https://shop.example/paypal/return", idempotency_key=uuid.uuid4().hex, **kw,
    )  # fmt: skip


def _key() -> str:
    return uuid.uuid4().hex


async def _approve_and_complete(api: ApiClient, paypal: FakePayPal, pending: P.Payment) -> P.Payment:
    async with httpx.AsyncClient() as browser:  # the buyer approves at PayPal
        assert (await browser.get(pending.action.data["redirect_url"])).status_code == 200
    return await api.call(
        "CompletePaymentAction",
        P.CompletePaymentActionRequest(
            name=pending.name, action_data={"token": pending.gateway_reference}, idempotency_key=_key()
        ),
    )


async def test_paypal_is_offered_for_its_currencies(api: ApiClient) -> None:
    found = await api.call(
        "ListAvailablePaymentMethods", P.ListAvailablePaymentMethodsRequest(currency_code="USD", amount=9999)
    )
    [method] = [m for m in found.methods if m.gateway == "paypal"]
    assert (method.method_type, method.display_name, method.requires_redirect) == ("paypal", "PayPal", True)
    none = await api.call(
        "ListAvailablePaymentMethods", P.ListAvailablePaymentMethodsRequest(currency_code="HUF", amount=9999)
    )
    assert all(m.gateway != "paypal" for m in none.methods)


async def test_approve_redirect_capture_and_refunds(api: ApiClient, paypal: FakePayPal, cart: str) -> None:
    pending = await api.call("CreatePayment", _payment(cart))
    assert pending.status == P.PAYMENT_STATUS_REQUIRES_ACTION and pending.action.type == "redirect"
    assert pending.action.data["redirect_url"].endswith(f"/checkoutnow?token={pending.gateway_reference}")
    assert pending.action.expire_time.ToDatetime(UTC) == START + timedelta(minutes=30)
    paid = await _approve_and_complete(api, paypal, pending)
    assert (paid.status, paid.amount_captured) == (P.PAYMENT_STATUS_SUCCEEDED, 9999)
    [capture_id] = paypal.captures
    assert (paid.transaction_id, paid.receipt_url) == (capture_id, "")  # PayPal has no receipt page
    part = await api.call("RefundPayment", P.RefundPaymentRequest(name=paid.name, amount=3000, idempotency_key=_key()))
    assert (part.status, part.amount_refunded) == (P.PAYMENT_STATUS_PARTIALLY_REFUNDED, 3000)
    rest = await api.call("RefundPayment", P.RefundPaymentRequest(name=paid.name, amount=6999, idempotency_key=_key()))
    assert (rest.status, rest.amount_refunded) == (P.PAYMENT_STATUS_REFUNDED, 9999)
    assert sorted(r["amount"]["value"] for r in paypal.refunds.values()) == ["30.00", "69.99"]


async def test_buyer_declined_at_capture(api: ApiClient, paypal: FakePayPal, cart: str) -> None:
    pending = await api.call("CreatePayment", _payment(cart))
    paypal.approve(pending.gateway_reference, declined=True)
    with pytest.raises(ApiError) as err:
        await api.call(
            "CompletePaymentAction", P.CompletePaymentActionRequest(name=pending.name, idempotency_key=_key())
        )
    assert err.value.reason == "PAYMENT_DECLINED" and err.value.metadata["declineCode"] == "instrument_declined"


async def test_authorize_capture_part_and_refund(api: ApiClient, paypal: FakePayPal, cart: str) -> None:
    pending = await api.call("CreatePayment", _payment(cart, capture_method="manual"))
    auth = await _approve_and_complete(api, paypal, pending)
    assert auth.status == P.PAYMENT_STATUS_AUTHORIZED
    captured = await api.call(
        "CapturePayment", P.CapturePaymentRequest(name=auth.name, amount=5000, idempotency_key=_key())
    )
    assert (captured.status, captured.amount_captured) == (P.PAYMENT_STATUS_SUCCEEDED, 5000)
    [capture_id] = paypal.captures
    assert captured.transaction_id == capture_id
    reads = len(paypal.calls("GET", r"/v2/checkout/orders/\w+"))
    refunded = await api.call(
        "RefundPayment", P.RefundPaymentRequest(name=auth.name, amount=5000, idempotency_key=_key())
    )
    assert refunded.status == P.PAYMENT_STATUS_REFUNDED
    # The core kept the capture's id from capture(): the refund goes straight to it.
    assert len(paypal.calls("GET", r"/v2/checkout/orders/\w+")) == reads
    [sent] = paypal.calls("POST", r"/v2/payments/captures/[\w-]+/refund")
    assert sent.path == f"/v2/payments/captures/{capture_id}/refund"


async def test_webhooks_valid_tampered_stale_duplicate(
    api: ApiClient, shop: LiveServer, paypal: FakePayPal, clock: FrozenClock, cart: str
) -> None:
    pending = await api.call("CreatePayment", _payment(cart))
    paid = await _approve_and_complete(api, paypal, pending)
    # A partial refund made in PayPal's dashboard: only the webhook tells rcommerce.
    capture_id = next(iter(paypal.captures))
    paypal.dashboard_refund(capture_id, {"currency_code": "USD", "value": "25.00"})
    refunded = next(e for e in paypal.events if e["event_type"] == "PAYMENT.CAPTURE.REFUNDED")
    url = f"{shop.base_url}/v1/payments/webhooks/paypal"
    body, headers = paypal.signed(refunded)
    async with httpx.AsyncClient() as http:
        changed = bytearray(body)
        changed[body.index(b"25.00")] = ord("9")
        bad = await http.post(url, content=bytes(changed), headers=headers)
        assert bad.status_code == 400 and bad.json()["error"]["details"][0]["reason"] == "WEBHOOK_SIGNATURE_INVALID"
        stale_body, stale = paypal.signed(refunded, at=clock.now() - timedelta(seconds=301))
        assert (await http.post(url, content=stale_body, headers=stale)).status_code == 400
        assert (await http.post(url, content=body, headers=headers)).json()["duplicate"] is False
        assert (await http.post(url, content=body, headers=headers)).json()["duplicate"] is True
    delivered = await paypal.deliver()  # approval (ignored), capture completed, refund (a duplicate now)
    assert {kind for kind, _ in delivered} >= {"CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"}
    assert all(code == 200 for _, code in delivered)
    async with shop.app.db.read() as s:
        ids = list(
            await s.scalars(
                select(PaymentWebhookEventRow.id).order_by(
                    PaymentWebhookEventRow.received_at, PaymentWebhookEventRow.id
                )
            )
        )
    for hook_id in ids:  # the in-process worker may have run some already
        await shop.app.payments.process_webhook(hook_id)
    now = await api.call("GetPayment", P.GetPaymentRequest(name=paid.name))
    assert (now.status, now.amount_refunded) == (P.PAYMENT_STATUS_PARTIALLY_REFUNDED, 2500)
    assert sum(1 for t in now.transactions if t.kind == "webhook") == 1, "the duplicate changed nothing"
