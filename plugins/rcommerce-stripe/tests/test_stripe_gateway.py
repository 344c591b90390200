"""The stripe gateway on its own: request shapes, error mapping, webhook signatures, settings."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fake_stripe import FakeStripe, RunningFake, sign
from pydantic import ValidationError
from rcommerce_stripe import API_VERSION, StripeGateway, StripeSettings, parse_signature_header

from rcommerce.plugins.providers import (
    GatewayError,
    InitiateRequest,
    MethodNotSaved,
    OperationStatus,
    PaymentOutcome,
    PaymentRef,
    RefundRequest,
    SaveMethodRequest,
    WebhookEventType,
    WebhookRequest,
    WebhookSignatureError,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    stripe = FakeStripe(secret_key="sk_test_x")
    with RunningFake(stripe) as running:
        stripe.base_url = running.base_url
        yield stripe


def _gateway(base_url: str, **kw: object) -> StripeGateway:
    return StripeGateway(secret_key="sk_test_x", webhook_secret="whsec_test", base_url=base_url, **kw)  # type: ignore[arg-type]


def _initiate(data: dict[str, str], amount: int = 9999, currency: str = "USD", **kw: object) -> InitiateRequest:
    return InitiateRequest("pay_1", amount, currency, "card", "key-1", data, **kw)  # type: ignore[arg-type]


def _mock(status: int, body: object) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


# -- payments ---------------------------------------------------------------------------------
async def test_s1_exact_reply_with_the_legacy_charges_list() -> None:
    """S1 as written: Stripe's reply lists the charge under ``charges.data`` (API versions
    before latest_charge); the result carries ch_1, https://r/1 and the card of pm_1."""
    seen: list[httpx.Request] = []
    intent = {"id": "pi_1", "object": "payment_intent", "status": "succeeded", "amount": 9999, "amount_received": 9999,
              "charges": {"data": [{"id": "ch_1", "receipt_url": "https://r/1"}]},
              "payment_method": {"id": "pm_1", "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030},
                                 "billing_details": {"name": "John"}}}  # fmt: skip

    def reply(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "pm_1"} if request.url.path == "/v1/payment_methods" else intent)

    gateway = _gateway("https://stripe.invalid", transport=httpx.MockTransport(reply))
    card = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "cvc": "123", "name": "John"}
    result = await gateway.initiate(_initiate(card, metadata={"order_id": "O"}))
    pm, pi = seen
    form = dict(httpx.QueryParams(pi.content.decode()))
    assert dict(httpx.QueryParams(pm.content.decode()))["card[number]"] == "4242424242424242"
    assert pm.headers["authorization"] == "Bearer sk_test_x"
    assert (form["amount"], form["currency"], form["payment_method"], form["confirm"], form["capture_method"]) == (
        "9999", "usd", "pm_1", "true", "automatic")  # fmt: skip
    assert form["metadata[order_id]"] == "O" and pi.headers["idempotency-key"] == "key-1"
    assert (result.outcome, result.gateway_ref, result.transaction_id, result.receipt_url) == (
        PaymentOutcome.CAPTURED, "pi_1", "ch_1", "https://r/1")  # fmt: skip
    assert result.method is not None
    assert (result.method.last4, result.method.brand, result.method.token) == ("4242", "visa", "pm_1")


async def test_a_stored_stripe_customer_is_used_without_searching(fake: FakeStripe) -> None:
    gateway = _gateway(fake.base_url)
    first = await gateway.save_method(SaveMethodRequest("cus_01A", "card", {"token": "pm_card_visa"}, "k1"))
    assert first.gateway_customer_id in fake.customers
    assert len(fake.calls("GET", "/v1/customers/search")) == 1
    second = await gateway.save_method(
        SaveMethodRequest(
            "cus_01A", "card", {"token": "pm_card_mastercard"}, "k2", gateway_customer_id=first.gateway_customer_id
        )
    )
    listed = await gateway.list_methods("cus_01A", gateway_customer_id=first.gateway_customer_id)
    assert {m.token for m in listed} == {first.token, second.token}
    assert len(fake.calls("GET", "/v1/customers/search")) == 1 and len(fake.customers) == 1


