"""The stripe gateway passes the payment gateway conformance kit against the local fake."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fake_stripe import FakeStripe, RunningFake, sign
from rcommerce_stripe import StripeGateway

from rcommerce.plugins.providers import PaymentGateway, WebhookEventType
from rcommerce.testing.payments import GatewayConformance, Scenario

SECRET = "whsec_conformance"


@pytest.fixture
def fake_stripe() -> Iterator[RunningFake]:
    # The conformance kit completes a 3-D Secure action without a browser: confirming
    # again stands for "the customer passed the challenge".
    with RunningFake(FakeStripe(secret_key="sk_test_conf", webhook_secret=SECRET, auto_authenticate=True)) as running:
        yield running


_EVENTS = {
    WebhookEventType.PAYMENT_SUCCEEDED: "payment_intent.succeeded",
    WebhookEventType.PAYMENT_FAILED: "payment_intent.payment_failed",
    WebhookEventType.PAYMENT_REFUNDED: "charge.refunded",
    WebhookEventType.IGNORED: "customer.created",
}


class TestStripeConformance(GatewayConformance):
    @pytest.fixture
    def gateway(self, fake_stripe: RunningFake) -> StripeGateway:
        return StripeGateway(secret_key="sk_test_conf", webhook_secret=SECRET, base_url=fake_stripe.base_url)

    @pytest.fixture
    def scenario(self) -> Scenario:
        return Scenario(
            currency="USD", amount=9999, approved={"token": "pm_card_visa"},
            declined={"token": "pm_card_chargeDeclined"}, decline_code="card_declined",
            action={"token": "pm_card_threeDSecure2Required"}, action_completion={"payment_intent": "pi_x"},
        )  # fmt: skip

    def signed_webhook(
        self, gateway: PaymentGateway, kind: WebhookEventType, gateway_ref: str, amount: int, timestamp: int
    ) -> tuple[bytes, dict[str, str]]:
        if kind is WebhookEventType.PAYMENT_REFUNDED:
            obj = {
                "id": "ch_1",
                "object": "charge",
                "payment_intent": gateway_ref,
                "amount_refunded": amount,
                "currency": "usd",
            }
        elif kind is WebhookEventType.IGNORED:
            obj = {"id": "cus_1", "object": "customer"}
        else:
            obj = {"id": gateway_ref, "object": "payment_intent", "amount": amount, "amount_received": amount, "currency": "usd",
                   "last_payment_error": {"code": "card_declined", "decline_code": "generic_decline"}}  # fmt: skip
        event = {"id": f"evt_{kind.value}", "object": "event", "type": _EVENTS[kind], "created": timestamp,
                 "data": {"object": obj}, "api_version": "2024-06-20"}  # fmt: skip
        body = json.dumps(event).encode()
        return body, {"stripe-signature": sign(body, timestamp, SECRET)}
