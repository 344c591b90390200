"""The built-in gateways pass the conformance kit any gateway plugin runs."""

from __future__ import annotations

import json

import pytest

from rcommerce.plugins.builtin.manual_gateway import ManualGateway
from rcommerce.plugins.builtin.test_gateway import TestGateway, sign_stripe_style
from rcommerce.plugins.providers import PaymentGateway, WebhookEventType
from rcommerce.testing.payments import GatewayConformance, Scenario

_STRIPE_TYPES = {
    WebhookEventType.PAYMENT_SUCCEEDED: "payment_intent.succeeded",
    WebhookEventType.PAYMENT_FAILED: "payment_intent.payment_failed",
    WebhookEventType.PAYMENT_REFUNDED: "charge.refunded",
    WebhookEventType.IGNORED: "customer.created",
}


class TestTestGatewayConformance(GatewayConformance):
    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        return TestGateway(webhook_secret="whsec_conformance")

    @pytest.fixture
    def scenario(self) -> Scenario:
        return Scenario(
            currency="USD", amount=9999, approved={"number": "4242424242424242"},
            declined={"number": "4000000000000002"}, decline_code="card_declined",
            action={"number": "4000002500003155"},
        )  # fmt: skip

    def signed_webhook(
        self, gateway: PaymentGateway, kind: WebhookEventType, gateway_ref: str, amount: int, timestamp: int
    ) -> tuple[bytes, dict[str, str]]:
        provider_type = _STRIPE_TYPES[kind]
        obj = {"id": gateway_ref, "amount": amount, "amount_received": amount, "currency": "usd"}
        if provider_type == "charge.refunded":
            obj = {"id": "ch_1", "payment_intent": gateway_ref, "amount_refunded": amount, "currency": "usd"}
        body = json.dumps(
            {"id": f"evt_{kind.value}", "type": provider_type, "created": timestamp, "data": {"object": obj}}
        ).encode()
        return body, {"stripe-signature": sign_stripe_style("whsec_conformance", body, timestamp)}


class TestManualGatewayConformance(GatewayConformance):
    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        return ManualGateway()

    @pytest.fixture
    def scenario(self) -> Scenario:
        return Scenario(currency="JPY", amount=12000, approved={}, method_type="bank_transfer")
