"""PaymentService through the API: every test runs over gRPC and over REST (``client``);
the inbound webhook endpoint is raw HTTP."""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from rcommerce import hookimpl
from rcommerce.domain.payments.models import PaymentWebhookEventRow
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.plugins.builtin.test_gateway import TestGateway, sign_stripe_style
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer


class _Counting(TestGateway):
    """The test gateway, counting every call that reaches it."""

    __test__ = False

    def __init__(self) -> None:
        super().__init__(code="api-counting", display_name="Counting")
        self.seen: Counter[str] = Counter()

    async def capture(self, request: Any) -> Any:
        self.seen["capture"] += 1
        return await super().capture(request)

    async def refund(self, request: Any) -> Any:
        self.seen["refund"] += 1
        return await super().refund(request)


class _Plugin:
    rcommerce_requires = ">=0.1,<0.2"

    def __init__(self) -> None:
        self.gateway = _Counting()

    @hookimpl
    def rcommerce_payment_gateways(self, config: Any) -> list[Any]:
        return [self.gateway]


@pytest.fixture
def counting(server: LiveServer) -> Iterator[_Counting]:
    """A gateway registered through the hook on the running server."""
    plugin = _Plugin()
    host = server.app.plugins
    host.register(plugin, "api-counting")
    fresh = host.collect_providers().payment_gateways
    server.app.providers.payment_gateways["api-counting"] = fresh["api-counting"]
    yield plugin.gateway
    del server.app.providers.payment_gateways["api-counting"]
    host.unregister("api-counting")


@pytest.fixture
async def cart(server: LiveServer) -> str:
    """A cart to pay: CreatePayment refuses a target that does not exist."""
    return (await server.create_cart())[0]


def _create(target: str, gateway: str = "test", card: str = "4242424242424242", **kw: Any) -> P.CreatePaymentRequest:
    return P.CreatePaymentRequest(
        target=target, gateway=gateway, method_type="card", amount=kw.pop("amount", 9999), currency_code="USD",
        method_data={"number": card}, idempotency_key=uuid.uuid4().hex, **kw,
    )  # fmt: skip


async def test_available_methods_filter_by_currency_amount_and_gateways(client: ApiClient) -> None:
    found = await client.call(
        "ListAvailablePaymentMethods", P.ListAvailablePaymentMethodsRequest(currency_code="USD", amount=9999)
    )
    pairs = {(m.gateway, m.method_type) for m in found.methods}
    assert {("test", "card"), ("manual", "bank_transfer"), ("manual", "cash_on_delivery")} <= pairs
    card = next(m for m in found.methods if m.gateway == "test")
    assert (card.min_amount, card.supports_3ds) == (50, True)
    small = await client.call(
        "ListAvailablePaymentMethods",
        P.ListAvailablePaymentMethodsRequest(currency_code="USD", amount=10, gateways=["test"]),
    )
    assert list(small.methods) == []
    with pytest.raises(ApiError) as err:
        await client.call("ListAvailablePaymentMethods", P.ListAvailablePaymentMethodsRequest(currency_code="usd"))
    assert err.value.reason == "VALIDATION_FAILED"


async def test_authorize_capture_refund_and_replays_reach_the_gateway_once(
    client: ApiClient, counting: _Counting, cart: str
) -> None:
    auth = await client.call("CreatePayment", _create(cart, "api-counting", capture_method="manual"))
    assert auth.status == P.PAYMENT_STATUS_AUTHORIZED and auth.name.startswith("payments/pay_")
    capture = P.CapturePaymentRequest(name=auth.name, amount=6000, idempotency_key=uuid.uuid4().hex)
    first = await client.call("CapturePayment", capture)
    assert await client.call("CapturePayment", capture) == first
    assert (first.status, first.amount_captured) == (P.PAYMENT_STATUS_SUCCEEDED, 6000)
    refund = P.RefundPaymentRequest(name=auth.name, amount=1000, reason="duplicate", idempotency_key=uuid.uuid4().hex)
    refunded = await client.call("RefundPayment", refund)
    assert await client.call("RefundPayment", refund) == refunded
    assert (refunded.status, refunded.amount_refunded) == (P.PAYMENT_STATUS_PARTIALLY_REFUNDED, 1000)
    assert counting.seen == Counter({"capture": 1, "refund": 1})
    refund.amount = 999
    with pytest.raises(ApiError) as err:
        await client.call("RefundPayment", refund)
    assert err.value.reason == "IDEMPOTENCY_KEY_REUSED" and err.value.status == "ABORTED"
    with pytest.raises(ApiError) as err:
        await client.call(
            "RefundPayment", P.RefundPaymentRequest(name=auth.name, amount=5001, idempotency_key=uuid.uuid4().hex)
        )
    assert (err.value.reason, err.value.metadata) == (
        "REFUND_AMOUNT_INVALID",
        err.value.metadata,
    ) and err.value.metadata["refundableAmount"] == "5000"
    got = await client.call("GetPayment", P.GetPaymentRequest(name=auth.name))
    assert [t.kind for t in got.transactions] == ["initiate", "capture", "refund"]


async def test_decline_answers_402_with_the_reason(client: ApiClient, cart: str) -> None:
    with pytest.raises(ApiError) as err:
        await client.call("CreatePayment", _create(cart, card="4000000000000002"))
    assert (err.value.reason, err.value.metadata["declineCode"]) == ("CARD_DECLINED", "card_declined")
    if client.transport == "rest":
        assert err.value.http_status == 402
    failed = await client.call("GetPayment", P.GetPaymentRequest(name=err.value.metadata["payment"]))
    assert failed.status == P.PAYMENT_STATUS_FAILED