async def test_saving_refusals_are_method_not_saved(fake: FakeStripe) -> None:
    gateway = _gateway(fake.base_url)
    with pytest.raises(MethodNotSaved) as needs:
        await gateway.save_method(
            SaveMethodRequest("cus_01B", "card", {"token": "pm_card_authenticationRequiredOnSetup"}, "k3")
        )
    assert needs.value.requires_action and needs.value.code == "authentication_required"
    with pytest.raises(MethodNotSaved) as declined:
        await gateway.save_method(SaveMethodRequest("cus_01B", "card", {"token": "pm_card_chargeDeclined"}, "k4"))
    assert not declined.value.requires_action and declined.value.code == "card_declined"


async def test_success_reports_the_charge_and_receipt(fake: FakeStripe) -> None:
    result = await _gateway(fake.base_url).initiate(_initiate({"token": "pm_card_visa"}, metadata={"order_id": "O"}))
    assert result.outcome is PaymentOutcome.CAPTURED and result.amount_captured == 9999
    intent = fake.intents[result.gateway_ref]
    assert result.provider_data["latest_charge"] == intent["latest_charge"].split("/")[-1]
    assert str(result.provider_data["receipt_url"]).startswith("https://pay.stripe.com/receipts/")
    assert intent["metadata"] == {"order_id": "O", "rcommerce_payment_id": "pay_1"}
    assert result.method is not None and (result.method.brand, result.method.last4) == ("visa", "4242")


async def test_zero_decimal_currencies_are_sent_in_their_own_minor_units(fake: FakeStripe) -> None:
    result = await _gateway(fake.base_url).initiate(_initiate({"token": "pm_card_visa"}, amount=5000, currency="JPY"))
    assert result.amount_captured == 5000
    assert fake.calls("POST", "/v1/payment_intents")[0].params["amount"] == "5000"  # not 500000


async def test_every_request_is_pinned_and_idempotent(fake: FakeStripe) -> None:
    card = {"number": "4242 4242 4242 4242", "exp_month": "12", "exp_year": "2030", "cvc": "123"}
    await _gateway(fake.base_url).initiate(_initiate(card))
    pm, pi = fake.requests
    assert {pm.headers["stripe-version"], pi.headers["stripe-version"]} == {API_VERSION}
    assert (pm.headers["idempotency-key"], pi.headers["idempotency-key"]) == ("key-1:pm", "key-1")
    assert pm.params["card"]["number"] == "4242424242424242"


async def test_an_unknown_card_number_is_a_decline_not_an_error(fake: FakeStripe) -> None:
    card = {"number": "4111111111111112", "exp_month": "12", "exp_year": "2030", "cvc": "123"}
    result = await _gateway(fake.base_url).initiate(_initiate(card))
    assert (result.outcome, result.error_code) == (PaymentOutcome.FAILED, "incorrect_number")
    assert fake.calls("POST", "/v1/payment_intents") == []


@pytest.mark.parametrize(
    ("token", "code", "retry"),
    [
        ("pm_card_chargeDeclined", "card_declined", True),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", True),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", True),
        ("pm_card_chargeDeclinedStolenCard", "stolen_card", False),
    ],
)
async def test_declines_carry_the_most_specific_code(fake: FakeStripe, token: str, code: str, retry: bool) -> None:
    result = await _gateway(fake.base_url).initiate(_initiate({"token": token}))
    assert (result.outcome, result.error_code, result.retry_allowed) == (PaymentOutcome.FAILED, code, retry)
    assert (
        result.gateway_ref in fake.intents and fake.intents[result.gateway_ref]["status"] == "requires_payment_method"
    )


async def test_s3b_intent_back_to_requires_payment_method() -> None:
    body = {"id": "pi_1", "object": "payment_intent", "status": "requires_payment_method", "amount": 9999}
    gateway = _gateway("https://stripe.invalid", transport=_mock(200, body))
    result = await gateway.initiate(_initiate({"token": "pm_1"}, metadata={}))
    assert (result.outcome, result.gateway_ref, result.error_code) == (
        PaymentOutcome.FAILED,
        "pi_1",
        "payment_method_failed",
    )
    assert result.error_message == "The payment method was declined" and result.retry_allowed


