"""Conformance kit for payment gateway plugins (docs/plugins.md, "Payment gateways").

Subclass :class:`GatewayConformance` in your plugin's tests and provide the fixtures;
pytest then runs every check below against your provider (with ``pytest-asyncio``)::

    from rcommerce.testing.payments import GatewayConformance, Scenario

    class TestStripeConformance(GatewayConformance):
        @pytest.fixture
        def gateway(self, fake_stripe):               # a fresh provider per test
            return StripeGateway(api_key="sk_test_x", base_url=fake_stripe.url, webhook_secret="whsec_x")

        @pytest.fixture
        def scenario(self):
            return Scenario(
                currency="USD", amount=9999,
                approved={"token": "pm_card_visa"},
                declined={"token": "pm_card_chargeDeclined"}, decline_code="card_declined",
                action={"token": "pm_card_threeDSecure2Required"},
            )

        def signed_webhook(self, gateway, kind, gateway_ref, amount, timestamp):
            body = json.dumps({...}).encode()
            return body, {"stripe-signature": sign(body, timestamp)}

What is checked: the configuration is well formed; approved, declined and 3-D Secure
payments give the right outcome; retries with the same idempotency key return the same
answer and do not move money twice; partial capture and partial refund honour the
configuration and never exceed what is left; void; off-session charges with a saved
method; unsupported operations raise ``UnsupportedOperation``; webhooks are verified
(a tampered body or a stale timestamp raises ``WebhookSignatureError``), mapped to the
normalized events, and unknown event types come back as ``IGNORED`` (``parse_webhook``
may be plain or ``async``); a saved method's ``gateway_customer_id``, when reported, is
accepted back on the next save.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from rcommerce.money import is_currency
from rcommerce.plugins.providers import (
    CaptureRequest,
    CompleteActionRequest,
    InitiateRequest,
    OffSessionRequest,
    OperationStatus,
    PaymentGateway,
    PaymentOutcome,
    PaymentRef,
    PaymentResult,
    RefundRequest,
    SaveMethodRequest,
    UnsupportedOperation,
    VoidRequest,
    WebhookEvent,
    WebhookEventType,
    WebhookRequest,
    WebhookSignatureError,
)

__all__ = ["GatewayConformance", "Scenario"]

#: The instant the webhook checks treat as "now".
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Scenario:
    """Inputs that make the provider approve, decline and ask for an action."""

    currency: str
    amount: int
    #: ``method_data`` of an approved payment.
    approved: Mapping[str, str]
    method_type: str = "card"
    #: ``method_data`` of a declined payment; ``None`` when the provider never declines.
    declined: Mapping[str, str] | None = None
    decline_code: str = ""
    #: ``method_data`` of a payment that requires a customer action; ``None`` if none.
    action: Mapping[str, str] | None = None
    #: ``action_data`` that completes that action successfully.
    action_completion: Mapping[str, str] = field(default_factory=dict)
    customer_id: str = "cus_conformance"


def _key() -> str:
    return f"conf-{uuid.uuid4().hex}"


def _ref(payment_id: str, result: PaymentResult, scenario: Scenario) -> PaymentRef:
    return PaymentRef(payment_id, result.gateway_ref, scenario.amount, scenario.currency, dict(result.provider_data))


@pytest.mark.asyncio
class GatewayConformance:
    """The checks; see the module docstring for the fixtures to provide."""

    @pytest.fixture
    def gateway(self) -> PaymentGateway:
        raise NotImplementedError("provide a `gateway` fixture returning a fresh provider")

    @pytest.fixture
    def scenario(self) -> Scenario:
        raise NotImplementedError("provide a `scenario` fixture")

    def signed_webhook(
        self, gateway: PaymentGateway, kind: WebhookEventType, gateway_ref: str, amount: int, timestamp: int
    ) -> tuple[bytes, dict[str, str]]:
        """Body and headers of an authentic webhook of ``kind`` about ``gateway_ref``, as the
        provider would send it at ``timestamp`` (Unix seconds); ``IGNORED`` asks for an
        event type the gateway does not handle. Override when ``supports_webhooks``."""
        raise NotImplementedError("override signed_webhook() to test webhooks")

    # -- helpers ------------------------------------------------------------------------
    async def _initiate(
        self, gateway: PaymentGateway, scenario: Scenario, data: Mapping[str, str], *, capture: bool = True,
        key: str | None = None, payment_id: str | None = None,
    ) -> tuple[str, PaymentResult]:  # fmt: skip
        pid = payment_id or f"pay_{uuid.uuid4().hex[:20]}"
        request = InitiateRequest(
            pid, scenario.amount, scenario.currency, scenario.method_type, key or _key(), data, capture,
            scenario.customer_id, "buyer@example.com",
        )  # fmt: skip
        return pid, await gateway.initiate(request)

    # -- configuration ------------------------------------------------------------------
    async def test_is_a_payment_gateway(self, gateway: PaymentGateway) -> None:
        assert isinstance(gateway, PaymentGateway)
        assert gateway.code and gateway.code == gateway.code.lower() and " " not in gateway.code
        assert gateway.display_name

    async def test_configuration_is_well_formed(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        config = gateway.config()
        assert config.methods, "offer at least one payment method"
        assert all(is_currency(c) for c in config.currencies), "currencies are upper-case ISO 4217 codes"
        for method in config.methods:
            assert method.method_type == method.method_type.lower() and method.display_name
            assert all(is_currency(c) for c in method.currencies)
            for code, low in method.min_amount.items():
                assert low >= 0 and low <= method.max_amount.get(code, low)
        assert config.method(scenario.method_type) is not None, "the scenario's method must be offered"

    # -- payments -------------------------------------------------------------------------
    async def test_approved_payment_is_captured_with_its_amount(
        self, gateway: PaymentGateway, scenario: Scenario
    ) -> None:
        _, result = await self._initiate(gateway, scenario, scenario.approved)
        assert result.outcome in (PaymentOutcome.CAPTURED, PaymentOutcome.AUTHORIZED, PaymentOutcome.PENDING)
        assert result.gateway_ref
        if result.outcome is PaymentOutcome.CAPTURED:
            assert result.amount_captured == scenario.amount

    async def test_same_idempotency_key_gives_the_same_answer(
        self, gateway: PaymentGateway, scenario: Scenario
    ) -> None:
        key = _key()
        pid, first = await self._initiate(gateway, scenario, scenario.approved, key=key)
        _, again = await self._initiate(gateway, scenario, scenario.approved, key=key, payment_id=pid)
        assert (again.outcome, again.gateway_ref, again.amount_captured) == (
            first.outcome,
            first.gateway_ref,
            first.amount_captured,
        )

    async def test_decline_is_a_result_with_a_code(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        if scenario.declined is None:
            pytest.skip("the provider never declines")
        _, result = await self._initiate(gateway, scenario, scenario.declined)
        assert result.outcome is PaymentOutcome.FAILED
        assert result.error_code == scenario.decline_code

    async def test_required_action_then_completion(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        if scenario.action is None:
            pytest.skip("the provider never asks for a customer action")
        pid, result = await self._initiate(gateway, scenario, scenario.action)
        assert result.outcome is PaymentOutcome.REQUIRES_ACTION and result.action is not None and result.action.type
        done = await gateway.complete_action(
            CompleteActionRequest(_ref(pid, result, scenario), _key(), scenario.action_completion)
        )
        assert done.outcome in (PaymentOutcome.CAPTURED, PaymentOutcome.AUTHORIZED, PaymentOutcome.PENDING)

    async def test_authorize_then_capture_honours_partial_capture(
        self, gateway: PaymentGateway, scenario: Scenario
    ) -> None:
        config = gateway.config()
        if not config.supports_manual_capture:
            pytest.skip("the gateway captures at once")
        pid, result = await self._initiate(gateway, scenario, scenario.approved, capture=False)
        assert result.outcome is PaymentOutcome.AUTHORIZED
        ref = _ref(pid, result, scenario)
        amount = scenario.amount - 1 if config.supports_partial_capture else scenario.amount
        key = _key()
        captured = await gateway.capture(CaptureRequest(ref, amount, key))
        assert captured.status is OperationStatus.SUCCEEDED and captured.amount == amount
        again = await gateway.capture(CaptureRequest(ref, amount, key))
        assert again == captured, "a retried capture returns the first answer"

    async def test_void_releases_an_authorization(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        if not gateway.config().supports_manual_capture:
            pytest.skip("the gateway captures at once")
        pid, result = await self._initiate(gateway, scenario, scenario.approved, capture=False)
        voided = await gateway.void(VoidRequest(_ref(pid, result, scenario), _key()))
        assert voided.status is OperationStatus.SUCCEEDED

    async def test_partial_refunds_never_exceed_the_capture(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        config = gateway.config()
        if not config.supports_refunds:
            pytest.skip("the gateway cannot refund")
        pid, result = await self._initiate(gateway, scenario, scenario.approved)
        if result.outcome is not PaymentOutcome.CAPTURED:
            capture = await gateway.capture(CaptureRequest(_ref(pid, result, scenario), scenario.amount, _key()))
            assert capture.status is OperationStatus.SUCCEEDED
        ref = replace(_ref(pid, result, scenario), amount_captured=scenario.amount)
        if not config.supports_partial_refunds:
            full = await gateway.refund(RefundRequest(ref, scenario.amount, _key()))
            assert full.status in (OperationStatus.SUCCEEDED, OperationStatus.PENDING)
            return
        part = scenario.amount // 3
        key = _key()
        first = await gateway.refund(RefundRequest(ref, part, key, refund_id="ptx_1"))
        assert first.status in (OperationStatus.SUCCEEDED, OperationStatus.PENDING) and first.amount == part
        assert await gateway.refund(RefundRequest(ref, part, key, refund_id="ptx_1")) == first, (
            "a retried refund returns the first answer"
        )
        left = scenario.amount - part
        ref = replace(ref, amount_refunded=part)
        over = await gateway.refund(RefundRequest(ref, left + 1, _key(), refund_id="ptx_2"))
        assert over.status is OperationStatus.FAILED, "a refund above what is left is refused"
        rest = await gateway.refund(RefundRequest(ref, left, _key(), refund_id="ptx_3"))
        assert rest.status in (OperationStatus.SUCCEEDED, OperationStatus.PENDING) and rest.amount == left

    # -- saved methods --------------------------------------------------------------------
    async def test_saved_methods_or_unsupported(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        config = gateway.config()
        save = SaveMethodRequest(scenario.customer_id, scenario.method_type, scenario.approved, _key())
        if not config.supports_saved_methods:
            with pytest.raises(UnsupportedOperation):
                await gateway.save_method(save)
            return
        saved = await gateway.save_method(save)
        assert saved.token and not (saved.last4 and len(saved.last4) != 4)
        assert saved.token in [m.token for m in await gateway.list_methods(scenario.customer_id)]
        if saved.gateway_customer_id:
            again = await gateway.save_method(
                replace(save, idempotency_key=_key(), gateway_customer_id=saved.gateway_customer_id)
            )
            assert again.gateway_customer_id == saved.gateway_customer_id, "the stored gateway customer is used"
        if config.supports_off_session:
            charge = OffSessionRequest(
                f"pay_{uuid.uuid4().hex[:20]}",
                scenario.customer_id,
                saved.token,
                scenario.amount,
                scenario.currency,
                _key(),
            )
            result = await gateway.charge_off_session(charge)
            assert result.outcome in (PaymentOutcome.CAPTURED, PaymentOutcome.PENDING)
        await gateway.delete_method(scenario.customer_id, saved.token)
        assert saved.token not in [m.token for m in await gateway.list_methods(scenario.customer_id)]

    async def test_off_session_or_unsupported(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        if gateway.config().supports_off_session:
            pytest.skip("covered with saved methods")
        charge = OffSessionRequest("pay_x", scenario.customer_id, "tok", scenario.amount, scenario.currency, _key())
        with pytest.raises(UnsupportedOperation):
            await gateway.charge_off_session(charge)

    # -- webhooks -------------------------------------------------------------------------
    def _webhook(
        self, gateway: PaymentGateway, kind: WebhookEventType, ref: str, amount: int, at: datetime
    ) -> tuple[bytes, dict[str, str]]:
        if not gateway.config().supports_webhooks:
            pytest.skip("the gateway sends no webhooks")
        return self.signed_webhook(gateway, kind, ref, amount, int(at.timestamp()))

    async def test_webhook_is_verified_and_mapped(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        for kind in (
            WebhookEventType.PAYMENT_SUCCEEDED,
            WebhookEventType.PAYMENT_FAILED,
            WebhookEventType.PAYMENT_REFUNDED,
        ):
            body, headers = self._webhook(gateway, kind, "ref_conformance", scenario.amount, NOW)
            event = await _parse(gateway, WebhookRequest(body, headers, NOW, 300))
            assert event.type is kind and event.gateway_ref == "ref_conformance" and event.event_id

    async def test_tampered_webhook_is_rejected(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        body, headers = self._webhook(
            gateway, WebhookEventType.PAYMENT_SUCCEEDED, "ref_conformance", scenario.amount, NOW
        )
        tampered = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
        with pytest.raises(WebhookSignatureError):
            await _parse(gateway, WebhookRequest(tampered, headers, NOW, 300))
        with pytest.raises(WebhookSignatureError):
            await _parse(gateway, WebhookRequest(body, {}, NOW, 300))

    async def test_stale_webhook_is_rejected(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        old = datetime.fromtimestamp(NOW.timestamp() - 301, UTC)
        body, headers = self._webhook(
            gateway, WebhookEventType.PAYMENT_SUCCEEDED, "ref_conformance", scenario.amount, old
        )
        with pytest.raises(WebhookSignatureError):
            await _parse(gateway, WebhookRequest(body, headers, NOW, 300))

    async def test_unknown_webhook_type_is_ignored(self, gateway: PaymentGateway, scenario: Scenario) -> None:
        body, headers = self._webhook(gateway, WebhookEventType.IGNORED, "ref_conformance", scenario.amount, NOW)
        assert (await _parse(gateway, WebhookRequest(body, headers, NOW, 300))).type is WebhookEventType.IGNORED


async def _parse(gateway: PaymentGateway, request: WebhookRequest) -> WebhookEvent:
    """``parse_webhook`` may be plain or ``async``: the core accepts both."""
    parsed = gateway.parse_webhook(request)
    return await parsed if inspect.isawaitable(parsed) else parsed