async def test_three_d_secure_then_complete(client: ApiClient, cart: str) -> None:
    pending = await client.call("CreatePayment", _create(cart, card="4000002500003155"))
    assert pending.status == P.PAYMENT_STATUS_REQUIRES_ACTION and pending.action.data["redirect_url"]
    done = await client.call(
        "CompletePaymentAction", P.CompletePaymentActionRequest(name=pending.name, idempotency_key=uuid.uuid4().hex)
    )
    assert done.status == P.PAYMENT_STATUS_SUCCEEDED and not done.HasField("action")


async def test_missing_key_and_bad_input_are_clear(client: ApiClient, cart: str) -> None:
    request = _create(cart)
    request.idempotency_key = ""
    with pytest.raises(ApiError) as err:
        await client.call("CreatePayment", request)
    assert err.value.reason == "VALIDATION_FAILED" and err.value.field_violations == ["idempotency_key"]
    with pytest.raises(ApiError) as err:
        await client.call("CreatePayment", _create(cart, amount=10))
    assert err.value.reason == "INVALID_AMOUNT" and err.value.metadata["minAmount"] == "50"
    with pytest.raises(ApiError) as err:
        await client.call("GetPayment", P.GetPaymentRequest(name="payments/pay_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"))
    assert err.value.reason == "PAYMENT_NOT_FOUND"


async def test_storefront_keys_cannot_move_money_back(client: ApiClient, server: LiveServer) -> None:
    key = await server.create_key(["payments:write", "carts:write"], kind="publishable")
    cart, token = await server.create_cart(key)
    storefront = client.with_token(key)
    try:
        paid = await storefront.call("CreatePayment", _create(cart, cart_token=token))
        with pytest.raises(ApiError) as err:
            await storefront.call(
                "RefundPayment", P.RefundPaymentRequest(name=paid.name, idempotency_key=uuid.uuid4().hex)
            )
        assert err.value.reason == "INSUFFICIENT_PERMISSIONS"
    finally:
        await storefront.close()


def _signed(event_id: str, ref: str, at: int) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"id": event_id, "type": "payment_intent.succeeded", "created": at,
                       "data": {"object": {"id": ref, "amount_received": 9999}}}).encode()  # fmt: skip
    return body, {"stripe-signature": sign_stripe_style("whsec_test", body, at), "content-type": "application/json"}


async def test_inbound_webhook_endpoint_verifies_raw_bytes(server: LiveServer, cart: str) -> None:
    api = server.grpc_client(server.admin_key)
    try:
        pending = await api.call("CreatePayment", _create(cart, card="4000002500003155"))
    finally:
        await api.close()
    event_id = f"evt_{uuid.uuid4().hex}"
    body, headers = _signed(event_id, pending.gateway_reference, int(time.time()))
    url = f"{server.base_url}/v1/payments/webhooks/test"
    async with httpx.AsyncClient() as http:
        ok = await http.post(url, content=body, headers=headers)
        assert ok.status_code == 200 and ok.json()["duplicate"] is False
        assert (await http.post(url, content=body, headers=headers)).json()["duplicate"] is True
        tampered = await http.post(url, content=body.replace(b"9999", b"9990"), headers=headers)
        assert tampered.status_code == 400
        assert tampered.json()["error"]["details"][0]["reason"] == "WEBHOOK_SIGNATURE_INVALID"
        unknown = await http.post(f"{server.base_url}/v1/payments/webhooks/nope", content=body, headers=headers)
        assert unknown.status_code == 404 and unknown.json()["error"]["details"][0]["reason"] == "GATEWAY_NOT_FOUND"
    async with server.app.db.read() as s:
        hook_id = await s.scalar(select(PaymentWebhookEventRow.id).where(PaymentWebhookEventRow.event_id == event_id))
    assert hook_id is not None
    # The in-process worker may have run the job already; either way the result is the same.
    assert await server.app.payments.process_webhook(hook_id) == "processed"
    api = server.grpc_client(server.admin_key)
    try:
        paid = await api.call("GetPayment", P.GetPaymentRequest(name=pending.name))
    finally:
        await api.close()
    assert paid.status == P.PAYMENT_STATUS_SUCCEEDED and paid.transactions[-1].kind == "webhook"


async def test_rest_idempotency_key_header(server: LiveServer, cart: str) -> None:
    body = {"target": cart, "gateway": "test", "methodType": "card", "amount": "9999", "currencyCode": "USD",
            "methodData": {"token": "pm_card_visa"}}  # fmt: skip
    headers = {"Authorization": f"Bearer {server.admin_key}", "Idempotency-Key": uuid.uuid4().hex}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        first = await http.post("/v1/payments", json=body, headers=headers)
        again = await http.post("/v1/payments", json=body, headers=headers)
        other = await http.post("/v1/payments", json={**body, "amount": "9998"}, headers=headers)
    assert first.status_code == 200 and first.json()["status"] == "PAYMENT_STATUS_SUCCEEDED"
    assert again.json()["name"] == first.json()["name"]
    assert other.status_code == 409 and other.json()["error"]["details"][0]["reason"] == "IDEMPOTENCY_KEY_REUSED"
