"""The paypal gateway passes the payment gateway conformance kit against the local fake."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fake_paypal import CERT_PATH, FakePayPal, RunningFake, sign_delivery
from rcommerce_paypal import PayPalGateway

from rcommerce.plugins.providers import PaymentGateway, WebhookEventType
from rcommerce.testing.payments import NOW, GatewayConformance, Scenario

_EVENTS = {
    WebhookEventType.PAYMENT_SUCCEEDED: ("PAYMENT.CAPTURE.COMPLETED", "capture"),
    WebhookEventType.PAYMENT_FAILED: ("PAYMENT.CAPTURE.DENIED", "capture"),
    WebhookEventType.PAYMENT_REFUNDED: ("PAYMENT.CAPTURE.REFUNDED", "refund"),
    WebhookEventType.IGNORED: ("CHECKOUT.ORDER.APPROVED", "checkout-order"),
}


@pytest.fixture
def fake_paypal() -> Iterator[FakePayPal]:
    # The kit completes the approval without a browser: the buyer approves every order
    # right after it is created. Its clock is the kit's "now" (certificate validity).
    fake = FakePayPal(auto_approve=True, clock=lambda: NOW)
    with RunningFake(fake):
        yield fake


class TestPayPalConformance(GatewayConformance):
    @pytest.fixture
    def gateway(self, fake_paypal: FakePayPal) -> PayPalGateway:
        return PayPalGateway(
            client_id=fake_paypal.client_id, client_secret=fake_paypal.client_secret, webhook_id=fake_paypal.webhook_id,
            base_url=fake_paypal.base_url, cert_url_prefixes=(f"{fake_paypal.base_url}/v1/notifications/certs/",),
        )  # fmt: skip

    @pytest.fixture
    def scenario(self, fake_paypal: FakePayPal) -> Scenario:
        return Scenario(
            currency="USD", amount=9999, method_type="paypal",
            approved={"vault_id": fake_paypal.vault_wallet("ok")},
            declined={"vault_id": fake_paypal.vault_wallet("declined")}, decline_code="instrument_declined",
            action={}, action_completion={"token": "ORDER", "PayerID": "QYR5Z8XDVJNXQ"},
        )  # fmt: skip

    @pytest.fixture(autouse=True)
    def _fake(self, fake_paypal: FakePayPal) -> None:
        self.fake = fake_paypal

    def signed_webhook(
        self, gateway: PaymentGateway, kind: WebhookEventType, gateway_ref: str, amount: int, timestamp: int
    ) -> tuple[bytes, dict[str, str]]:
        event_type, resource_type = _EVENTS[kind]
        value = {"currency_code": "USD", "value": f"{amount / 100:.2f}"}
        resource = {"id": "CAP1", "status": "COMPLETED", "amount": value,
                    "supplementary_data": {"related_ids": {"order_id": gateway_ref}}}  # fmt: skip
        if kind is WebhookEventType.PAYMENT_REFUNDED:
            resource["seller_payable_breakdown"] = {"total_refunded_amount": value}
        event = {"id": f"WH-{kind.value}", "event_type": event_type, "resource_type": resource_type,
                 "create_time": "2026-03-01T12:00:00Z", "resource": resource}  # fmt: skip
        body = json.dumps(event).encode()
        at = datetime.fromtimestamp(timestamp, UTC)
        headers = sign_delivery(self.fake.key, body, self.fake.webhook_id, self.fake.base_url + CERT_PATH, at)
        return body, {k.lower(): v for k, v in headers.items()}