async def test_s3a_http_402_decline_keeps_the_intent_id() -> None:
    error = {"error": {"type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                       "message": "Your card was declined.", "payment_intent": {"id": "pi_9", "status": "requires_payment_method"}}}  # fmt: skip
    result = await _gateway("https://stripe.invalid", transport=_mock(402, error)).initiate(
        _initiate({"token": "pm_card_visa"})
    )
    assert (result.outcome, result.gateway_ref, result.error_code) == (PaymentOutcome.FAILED, "pi_9", "card_declined")
    assert result.error_message == "Your card was declined." and result.retry_allowed


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"error": {"type": "api_error", "message": "boom"}}),
        (429, {"error": {"type": "invalid_request_error", "code": "rate_limit", "message": "Too many requests"}}),
        (401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_***"}}),
        (409, {"error": {"type": "idempotency_error", "message": "concurrent request with the same key"}}),
        (400, {"error": {"type": "idempotency_error", "message": "Keys for idempotent requests ..."}}),
        (200, ["not", "an", "object"]),
    ],
)
async def test_unknown_outcomes_raise_gateway_error(status: int, body: object) -> None:
    with pytest.raises(GatewayError):
        await _gateway("https://stripe.invalid", transport=_mock(status, body)).initiate(
            _initiate({"token": "pm_card_visa"})
        )


async def test_wrong_key_and_unreachable_stripe_raise_gateway_error(fake: FakeStripe) -> None:
    with pytest.raises(GatewayError, match="401"):
        await StripeGateway(secret_key="sk_test_wrong", base_url=fake.base_url).initiate(
            _initiate({"token": "pm_card_visa"})
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GatewayError, match="could not reach"):
        await _gateway(f"http://127.0.0.1:{port}", timeout=1).initiate(_initiate({"token": "pm_card_visa"}))


async def test_a_retried_charge_after_a_lost_answer_charges_once(fake: FakeStripe) -> None:
    gateway = _gateway(fake.base_url)
    first = await gateway.initiate(_initiate({"token": "pm_card_visa"}))
    again = await gateway.initiate(_initiate({"token": "pm_card_visa"}))
    assert again.gateway_ref == first.gateway_ref and len(fake.intents) == 1
    assert len(fake.charges) == 1


async def test_refund_reasons_map_to_stripe(fake: FakeStripe) -> None:
    gateway = _gateway(fake.base_url)
    paid = await gateway.initiate(_initiate({"token": "pm_card_visa"}))
    ref = PaymentRef("pay_1", paid.gateway_ref, 9999, "USD", amount_captured=9999)
    for reason, sent in (("duplicate", "duplicate"), ("fraudulent", "fraudulent"), ("other", "requested_by_customer")):
        done = await gateway.refund(RefundRequest(ref, 100, f"r-{reason}", reason, "ptx_1", note="oops"))
        assert done.status is OperationStatus.SUCCEEDED and done.reference.startswith("re_")
        assert fake.calls("POST", "/v1/refunds")[-1].params["reason"] == sent
    assert fake.calls("POST", "/v1/refunds")[-1].params["metadata"] == {
        "rcommerce_payment_id": "pay_1",
        "rcommerce_refund_id": "ptx_1",
        "rcommerce_note": "oops",
    }


# -- webhooks ---------------------------------------------------------------------------------
def _event(kind: str, obj: dict[str, object], event_id: str = "evt_1") -> bytes:
    return json.dumps({"id": event_id, "object": "event", "type": kind, "created": T, "data": {"object": obj}}).encode()


def _parse(body: bytes, header: str, at: datetime = NOW) -> WebhookRequest:
    return WebhookRequest(body, {"stripe-signature": header}, at, 300)


def test_signature_header_parsing() -> None:
    assert parse_signature_header(f"t={T},v1=aa,v0=zz,v1=bb") == (T, ["aa", "bb"])
    for bad in ("", "v1=aa", f"t={T}", "t=x,v1=aa"):
        with pytest.raises(WebhookSignatureError):
            parse_signature_header(bad)


