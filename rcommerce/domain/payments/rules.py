"""Pure payment rules: the state machine (payments-subscriptions §2), amount checks
against a gateway's configuration, refund and capture caps, and how a gateway result or
a webhook moves a payment. No I/O."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from rcommerce.domain.payments.errors import (
    ALREADY_CAPTURED,
    ALREADY_REFUNDED,
    CAPTURE_AMOUNT_INVALID,
    GATEWAY_CAPABILITY_UNSUPPORTED,
    INVALID_AMOUNT,
    INVALID_PAYMENT_METHOD,
    INVALID_PAYMENT_STATUS,
    PAYMENT_CURRENCY_UNSUPPORTED,
    REFUND_AMOUNT_INVALID,
    PaymentError,
)
from rcommerce.money import MAX_AMOUNT, format_amount
from rcommerce.plugins.providers import (
    REFUND_REASONS,
    GatewayConfig,
    PaymentMethodConfig,
    PaymentOutcome,
    WebhookEventType,
)

__all__ = [
    "TRANSITIONS",
    "Amounts",
    "PaymentState",
    "available_methods",
    "can_transition",
    "check_capture",
    "check_initiate",
    "check_refund",
    "check_transition",
    "check_void",
    "refund_reason",
    "status_after_refund",
    "status_for_outcome",
    "webhook_target",
]


class PaymentState(enum.StrEnum):
    PENDING = "pending"
    REQUIRES_ACTION = "requires_action"
    AUTHORIZED = "authorized"
    #: Captured (in full, or the part captured when less was taken).
    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"


S = PaymentState

#: Allowed transitions; staying in the same state is always allowed (webhook replays).
TRANSITIONS: Mapping[PaymentState, frozenset[PaymentState]] = {
    S.PENDING: frozenset({S.REQUIRES_ACTION, S.AUTHORIZED, S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    S.REQUIRES_ACTION: frozenset({S.AUTHORIZED, S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    S.AUTHORIZED: frozenset({S.SUCCEEDED, S.CANCELLED, S.FAILED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED, S.DISPUTED}),
    S.DISPUTED: frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
    S.FAILED: frozenset(),
    S.CANCELLED: frozenset(),
}


def can_transition(current: PaymentState, target: PaymentState) -> bool:
    return target == current or target in TRANSITIONS[current]


def check_transition(current: PaymentState, target: PaymentState, operation: str, payment_id: str) -> None:
    """Raise INVALID_PAYMENT_STATUS unless ``current`` may become ``target``."""
    if not can_transition(current, target):
        allowed = sorted(s.value for s, targets in TRANSITIONS.items() if target in targets)
        raise PaymentError(
            INVALID_PAYMENT_STATUS,
            f"Payment {payment_id} is {current.value}; {operation} needs one of: {', '.join(allowed)}.",
            paymentId=payment_id, status=current.value, operation=operation, allowedStatuses=",".join(allowed),
        )  # fmt: skip


def _not_in(state: PaymentState, allowed: tuple[PaymentState, ...], operation: str, payment_id: str) -> None:
    names = ",".join(s.value for s in allowed)
    raise PaymentError(
        INVALID_PAYMENT_STATUS, f"Payment {payment_id} is {state.value}; {operation} needs: {names}.",
        paymentId=payment_id, status=state.value, operation=operation, allowedStatuses=names,
    )  # fmt: skip


def check_void(state: PaymentState, payment_id: str) -> None:
    """Void releases an authorization or abandons a pending payment; after a capture it
    is INVALID_PAYMENT_STATUS (refund instead)."""
    allowed = (S.PENDING, S.REQUIRES_ACTION, S.AUTHORIZED)
    if state not in allowed:
        _not_in(state, allowed, "void", payment_id)


@dataclass(frozen=True, slots=True)
class Amounts:
    """A payment's running amounts, minor units."""

    amount: int
    authorized: int
    captured: int
    refunded: int

    @property
    def refundable(self) -> int:
        return self.captured - self.refunded


def _method_violation(config: GatewayConfig, method_type: str) -> PaymentMethodConfig:
    method = config.method(method_type)
    if method is None:
        offered = ",".join(m.method_type for m in config.methods)
        raise PaymentError(
            INVALID_PAYMENT_METHOD, f"The gateway does not offer {method_type!r}; it offers: {offered}.",
            methodType=method_type, offered=offered,
        )  # fmt: skip
    return method


