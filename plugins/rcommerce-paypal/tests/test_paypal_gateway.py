"""The paypal gateway on its own: OAuth, Orders v2 shapes, error mapping, webhooks, settings."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fake_paypal import CERT_PATH, FakePayPal, RunningFake, make_certificate, sign_delivery
from pydantic import ValidationError
from rcommerce_paypal import PayPalGateway, PayPalSettings, gateway_from_settings

from rcommerce.plugins.providers import (
    CaptureRequest,
    CompleteActionRequest,
    GatewayError,
    InitiateRequest,
    OperationStatus,
    PaymentOutcome,
    PaymentRef,
    PaymentResult,
    RefundRequest,
    VoidRequest,
    WebhookEventType,
    WebhookRequest,
    WebhookSignatureError,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def fake() -> Iterator[FakePayPal]:
    paypal = FakePayPal(clock=lambda: NOW)
    with RunningFake(paypal):
        yield paypal


def _gateway(fake: FakePayPal, **kw: object) -> PayPalGateway:
    options: dict[str, object] = {
        "client_id": fake.client_id, "client_secret": fake.client_secret, "webhook_id": fake.webhook_id,
        "base_url": fake.base_url, "cert_url_prefixes": (f"{fake.base_url}/v1/notifications/certs/",),
    }  # fmt: skip
    options.update(kw)
    return PayPalGateway(**options)  # type: ignore[arg-type]


def _initiate(amount: int = 9999, currency: str = "USD", key: str = "key-1", **kw: object) -> InitiateRequest:
    data = kw.pop("data", {})
    return InitiateRequest("pay_1", amount, currency, "paypal", key, data, return_url="https://shop.example/back", **kw)  # type: ignore[arg-type]


def _ref(result: PaymentResult, amount: int = 9999) -> PaymentRef:
    return PaymentRef("pay_1", result.gateway_ref, amount, "USD", dict(result.provider_data))


async def _approved(fake: FakePayPal, gateway: PayPalGateway, **kw: object) -> PaymentResult:
    started = await gateway.initiate(_initiate(**kw))
    fake.approve(started.gateway_ref)
    return await gateway.complete_action(CompleteActionRequest(_ref(started), "complete-1"))


# -- orders -----------------------------------------------------------------------------------
async def test_initiate_creates_an_order_and_asks_for_approval(fake: FakePayPal) -> None:
    result = await _gateway(fake, brand_name="Demo Shop").initiate(
        _initiate(description="Order 1001", customer_email="j@example.com")
    )
    assert result.outcome is PaymentOutcome.REQUIRES_ACTION and result.action is not None
    assert result.action.type == "redirect"
    assert result.action.data["redirect_url"] == f"{fake.base_url}/checkoutnow?token={result.gateway_ref}"
    [create] = fake.calls("POST", "/v2/checkout/orders")
    assert create.headers["paypal-request-id"] == "key-1" and create.headers["prefer"] == "return=representation"
    assert create.body["intent"] == "CAPTURE"
    [unit] = create.body["purchase_units"]
    assert unit == {"reference_id": "pay_1", "custom_id": "pay_1", "description": "Order 1001",
                    "amount": {"currency_code": "USD", "value": "99.99"}}  # fmt: skip
    context = create.body["payment_source"]["paypal"]["experience_context"]
    assert context["return_url"] == context["cancel_url"] == "https://shop.example/back"
    assert context["brand_name"] == "Demo Shop" and context["user_action"] == "PAY_NOW"


async def test_zero_decimal_currency_values(fake: FakePayPal) -> None:
    await _gateway(fake).initiate(_initiate(amount=5000, currency="JPY"))
    assert fake.calls("POST", "/v2/checkout/orders")[0].body["purchase_units"][0]["amount"] == {
        "currency_code": "JPY",
        "value": "5000",
    }


async def test_complete_before_approval_keeps_waiting_then_captures(fake: FakePayPal) -> None:
    gateway = _gateway(fake)
    started = await gateway.initiate(_initiate())
    waiting = await gateway.complete_action(CompleteActionRequest(_ref(started), "complete-1"))
    assert waiting.outcome is PaymentOutcome.REQUIRES_ACTION and waiting.action == started.action
    assert fake.calls("POST", r"/v2/checkout/orders/\w+/capture") == []
    fake.approve(started.gateway_ref)
    done = await gateway.complete_action(CompleteActionRequest(_ref(started), "complete-2"))
    assert (done.outcome, done.amount_captured, done.gateway_ref) == (
        PaymentOutcome.CAPTURED,
        9999,
        started.gateway_ref,
    )
    assert done.provider_data["capture_id"] in fake.captures
    [capture] = fake.calls("POST", r"/v2/checkout/orders/\w+/capture")
    assert capture.headers["paypal-request-id"] == "complete-2:capture"


async def test_declined_funding_source_is_a_retryable_failure(fake: FakePayPal) -> None:
    gateway = _gateway(fake)
    started = await gateway.initiate(_initiate())
    fake.approve(started.gateway_ref, declined=True)
    failed = await gateway.complete_action(CompleteActionRequest(_ref(started), "complete-1"))
    assert (failed.outcome, failed.error_code, failed.retry_allowed) == (
        PaymentOutcome.FAILED,
        "instrument_declined",
        True,
    )
    assert failed.gateway_ref == started.gateway_ref


async def test_invalid_amount_is_a_final_failure(fake: FakePayPal) -> None:
    failed = await _gateway(fake).initiate(_initiate(amount=0))
    assert (failed.outcome, failed.error_code, failed.retry_allowed) == (
        PaymentOutcome.FAILED,
        "cannot_be_zero_or_negative",
        False,
    )


async def test_a_retried_create_makes_one_order(fake: FakePayPal) -> None:
    gateway = _gateway(fake)
    first, again = await gateway.initiate(_initiate()), await gateway.initiate(_initiate())
    assert first.gateway_ref == again.gateway_ref and len(fake.orders) == 1


async def test_vaulted_wallet_pays_without_a_redirect(fake: FakePayPal) -> None:
    result = await _gateway(fake).initiate(_initiate(data={"vault_id": fake.vault_wallet()}))
    assert result.outcome is PaymentOutcome.CAPTURED and result.amount_captured == 9999
    assert result.method is not None and result.method.method_type == "paypal"


# -- authorize, capture, void, refund -----------------------------------------------------------
async def test_authorize_partial_capture_then_refund_finds_the_capture(fake: FakePayPal) -> None:
    gateway = _gateway(fake)
    auth = await _approved(fake, gateway, capture=False)
    assert auth.outcome is PaymentOutcome.AUTHORIZED and auth.amount_authorized == 9999
    captured = await gateway.capture(CaptureRequest(_ref(auth), 6000, "cap-1"))
    assert (captured.status, captured.amount) == (OperationStatus.SUCCEEDED, 6000)
    sent = fake.calls("POST", r"/v2/payments/authorizations/\w+/capture")[0].body
    assert sent == {"amount": {"currency_code": "USD", "value": "60.00"}, "final_capture": True}
    # The core keeps the provider data of initiate/complete only: the refund finds the
    # capture through the order.
    refund = await gateway.refund(RefundRequest(_ref(auth), 1000, "ref-1", "duplicate", "ptx_1"))
    assert (refund.status, refund.amount) == (OperationStatus.SUCCEEDED, 1000)
    body = fake.calls("POST", r"/v2/payments/captures/\w+/refund")[0].body
    assert body == {"amount": {"currency_code": "USD", "value": "10.00"}, "custom_id": "ptx_1",
                    "note_to_payer": "Duplicate payment refunded"}  # fmt: skip
    over = await gateway.refund(RefundRequest(_ref(auth), 5001, "ref-2"))
    assert (over.status, over.error_code) == (OperationStatus.FAILED, "refund_amount_exceeded")
    late = await gateway.void(VoidRequest(_ref(auth), "void-1"))
    assert (late.status, late.error_code) == (OperationStatus.FAILED, "previously_captured")


async def test_void_an_authorization_and_an_unapproved_order(fake: FakePayPal) -> None:
    gateway = _gateway(fake)
    auth = await _approved(fake, gateway, capture=False)
    assert (await gateway.void(VoidRequest(_ref(auth), "void-1"))).status is OperationStatus.SUCCEEDED
    assert fake.authorizations[auth.provider_data["authorization_id"]]["status"] == "VOIDED"
    assert (await gateway.status(_ref(auth))).outcome is PaymentOutcome.CANCELLED
    waiting = await gateway.initiate(_initiate(key="key-2"))
    assert (await gateway.void(VoidRequest(_ref(waiting), "void-2"))).status is OperationStatus.SUCCEEDED


# -- OAuth and transport ------------------------------------------------------------------------
async def test_the_access_token_is_cached_and_renewed_after_a_401(fake: FakePayPal) -> None:
    gateway = _gateway(fake)
    started = await gateway.initiate(_initiate())
    await gateway.status(_ref(started))
    assert fake.token_requests == 1
    fake.expire_tokens()
    assert (await gateway.status(_ref(started))).outcome is PaymentOutcome.REQUIRES_ACTION
    assert fake.token_requests == 2


async def test_wrong_credentials_server_errors_and_outages_raise_gateway_error(fake: FakePayPal) -> None:
    with pytest.raises(GatewayError, match="client credentials"):
        await _gateway(fake, client_secret="wrong").initiate(_initiate())
    fake.fail_next.append(503)
    with pytest.raises(GatewayError, match="503"):
        await _gateway(fake).initiate(_initiate())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GatewayError, match="could not reach"):
        await _gateway(fake, base_url=f"http://127.0.0.1:{port}", timeout=1).initiate(_initiate())
    broken = httpx.MockTransport(lambda r: httpx.Response(200, text="<html>"))
    with pytest.raises(GatewayError, match="not JSON"):
        await _gateway(fake, transport=broken).initiate(_initiate())


# -- webhooks -----------------------------------------------------------------------------------
def _capture_event(order_id: str = "ORDER1") -> bytes:
    return json.dumps({
        "id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED", "resource_type": "capture", "create_time": "2026-03-01T12:00:00Z",
        "resource": {"id": "CAP1", "status": "COMPLETED", "amount": {"currency_code": "USD", "value": "99.99"},
                     "supplementary_data": {"related_ids": {"order_id": order_id}}},
    }).encode()  # fmt: skip


def _request(
    fake: FakePayPal, body: bytes, *, at: datetime = NOW, webhook_id: str = "", received: datetime = NOW
) -> WebhookRequest:
    headers = sign_delivery(fake.key, body, webhook_id or fake.webhook_id, fake.base_url + CERT_PATH, at)
    return WebhookRequest(body, {k.lower(): v for k, v in headers.items()}, received, 300)


async def test_valid_one_byte_changed_stale_and_foreign_deliveries(fake: FakePayPal) -> None:
    gateway = _gateway(fake)
    body = _capture_event()
    event = await gateway.parse_webhook(_request(fake, body))
    assert (event.type, event.gateway_ref, event.amount, event.currency) == (
        WebhookEventType.PAYMENT_SUCCEEDED,
        "ORDER1",
        9999,
        "USD",
    )
    assert event.event_id == "WH-1" and event.occurred_at == NOW
    signed = _request(fake, body)
    for i in (0, len(body) // 2, len(body) - 1):
        changed = bytearray(body)
        changed[i] ^= 0x01
        with pytest.raises(WebhookSignatureError):
            await gateway.parse_webhook(replace(signed, body=bytes(changed)))
    for at in (NOW - timedelta(seconds=301), NOW + timedelta(seconds=301)):
        with pytest.raises(WebhookSignatureError, match="transmission time"):
            await gateway.parse_webhook(_request(fake, body, at=at))
    with pytest.raises(WebhookSignatureError, match="does not match"):  # signed for another subscription
        await gateway.parse_webhook(_request(fake, body, webhook_id="WH-OTHER"))
    with pytest.raises(WebhookSignatureError, match="missing"):
        await gateway.parse_webhook(WebhookRequest(body, {}, NOW, 300))
    bad_algo = dict(signed.headers, **{"paypal-auth-algo": "SHA1withRSA"})
    with pytest.raises(WebhookSignatureError, match="ALGO"):
        await gateway.parse_webhook(replace(signed, headers=bad_algo))


async def test_certificates_come_only_from_paypal_and_must_be_valid(fake: FakePayPal) -> None:
    body = _capture_event()
    signed = _request(fake, body)
    elsewhere = dict(signed.headers, **{"paypal-cert-url": "https://attacker.example/cert.pem"})
    with pytest.raises(WebhookSignatureError, match="not one of PayPal's"):
        await _gateway(fake).parse_webhook(replace(signed, headers=elsewhere))
    default = PayPalGateway(client_id="c", client_secret="s", webhook_id=fake.webhook_id)
    with pytest.raises(WebhookSignatureError, match="not one of PayPal's"):
        await default.parse_webhook(signed)  # a local URL is not PayPal's
    later = NOW + timedelta(days=400)
    with pytest.raises(WebhookSignatureError, match="not valid"):
        await _gateway(fake).parse_webhook(_request(fake, body, at=later, received=later))
    other_key, _ = make_certificate(NOW)
    forged = sign_delivery(other_key, body, fake.webhook_id, fake.base_url + CERT_PATH, NOW)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        await _gateway(fake).parse_webhook(WebhookRequest(body, {k.lower(): v for k, v in forged.items()}, NOW, 300))


async def test_the_certificate_is_fetched_once(fake: FakePayPal) -> None:
    gateway = _gateway(fake)
    await gateway.parse_webhook(_request(fake, _capture_event()))
    fake.cert_pem = b"not a certificate any more"
    assert (await gateway.parse_webhook(_request(fake, _capture_event("ORDER2")))).gateway_ref == "ORDER2"


@pytest.mark.parametrize(
    ("kind", "resource", "expected", "amount"),
    [
        ("PAYMENT.CAPTURE.DENIED", {"amount": {"currency_code": "USD", "value": "1.00"}}, "payment_failed", 100),
        (
            "PAYMENT.AUTHORIZATION.CREATED",
            {"amount": {"currency_code": "JPY", "value": "500"}},
            "payment_authorized",
            500,
        ),
        ("PAYMENT.AUTHORIZATION.VOIDED", {}, "payment_cancelled", None),
        (
            "PAYMENT.CAPTURE.REFUNDED",
            {
                "amount": {"currency_code": "USD", "value": "10.00"},
                "seller_payable_breakdown": {"total_refunded_amount": {"currency_code": "USD", "value": "30.00"}},
            },
            "payment_refunded",
            3000,
        ),
        ("CUSTOMER.DISPUTE.CREATED", {}, "ignored", None),
    ],
)
async def test_event_mapping(
    fake: FakePayPal, kind: str, resource: dict[str, object], expected: str, amount: int | None
) -> None:
    resource = {**resource, "supplementary_data": {"related_ids": {"order_id": "ORDER1"}}}
    body = json.dumps({"id": "WH-2", "event_type": kind, "resource": resource}).encode()
    event = await _gateway(fake).parse_webhook(_request(fake, body))
    assert (event.type.value, event.amount) == (expected, amount)
    assert event.gateway_ref == ("" if expected == "ignored" else "ORDER1")


async def test_without_a_webhook_id_nothing_is_accepted(fake: FakePayPal) -> None:
    gateway = _gateway(fake, webhook_id="")
    assert not gateway.config().supports_webhooks
    with pytest.raises(WebhookSignatureError, match="no webhook_id"):
        await gateway.parse_webhook(_request(fake, _capture_event()))


# -- settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings",
    [
        {"client_id": "", "client_secret": "s"},
        {"client_id": "c", "client_secret": ""},
        {"client_id": "c", "client_secret": "s", "base_url": "ftp://x"},
        {"client_id": "c", "client_secret": "s", "currencies": ["HUF"]},
        {"client_id": "c", "client_secret": "s", "cert_url_prefixes": ["file:///etc/"]},
        {"client_id": "c", "client_secret": "s", "extra": 1},
    ],
)
def test_bad_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PayPalSettings.model_validate(settings)


def test_sandbox_switch_and_the_hook() -> None:
    import rcommerce_paypal

    assert gateway_from_settings(PayPalSettings(client_id="c", client_secret="s", sandbox=True)).base_url == (  # type: ignore[arg-type]
        "https://api-m.sandbox.paypal.com"
    )
    [gateway] = rcommerce_paypal.rcommerce_payment_gateways({"client_id": "c", "client_secret": "top-secret"})
    assert gateway.code == "paypal" and gateway.base_url == "https://api-m.paypal.com"  # type: ignore[attr-defined]
    shown = repr(PayPalSettings(client_id="c", client_secret="top-secret")) + repr(gateway)  # type: ignore[arg-type]
    assert "top-secret" not in shown
