"""The built-in ``test`` gateway: Stripe-like test cards and Stripe's webhook scheme (S4)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from rcommerce.plugins.builtin.test_gateway import TestGateway, sign_stripe_style
from rcommerce.plugins.providers import (
    CaptureRequest,
    CompleteActionRequest,
    GatewayError,
    InitiateRequest,
    PaymentOutcome,
    PaymentRef,
    RefundRequest,
    WebhookEventType,
    WebhookRequest,
    WebhookSignatureError,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def _initiate(card: str = "4242424242424242", key: str = "k1", **data: str) -> InitiateRequest:
    return InitiateRequest("pay_1", 9999, "USD", "card", key, data or {"number": card})


@pytest.mark.parametrize(
    ("card", "outcome", "code"),
    [
        ("4242424242424242", PaymentOutcome.CAPTURED, ""),
        ("4000000000000002", PaymentOutcome.FAILED, "card_declined"),
        ("4000000000009995", PaymentOutcome.FAILED, "insufficient_funds"),
        ("4000000000000069", PaymentOutcome.FAILED, "expired_card"),
        ("4000000000000127", PaymentOutcome.FAILED, "incorrect_cvc"),
        ("4000 0025 0000 3155", PaymentOutcome.REQUIRES_ACTION, ""),
        ("1234123412341234", PaymentOutcome.FAILED, "invalid_number"),
    ],
)
async def test_outcome_by_card_number(card: str, outcome: PaymentOutcome, code: str) -> None:
    result = await TestGateway().initiate(_initiate(card))
    assert (result.outcome, result.error_code) == (outcome, code)
    if outcome is PaymentOutcome.CAPTURED:
        assert result.amount_captured == 9999 and result.method is not None
        assert (result.method.brand, result.method.last4) == ("visa", "4242")


async def test_stripe_test_tokens_work_too() -> None:
    gateway = TestGateway()
    assert (await gateway.initiate(_initiate(key="a", token="pm_card_visa"))).outcome is PaymentOutcome.CAPTURED
    declined = await gateway.initiate(_initiate(key="b", token="pm_card_chargeDeclinedInsufficientFunds"))
    assert declined.error_code == "insufficient_funds"


async def test_three_d_secure_then_complete_or_fail() -> None:
    gateway = TestGateway()
    first = await gateway.initiate(_initiate("4000002500003155", key="3ds-ok"))
    assert first.action is not None and first.action.type == "three_d_secure"
    ref = PaymentRef("pay_1", first.gateway_ref, 9999, "USD")
    done = await gateway.complete_action(CompleteActionRequest(ref, "c1"))
    assert (done.outcome, done.amount_captured) == (PaymentOutcome.CAPTURED, 9999)
    other = await gateway.initiate(_initiate("4000002500003155", key="3ds-fail"))
    failed = await gateway.complete_action(
        CompleteActionRequest(PaymentRef("pay_2", other.gateway_ref, 9999, "USD"), "c2", {"result": "fail"})
    )
    assert (failed.outcome, failed.error_code) == (PaymentOutcome.FAILED, "authentication_failed")


async def test_same_key_is_answered_once() -> None:
    gateway = TestGateway()
    first = await gateway.initiate(_initiate(key="same"))
    again = await gateway.initiate(_initiate(key="same"))
    assert again == first and gateway.calls["initiate"] == 1


async def test_injected_faults_before_and_after_the_provider_acted() -> None:
    gateway = TestGateway()
    gateway.fail_next("initiate")
    with pytest.raises(GatewayError):
        await gateway.initiate(_initiate(key="f1"))
    assert gateway.calls["initiate"] == 0
    gateway.fail_next("initiate", after=True)
    with pytest.raises(GatewayError):
        await gateway.initiate(_initiate(key="f2"))
    assert gateway.calls["initiate"] == 1  # the money moved; the answer was lost
    assert (await gateway.initiate(_initiate(key="f2"))).outcome is PaymentOutcome.CAPTURED
    assert gateway.calls["initiate"] == 1  # the retry with the same key did not charge again


def _event(type_: str = "payment_intent.succeeded", event_id: str = "evt_1") -> bytes:
    obj = {"id": "pi_1", "amount": 9999, "amount_received": 9999, "currency": "usd"}
    return json.dumps({"id": event_id, "type": type_, "created": T, "data": {"object": obj}}).encode()


def test_s4_signed_webhook_is_accepted() -> None:
    body = _event()
    header = sign_stripe_style("whsec_test", body, T)
    event = TestGateway().parse_webhook(WebhookRequest(body, {"stripe-signature": header}, NOW))
    assert (event.event_id, event.type, event.gateway_ref, event.amount) == (
        "evt_1",
        WebhookEventType.PAYMENT_SUCCEEDED,
        "pi_1",
        9999,
    )


def test_s4_any_v1_signature_may_match() -> None:
    body = _event()
    good = sign_stripe_style("whsec_test", body, T).split(",")[1]
    header = f"t={T},v1={'0' * 64},{good}"
    assert TestGateway().parse_webhook(WebhookRequest(body, {"stripe-signature": header}, NOW)).event_id == "evt_1"


def test_s4_body_changed_by_one_byte_is_rejected() -> None:
    body = _event()
    header = sign_stripe_style("whsec_test", body, T)
    with pytest.raises(WebhookSignatureError, match="does not match"):
        TestGateway().parse_webhook(
            WebhookRequest(body.replace(b"9999", b"9998", 1), {"stripe-signature": header}, NOW)
        )


def test_s4_timestamp_older_than_300_s_is_rejected() -> None:
    body = _event()
    header = sign_stripe_style("whsec_test", body, T - 301)
    with pytest.raises(WebhookSignatureError, match="tolerance"):
        TestGateway().parse_webhook(WebhookRequest(body, {"stripe-signature": header}, NOW))
    ok = sign_stripe_style("whsec_test", body, T - 300)
    assert (
        TestGateway().parse_webhook(WebhookRequest(body, {"stripe-signature": ok}, NOW)).type
        is WebhookEventType.PAYMENT_SUCCEEDED
    )


def test_s4_wrong_secret_and_missing_header_are_rejected() -> None:
    body = _event()
    with pytest.raises(WebhookSignatureError):
        TestGateway().parse_webhook(
            WebhookRequest(body, {"stripe-signature": sign_stripe_style("whsec_other", body, T)}, NOW)
        )
    with pytest.raises(WebhookSignatureError, match="missing"):
        TestGateway().parse_webhook(WebhookRequest(body, {}, NOW))


def test_s4_unknown_event_type_is_ignored() -> None:
    body = _event("customer.created", "evt_2")
    event = TestGateway().parse_webhook(
        WebhookRequest(body, {"stripe-signature": sign_stripe_style("whsec_test", body, T)}, NOW)
    )
    assert event.type is WebhookEventType.IGNORED and event.event_id == "evt_2"


async def test_a_payment_of_an_earlier_process_is_rebuilt_from_the_cores_record() -> None:
    authorized = await TestGateway().initiate(
        InitiateRequest("pay_1", 9999, "USD", "card", "auth-1", {"number": "4242424242424242"}, capture=False)
    )
    assert authorized.outcome is PaymentOutcome.AUTHORIZED
    # A restarted server: a gateway with nothing in memory, handed the core's record.
    restarted = TestGateway()
    ref = PaymentRef("pay_1", authorized.gateway_ref, 9999, "USD", dict(authorized.provider_data))
    captured = await restarted.capture(CaptureRequest(ref, 9999, "cap-1"))
    assert (captured.status.value, captured.amount) == ("succeeded", 9999)
    again = TestGateway()  # and once more, after the core recorded the capture
    after = PaymentRef("pay_1", authorized.gateway_ref, 9999, "USD", dict(authorized.provider_data), 9999, 0)
    refunded = await again.refund(RefundRequest(after, 10_000, "ref-1"))
    assert refunded.error_code == "amount_too_large"  # the rebuilt intent keeps the refund cap
    assert (await again.refund(RefundRequest(after, 9999, "ref-2"))).amount == 9999
    # A reference this gateway never reported is still unknown.
    with pytest.raises(GatewayError, match="no such payment"):
        await TestGateway().capture(CaptureRequest(PaymentRef("pay_2", "pi_test_unknown", 100, "USD"), 100, "cap-2"))