def check_initiate(config: GatewayConfig, method_type: str, amount: int, currency: str, *, capture: bool) -> None:
    """Refuse what the gateway's configuration says it cannot do: unsupported currency or
    method, an amount outside the method's limits, manual capture when not offered."""
    method = _method_violation(config, method_type)
    currencies = method.currencies or config.currencies
    if currencies and currency not in currencies:
        raise PaymentError(
            PAYMENT_CURRENCY_UNSUPPORTED, f"{method_type} does not accept {currency}; it accepts {', '.join(currencies)}.",
            currency=currency, supportedCurrencies=",".join(currencies),
        )  # fmt: skip
    if not 0 < amount <= MAX_AMOUNT:
        raise PaymentError(INVALID_AMOUNT, f"The amount must be positive, not {amount}.", amount=amount)
    low, high = method.min_amount.get(currency), method.max_amount.get(currency)
    if low is not None and amount < low:
        raise PaymentError(
            INVALID_AMOUNT, f"{format_amount(amount, currency)} is below the minimum of {format_amount(low, currency)}.",
            amount=amount, minAmount=low, currency=currency,
        )  # fmt: skip
    if high is not None and amount > high:
        raise PaymentError(
            INVALID_AMOUNT, f"{format_amount(amount, currency)} is above the maximum of {format_amount(high, currency)}.",
            amount=amount, maxAmount=high, currency=currency,
        )  # fmt: skip
    if not capture and not config.supports_manual_capture:
        raise PaymentError(
            GATEWAY_CAPABILITY_UNSUPPORTED,
            "The gateway captures at once; it cannot authorize only.",
            capability="manual_capture",
        )


def available_methods(config: GatewayConfig, amount: int, currency: str) -> list[PaymentMethodConfig]:
    """The gateway's methods that accept ``currency`` and ``amount`` (0 = any amount)."""
    found = []
    for method in config.methods:
        currencies = method.currencies or config.currencies
        if currencies and currency not in currencies:
            continue
        low, high = method.min_amount.get(currency), method.max_amount.get(currency)
        if amount and ((low is not None and amount < low) or (high is not None and amount > high)):
            continue
        found.append(method)
    return found


def check_capture(config: GatewayConfig, state: PaymentState, amounts: Amounts, amount: int, payment_id: str) -> int:
    """The amount to capture (0 = everything authorized): ALREADY_CAPTURED after a capture,
    INVALID_PAYMENT_STATUS unless authorized, CAPTURE_AMOUNT_INVALID above the
    authorization, GATEWAY_CAPABILITY_UNSUPPORTED for a partial capture the gateway lacks."""
    if state in (S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED):
        raise PaymentError(
            ALREADY_CAPTURED, f"Payment {payment_id} was already captured.", paymentId=payment_id, status=state.value
        )
    if state is not S.AUTHORIZED:
        _not_in(state, (S.AUTHORIZED,), "capture", payment_id)
    wanted = amount or amounts.authorized
    if not 0 < wanted <= amounts.authorized:
        raise PaymentError(
            CAPTURE_AMOUNT_INVALID, f"Capture {wanted} must be between 1 and the authorized {amounts.authorized}.",
            amount=wanted, authorizedAmount=amounts.authorized,
        )  # fmt: skip
    if wanted < amounts.authorized and not config.supports_partial_capture:
        raise PaymentError(
            GATEWAY_CAPABILITY_UNSUPPORTED,
            "The gateway cannot capture part of an authorization.",
            capability="partial_capture",
        )
    return wanted