def test_valid_one_byte_changed_stale_and_future_signatures() -> None:
    gateway = _gateway("https://stripe.invalid")
    body = _event("payment_intent.succeeded", {"id": "pi_1", "amount_received": 9999, "currency": "usd"})
    event = gateway.parse_webhook(_parse(body, sign(body, T, "whsec_test")))
    assert (event.type, event.gateway_ref, event.amount, event.currency) == (
        WebhookEventType.PAYMENT_SUCCEEDED,
        "pi_1",
        9999,
        "USD",
    )
    assert event.event_id == "evt_1" and event.occurred_at == NOW and event.provider_type == "payment_intent.succeeded"
    for i in (0, len(body) // 2, len(body) - 1):
        changed = bytearray(body)
        changed[i] ^= 0x01
        with pytest.raises(WebhookSignatureError):
            gateway.parse_webhook(_parse(bytes(changed), sign(body, T, "whsec_test")))
    for at in (T - 301, T + 301):
        with pytest.raises(WebhookSignatureError):
            gateway.parse_webhook(_parse(body, sign(body, at, "whsec_test")))
    assert gateway.parse_webhook(_parse(body, sign(body, T - 300, "whsec_test"))).event_id == "evt_1"
    with pytest.raises(WebhookSignatureError):
        gateway.parse_webhook(_parse(body, sign(body, T, "whsec_other")))


def test_rolled_secrets_any_v1_may_match() -> None:
    gateway = _gateway("https://stripe.invalid")
    body = _event("payment_intent.canceled", {"id": "pi_1"})
    old, new = sign(body, T, "whsec_old"), sign(body, T, "whsec_test")
    header = f"{old},{new.split(',')[1]}"
    assert gateway.parse_webhook(_parse(body, header)).type is WebhookEventType.PAYMENT_CANCELLED


@pytest.mark.parametrize(
    ("kind", "obj", "expected", "ref", "amount"),
    [
        (
            "payment_intent.amount_capturable_updated",
            {"id": "pi_1", "amount_capturable": 500},
            "payment_authorized",
            "pi_1",
            500,
        ),
        (
            "payment_intent.payment_failed",
            {"id": "pi_1", "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds"}},
            "payment_failed",
            "pi_1",
            None,
        ),
        (
            "charge.refunded",
            {"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 3000},
            "payment_refunded",
            "pi_1",
            3000,
        ),
        (
            "charge.dispute.created",
            {"id": "dp_1", "payment_intent": "pi_1", "amount": 9999},
            "dispute_created",
            "pi_1",
            9999,
        ),
        (
            "charge.dispute.closed",
            {"id": "dp_1", "payment_intent": "pi_1", "amount": 9999, "status": "won"},
            "dispute_resolved",
            "pi_1",
            9999,
        ),
        ("invoice.paid", {"id": "in_1"}, "ignored", "", None),
        ("charge.refunded", {"id": "ch_1"}, "ignored", "", None),
    ],
)
def test_event_mapping(kind: str, obj: dict[str, object], expected: str, ref: str, amount: int | None) -> None:
    body = _event(kind, obj)
    event = _gateway("https://stripe.invalid").parse_webhook(_parse(body, sign(body, T, "whsec_test")))
    assert (event.type.value, event.gateway_ref, event.amount) == (expected, ref, amount)
    if expected == "payment_failed":
        assert event.data == {"error_code": "insufficient_funds"}
    if expected == "dispute_resolved":
        assert event.data == {"outcome": "won"}


def test_without_a_webhook_secret_nothing_is_accepted() -> None:
    gateway = StripeGateway(secret_key="sk_test_x", base_url="https://stripe.invalid")
    body = _event("payment_intent.succeeded", {"id": "pi_1"})
    assert not gateway.config().supports_webhooks
    with pytest.raises(WebhookSignatureError, match="no webhook_secret"):
        gateway.parse_webhook(_parse(body, sign(body, T, "")))


# -- settings -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "settings",
    [
        {"secret_key": "pk_test_x"},
        {"secret_key": "sk_test_x", "webhook_secret": "secret"},
        {"secret_key": "sk_test_x", "base_url": "ftp://x"},
        {"secret_key": "sk_test_x", "currencies": ["usd"]},
        {"secret_key": "sk_test_x", "currencies": []},
        {"secret_key": "sk_test_x", "unknown": 1},
    ],
)
def test_bad_settings_are_refused(settings: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        StripeSettings.model_validate(settings)


def test_the_plugin_registers_the_gateway_through_the_hook() -> None:
    import rcommerce_stripe

    [gateway] = rcommerce_stripe.rcommerce_payment_gateways({"secret_key": "sk_live_123", "webhook_secret": "whsec_1"})
    assert gateway.code == "stripe" and gateway.config().supports_webhooks
    shown = repr(StripeSettings(secret_key="sk_live_123", webhook_secret="whsec_1")) + repr(gateway)  # type: ignore[arg-type]
    assert "sk_live_123" not in shown and "whsec_1" not in shown
