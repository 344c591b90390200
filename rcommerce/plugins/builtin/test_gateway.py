"""The ``test`` payment gateway: deterministic outcomes by card number, like Stripe's
test cards (DECISIONS 15a), and Stripe's webhook signature scheme.

No network, no randomness: the outcome depends only on the card (or test token) and on
the call. It keeps its "provider side" in memory, like a real provider would, so
idempotent retries, partial captures, refund caps and saved methods behave as they do
at Stripe. A payment it does not know (authorized by an earlier process: a restarted demo
server) is rebuilt from the record the core hands back with every call (``PaymentRef``:
amounts, and the state it last reported in ``provider_data``), so it can still be
captured, voided and refunded; saved cards and idempotent answers do not survive. Outcomes (docs/payments.md has the table):

=====================  ==========================  ========================================
card number            token                       outcome
=====================  ==========================  ========================================
4242424242424242       pm_card_visa, tok_visa      succeeds
4000000000000002       pm_card_chargeDeclined      FAILED ``card_declined``
4000000000009995       pm_card_..InsufficientFunds FAILED ``insufficient_funds``
4000000000000069       pm_card_..ExpiredCard       FAILED ``expired_card``
4000000000000127       pm_card_..IncorrectCvc      FAILED ``incorrect_cvc``
4000000000000119       pm_card_..ProcessingError   FAILED ``processing_error``
4000002500003155       pm_card_threeDSecure2Req..  REQUIRES_ACTION ``three_d_secure``
=====================  ==========================  ========================================

Completing a 3-D Secure action with ``{"result": "fail"}`` fails the payment
(``authentication_failed``); anything else succeeds. Any other 16-digit number starting
with 4 or 5 succeeds; other numbers fail with ``invalid_number``.

Tests inject faults with :meth:`TestGateway.fail_next` (the next call of an operation
raises :class:`GatewayError` *after* or *before* the provider acted), which is how the
core's "retry is safe" promise is checked.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast

from rcommerce.plugins.providers import (
    CARD,
    CaptureRequest,
    CompleteActionRequest,
    GatewayConfig,
    GatewayError,
    InitiateRequest,
    MethodDetails,
    MethodNotSaved,
    OffSessionRequest,
    OperationResult,
    OperationStatus,
    PaymentMethodConfig,
    PaymentOutcome,
    PaymentRef,
    PaymentResult,
    RefundRequest,
    RequiredAction,
    SaveMethodRequest,
    VoidRequest,
    WebhookEvent,
    WebhookEventType,
    WebhookRequest,
    WebhookSignatureError,
)

__all__ = ["TEST_CARDS", "TestGateway", "sign_stripe_style"]

#: card number -> (error code or "" for success, "3ds" for an action).
TEST_CARDS: dict[str, str] = {
    "4242424242424242": "",
    "5555555555554444": "",
    "4000000000000002": "card_declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000069": "expired_card",
    "4000000000000127": "incorrect_cvc",
    "4000000000000119": "processing_error",
    "4000002500003155": "3ds",
}
_TOKENS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "tok_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_threeDSecure2Required": "4000002500003155",
}
_MESSAGES = {
    "card_declined": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again.",
    "invalid_number": "The card number is not a valid test card number.",
    "authentication_failed": "The customer failed 3-D Secure authentication.",
}
_CURRENCIES = ("USD", "EUR", "GBP", "JPY", "AUD", "CAD", "CHF", "SEK", "DKK", "NOK", "PLN")
#: Stripe's minimums: 0.50 in two-decimal currencies, JPY 50.
_MINIMUMS = {c: 50 for c in _CURRENCIES}
T = TypeVar("T")
Operation = Literal["initiate", "complete_action", "capture", "void", "refund", "status", "charge_off_session"]
_EVENT_TYPES = {
    "payment_intent.succeeded": WebhookEventType.PAYMENT_SUCCEEDED,
    "payment_intent.amount_capturable_updated": WebhookEventType.PAYMENT_AUTHORIZED,
    "payment_intent.payment_failed": WebhookEventType.PAYMENT_FAILED,
    "payment_intent.canceled": WebhookEventType.PAYMENT_CANCELLED,
    "charge.refunded": WebhookEventType.PAYMENT_REFUNDED,
    "charge.dispute.created": WebhookEventType.DISPUTE_CREATED,
    "charge.dispute.closed": WebhookEventType.DISPUTE_RESOLVED,
}


def sign_stripe_style(secret: str, body: bytes, timestamp: int) -> str:
    """The ``Stripe-Signature`` header value for ``body``: ``t=<ts>,v1=<hex HMAC-SHA256
    of "<ts>.<body>">``. For tests and the conformance kit."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass(slots=True)