def check_refund(config: GatewayConfig, state: PaymentState, amounts: Amounts, amount: int, payment_id: str) -> int:
    """The amount to refund (0 = everything left): ALREADY_REFUNDED when nothing is left,
    INVALID_PAYMENT_STATUS unless captured, REFUND_AMOUNT_INVALID above what is left."""
    if state is S.REFUNDED or (state in (S.SUCCEEDED, S.PARTIALLY_REFUNDED) and amounts.refundable <= 0):
        raise PaymentError(ALREADY_REFUNDED, f"Payment {payment_id} is fully refunded.", paymentId=payment_id)
    if state not in (S.SUCCEEDED, S.PARTIALLY_REFUNDED):
        _not_in(state, (S.SUCCEEDED, S.PARTIALLY_REFUNDED), "refund", payment_id)
    if not config.supports_refunds:
        raise PaymentError(GATEWAY_CAPABILITY_UNSUPPORTED, "The gateway cannot refund.", capability="refund")
    wanted = amount or amounts.refundable
    if not 0 < wanted <= amounts.refundable:
        raise PaymentError(
            REFUND_AMOUNT_INVALID, f"Refund {wanted} must be between 1 and the {amounts.refundable} left to refund.",
            amount=wanted, refundableAmount=amounts.refundable,
        )  # fmt: skip
    if wanted < amounts.captured and not config.supports_partial_refunds:
        raise PaymentError(
            GATEWAY_CAPABILITY_UNSUPPORTED, "The gateway cannot refund part of a payment.", capability="partial_refund"
        )
    return wanted


def status_after_refund(captured: int, refunded: int) -> PaymentState:
    return S.REFUNDED if refunded >= captured else S.PARTIALLY_REFUNDED


def status_for_outcome(outcome: PaymentOutcome) -> PaymentState:
    """The payment status a gateway result leads to."""
    return {
        PaymentOutcome.REQUIRES_ACTION: S.REQUIRES_ACTION,
        PaymentOutcome.AUTHORIZED: S.AUTHORIZED,
        PaymentOutcome.CAPTURED: S.SUCCEEDED,
        PaymentOutcome.PENDING: S.PENDING,
        PaymentOutcome.FAILED: S.FAILED,
        PaymentOutcome.CANCELLED: S.CANCELLED,
    }[outcome]


def webhook_target(
    event: WebhookEventType,
    state: PaymentState,
    amounts: Amounts,
    event_amount: int | None,
    before_dispute: str,
    outcome: str,
) -> tuple[PaymentState, Amounts] | None:
    """Where a verified webhook moves a payment, or ``None`` when it changes nothing
    (duplicate, out of order, or not applicable). Refund events carry the cumulative
    refunded total, so a redelivered or reordered one never refunds twice."""
    E = WebhookEventType
    target: PaymentState
    new = amounts
    if event is E.PAYMENT_AUTHORIZED:
        target = S.AUTHORIZED
        new = Amounts(amounts.amount, event_amount or amounts.amount, amounts.captured, amounts.refunded)
    elif event is E.PAYMENT_SUCCEEDED:
        target = S.SUCCEEDED
        captured = event_amount or amounts.authorized or amounts.amount
        new = Amounts(amounts.amount, max(amounts.authorized, captured), captured, amounts.refunded)
    elif event is E.PAYMENT_FAILED:
        target = S.FAILED
    elif event is E.PAYMENT_CANCELLED:
        target = S.CANCELLED
    elif event is E.PAYMENT_REFUNDED:
        total = amounts.captured if event_amount is None else min(event_amount, amounts.captured)
        if total <= amounts.refunded:
            return None
        new = Amounts(amounts.amount, amounts.authorized, amounts.captured, total)
        target = status_after_refund(amounts.captured, total) if state is not S.DISPUTED else S.DISPUTED
    elif event is E.DISPUTE_CREATED:
        target = S.DISPUTED
    elif event is E.DISPUTE_RESOLVED:
        if state is not S.DISPUTED:
            return None
        target = PaymentState(before_dispute or S.SUCCEEDED) if outcome == "won" else S.REFUNDED
        if target is S.REFUNDED:
            new = Amounts(amounts.amount, amounts.authorized, amounts.captured, amounts.captured)
    else:
        return None
    if target == state and new == amounts:
        return None
    if not can_transition(state, target):
        return None
    return target, new


#: The longest refund note kept (the rest of a longer text is cut off).
NOTE_MAX = 500


def refund_reason(text: str) -> tuple[str, str]:
    """A caller's refund reason -> (reason, note). Empty -> ``requested_by_customer``; a
    known reason (any case, surrounding blanks ignored) is used as is; any other text is
    ``other`` with the text kept as the refund's note (S5: "oops" -> other, note "oops")."""
    cleaned = text.strip()
    if not cleaned:
        return "requested_by_customer", ""
    if cleaned.lower() in REFUND_REASONS:
        return cleaned.lower(), ""
    return "other", cleaned[:NOTE_MAX]