class _Intent:
    """The provider-side state of one payment."""

    ref: str
    amount: int
    currency: str
    card: str
    status: PaymentOutcome
    capture: bool
    captured: int = 0
    refunded: int = 0
    #: The provider's customer the method was saved to ("" when not saved).
    customer: str = ""
    #: Save the card for this customer once the 3-D Secure action is passed.
    save_for: str = ""


@dataclass(slots=True)
class _Fault:
    operation: str
    #: True: the provider acted, then the answer was lost (timeout after commit).
    after: bool


@dataclass(slots=True)
class TestGateway:
    """Deterministic card gateway; see the module docstring."""

    __test__ = False  # not a pytest test class

    webhook_secret: str = "whsec_test"  # noqa: S105 - the documented test secret
    code: str = "test"
    display_name: str = "Test gateway"
    intents: dict[str, _Intent] = field(default_factory=dict)
    #: Idempotency key -> the answer given; a replay returns it unchanged.
    answers: dict[str, Any] = field(default_factory=dict)
    #: Provider-side calls that did something (replays excluded), per operation.
    calls: Counter[str] = field(default_factory=Counter)
    saved: dict[str, dict[str, MethodDetails]] = field(default_factory=dict)
    #: Saved token -> card number (the provider's vault).
    vault: dict[str, str] = field(default_factory=dict)
    faults: list[_Fault] = field(default_factory=list)

    # -- test controls ----------------------------------------------------------------
    def fail_next(self, operation: Operation, *, after: bool = False) -> None:
        """Make the next ``operation`` raise :class:`GatewayError`: before the provider
        acted (``after=False``, a refused connection) or after (a lost answer)."""
        self.faults.append(_Fault(operation, after))

    def _fault(self, operation: str, after: bool) -> None:
        for fault in self.faults:
            if fault.operation == operation and fault.after == after:
                self.faults.remove(fault)
                raise GatewayError(f"test gateway: simulated {'lost answer' if after else 'timeout'} on {operation}")

    # -- configuration ----------------------------------------------------------------
    def config(self) -> GatewayConfig:
        card = PaymentMethodConfig(
            method_type=CARD, display_name="Credit/Debit Card", min_amount=_MINIMUMS,
            max_amount={c: 99_999_999 for c in _CURRENCIES}, supports_3ds=True, supports_saving=True,
        )  # fmt: skip
        return GatewayConfig(
            currencies=_CURRENCIES,
            methods=(card,),
            supports_manual_capture=True,
            supports_partial_capture=True,
            supports_refunds=True,
            supports_partial_refunds=True,
            supports_saved_methods=True,
            supports_off_session=True,
            supports_webhooks=True,
        )

    # -- payments ---------------------------------------------------------------------
    async def initiate(self, request: InitiateRequest) -> PaymentResult:
        return await self._once(request.idempotency_key, "initiate", lambda: self._initiate(request))

    def _initiate(self, request: InitiateRequest) -> PaymentResult:
        card = _card_of(request.method_data)
        ref = f"pi_test_{_digest(request.idempotency_key)}"
        intent = _Intent(ref, request.amount, request.currency, card, PaymentOutcome.PENDING, request.capture)
        self.intents[ref] = intent
        outcome = TEST_CARDS.get(card, "" if _plausible(card) else "invalid_number")
        method = _details(card)
        if request.save_method and request.customer_id and not outcome:
            method = self._save_card(intent, request.customer_id, request.gateway_customer_id)
        elif request.save_method and request.customer_id and outcome == "3ds":
            intent.save_for = request.customer_id  # saved once the customer passed 3-D Secure
        if outcome == "3ds":
            intent.status = PaymentOutcome.REQUIRES_ACTION
            action = RequiredAction("three_d_secure", {"redirect_url": f"https://test-gateway.invalid/3ds/{ref}"})
            return PaymentResult(
                PaymentOutcome.REQUIRES_ACTION, ref, action=action, method=method,
                provider_data={"intent": ref, "state": intent.status.value},
            )  # fmt: skip
        if outcome:
            intent.status = PaymentOutcome.FAILED
            return _failed(ref, outcome, method)
        return self._approve(intent, method)

    def _approve(self, intent: _Intent, method: MethodDetails | None) -> PaymentResult:
        if intent.capture:
            intent.status, intent.captured = PaymentOutcome.CAPTURED, intent.amount
        else:
            intent.status = PaymentOutcome.AUTHORIZED
        return self._result(intent, method)

    def _result(self, intent: _Intent, method: MethodDetails | None = None) -> PaymentResult:
        captured = intent.status is PaymentOutcome.CAPTURED
        return PaymentResult(
            intent.status, intent.ref, amount_authorized=intent.amount, amount_captured=intent.captured,
            method=method or (_details(intent.card) if intent.card else None),
            provider_data={"intent": intent.ref, "state": intent.status.value},
            transaction_id=f"ch_test_{_digest(intent.ref)}" if captured else "",
            receipt_url=f"https://test-gateway.invalid/receipts/{intent.ref}" if captured else "",
            gateway_customer_id=intent.customer,
        )  # fmt: skip

    async def complete_action(self, request: CompleteActionRequest) -> PaymentResult:
        return await self._once(request.idempotency_key, "complete_action", lambda: self._complete(request))

    def _complete(self, request: CompleteActionRequest) -> PaymentResult:
        intent = self._intent(request.payment)
        if intent.status is not PaymentOutcome.REQUIRES_ACTION:
            return self._result(intent)
        if request.action_data.get("result") == "fail":
            intent.status = PaymentOutcome.FAILED
            return _failed(intent.ref, "authentication_failed", _details(intent.card))
        method = self._save_card(intent, intent.save_for, "") if intent.save_for else None
        return self._approve(intent, method)

    def _save_card(self, intent: _Intent, customer_id: str, gateway_customer_id: str) -> MethodDetails:
        """Save the intent's card for ``customer_id`` (a payment with ``save_method``)."""
        method = replace(_details(intent.card), token=f"pm_test_{_digest(customer_id + intent.card)}")
        self.saved.setdefault(customer_id, {})[method.token] = method
        self.vault[method.token] = intent.card
        intent.customer = gateway_customer_id or f"cus_test_{_digest(customer_id)}"
        return method

    async def status(self, payment: PaymentRef) -> PaymentResult:
        self._fault("status", False)
        return self._result(self._intent(payment))

    async def capture(self, request: CaptureRequest) -> OperationResult:
        return await self._once(request.idempotency_key, "capture", lambda: self._capture(request))

    def _capture(self, request: CaptureRequest) -> OperationResult:
        intent = self._intent(request.payment)
        if intent.status is not PaymentOutcome.AUTHORIZED:
            return _refused("payment_intent_unexpected_state", f"The payment is {intent.status.value}, not authorized.")
        if not 0 < request.amount <= intent.amount:
            return _refused("amount_too_large", "The capture amount exceeds the authorized amount.")
        intent.status, intent.captured = PaymentOutcome.CAPTURED, request.amount
        return OperationResult(OperationStatus.SUCCEEDED, request.amount, f"ch_test_{_digest(request.idempotency_key)}")

    async def void(self, request: VoidRequest) -> OperationResult:
        return await self._once(request.idempotency_key, "void", lambda: self._void(request))

    def _void(self, request: VoidRequest) -> OperationResult:
        intent = self._intent(request.payment)
        if intent.status not in (PaymentOutcome.AUTHORIZED, PaymentOutcome.REQUIRES_ACTION, PaymentOutcome.PENDING):
            return _refused(
                "payment_intent_unexpected_state", f"The payment is {intent.status.value}; it cannot be voided."
            )
        intent.status = PaymentOutcome.CANCELLED
        return OperationResult(OperationStatus.SUCCEEDED, 0, intent.ref)

    async def refund(self, request: RefundRequest) -> OperationResult:
        return await self._once(request.idempotency_key, "refund", lambda: self._refund(request))

    def _refund(self, request: RefundRequest) -> OperationResult:
        intent = self._intent(request.payment)
        if intent.status is not PaymentOutcome.CAPTURED:
            return _refused("charge_not_captured", "Only captured payments can be refunded.")
        if not 0 < request.amount <= intent.captured - intent.refunded:
            return _refused("amount_too_large", "The refund exceeds what is left to refund.")
        intent.refunded += request.amount
        return OperationResult(OperationStatus.SUCCEEDED, request.amount, f"re_test_{_digest(request.idempotency_key)}")

    # -- saved methods ----------------------------------------------------------------
    async def save_method(self, request: SaveMethodRequest) -> MethodDetails:
        card = _card_of(request.method_data)
        outcome = TEST_CARDS.get(card, "" if _plausible(card) else "invalid_number")
        if outcome == "3ds":
            raise MethodNotSaved(f"card {card[-4:]} asks for 3-D Secure at setup", requires_action=True)
        if outcome:
            raise MethodNotSaved(_MESSAGES.get(outcome, outcome), code=outcome)
        customer = request.gateway_customer_id or f"cus_test_{_digest(request.customer_id)}"
        method = replace(
            _details(card), token=f"pm_test_{_digest(request.customer_id + card)}", gateway_customer_id=customer
        )
        self.saved.setdefault(request.customer_id, {})[method.token] = method
        self.vault[method.token] = card
        return method

    async def list_methods(self, customer_id: str) -> list[MethodDetails]:
        return sorted(self.saved.get(customer_id, {}).values(), key=lambda m: m.token)

    async def delete_method(self, customer_id: str, token: str) -> None:
        self.saved.get(customer_id, {}).pop(token, None)

    async def charge_off_session(self, request: OffSessionRequest) -> PaymentResult:
        return await self._once(request.idempotency_key, "charge_off_session", lambda: self._off_session(request))

    def _off_session(self, request: OffSessionRequest) -> PaymentResult:
        method = self.saved.get(request.customer_id, {}).get(request.token)
        ref = f"pi_test_{_digest(request.idempotency_key)}"
        if method is None:
            return PaymentResult(PaymentOutcome.FAILED, ref, error_code="payment_method_not_found",
                                 error_message="No such saved payment method for this customer.", retry_allowed=False)  # fmt: skip
        card = self.vault[request.token]
        intent = _Intent(ref, request.amount, request.currency, card, PaymentOutcome.PENDING, True)
        self.intents[ref] = intent
        outcome = TEST_CARDS.get(card, "")
        if outcome == "3ds":  # off-session cannot authenticate: Stripe answers authentication_required
            intent.status = PaymentOutcome.FAILED
            return _failed(ref, "authentication_required", method)
        if outcome:
            intent.status = PaymentOutcome.FAILED
            return _failed(ref, outcome, method)
        return self._approve(intent, method)

    # -- webhooks ---------------------------------------------------------------------
    def parse_webhook(self, request: WebhookRequest) -> WebhookEvent:
        """Stripe's scheme: ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`` over
        ``"<t>.<raw body>"``, any v1 may match, ``t`` within the tolerance."""
        header = request.headers.get("stripe-signature", "")
        parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
        stamps = [v for k, v in parts if k.strip() == "t"]
        candidates = [v.strip() for k, v in parts if k.strip() == "v1"]
        if len(stamps) != 1 or not stamps[0].strip().isdigit() or not candidates:
            raise WebhookSignatureError("missing or malformed Stripe-Signature header")
        stamp = int(stamps[0].strip())
        if abs(request.received_at.timestamp() - stamp) > request.tolerance_s:
            raise WebhookSignatureError(f"signature timestamp outside the {request.tolerance_s} s tolerance")
        expected = sign_stripe_style(self.webhook_secret, request.body, stamp).split("v1=", 1)[1]
        if not any(hmac.compare_digest(expected, c) for c in candidates):
            raise WebhookSignatureError("signature does not match the body")
        try:
            payload = json.loads(request.body)
            event_id, provider_type = str(payload["id"]), str(payload["type"])
            obj = payload.get("data", {}).get("object", {})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise WebhookSignatureError(f"signed body is not a Stripe-style event: {exc}") from exc
        kind = _EVENT_TYPES.get(provider_type, WebhookEventType.IGNORED)
        occurred = datetime.fromtimestamp(int(payload.get("created", stamp)), UTC)
        if kind is WebhookEventType.IGNORED:
            return WebhookEvent(event_id, kind, occurred_at=occurred, provider_type=provider_type)
        ref = (
            str(obj.get("payment_intent") or obj.get("id", ""))
            if provider_type.startswith("charge.")
            else str(obj.get("id", ""))
        )
        amount_key = {"charge.refunded": "amount_refunded", "payment_intent.succeeded": "amount_received"}.get(
            provider_type, "amount"
        )
        amount = obj.get(amount_key)
        data = (
            {"outcome": "won" if obj.get("status") == "won" else "lost"}
            if kind is WebhookEventType.DISPUTE_RESOLVED
            else {}
        )
        return WebhookEvent(
            event_id, kind, ref, int(amount) if isinstance(amount, int) else None,
            str(obj.get("currency", "")).upper(), occurred, provider_type, data,
        )  # fmt: skip

    # -- helpers ----------------------------------------------------------------------
    async def _once(self, key: str, operation: str, act: Callable[[], T]) -> T:
        """Run ``act`` once per idempotency key, like a provider's idempotency layer."""
        self._fault(operation, False)
        scoped = f"{operation}:{key}"
        if scoped not in self.answers:
            self.calls[operation] += 1
            self.answers[scoped] = act()
        self._fault(operation, True)
        return cast(T, self.answers[scoped])

    def _intent(self, payment: PaymentRef) -> _Intent:
        intent = self.intents.get(payment.gateway_ref)
        if intent is None and payment.provider_data.get("intent") == payment.gateway_ref:
            intent = self.intents[payment.gateway_ref] = _rebuilt(payment)
        if intent is None:
            raise GatewayError(f"test gateway: no such payment {payment.gateway_ref!r}")
        return intent


def _rebuilt(payment: PaymentRef) -> _Intent:
    """A payment of an earlier process, from the core's record: captured when the core
    recorded a capture, else in the state this gateway last reported. The card is not
    known any more (method details stay as the core stored them)."""
    try:
        reported = PaymentOutcome(str(payment.provider_data.get("state", "")))
    except ValueError:
        reported = PaymentOutcome.AUTHORIZED
    status = PaymentOutcome.CAPTURED if payment.amount_captured else reported
    return _Intent(
        payment.gateway_ref, payment.amount, payment.currency, "", status, capture=False,
        captured=payment.amount_captured, refunded=payment.amount_refunded,
    )  # fmt: skip


def _card_of(data: Any) -> str:
    token = str(data.get("token", ""))
    if token:
        return _TOKENS.get(token, token if token.isdigit() else "0")
    return "".join(ch for ch in str(data.get("number", "")) if ch.isdigit())


def _plausible(card: str) -> bool:
    return len(card) == 16 and card[0] in "45"


def _details(card: str) -> MethodDetails:
    brand = "visa" if card.startswith("4") else "mastercard" if card.startswith("5") else "unknown"
    return MethodDetails(CARD, brand, card[-4:], 12, 2034)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _failed(ref: str, code: str, method: MethodDetails | None) -> PaymentResult:
    return PaymentResult(
        PaymentOutcome.FAILED, ref, error_code=code, error_message=_MESSAGES.get(code, code), method=method,
        retry_allowed=code not in ("invalid_number",),
    )  # fmt: skip


def _refused(code: str, message: str) -> OperationResult:
    return OperationResult(OperationStatus.FAILED, error_code=code, error_message=message)
