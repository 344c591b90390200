"""Error reasons of the payments context (api-compat §2 payments catalogue, DECISIONS 3)."""

from __future__ import annotations

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode


class PaymentError(DomainError):
    """An expected failure of a payment operation."""


PAYMENT_NOT_FOUND = reason("PAYMENT_NOT_FOUND", _C.NOT_FOUND, "No payment has this name.")
GATEWAY_NOT_FOUND = reason("GATEWAY_NOT_FOUND", _C.NOT_FOUND, "No payment gateway with this code is installed.")
SAVED_METHOD_NOT_FOUND = reason(
    "SAVED_METHOD_NOT_FOUND", _C.NOT_FOUND, "The customer has no saved payment method with this token at the gateway."
)
INVALID_AMOUNT = reason(
    "INVALID_AMOUNT",
    _C.INVALID_ARGUMENT,
    "The amount is not positive, or outside the method's minimum and maximum for the currency; metadata has minAmount/maxAmount.",
)
PAYMENT_CURRENCY_UNSUPPORTED = reason(
    "PAYMENT_CURRENCY_UNSUPPORTED",
    _C.INVALID_ARGUMENT,
    "The gateway or method does not accept this currency; metadata lists the supported ones.",
)
INVALID_PAYMENT_METHOD = reason(
    "INVALID_PAYMENT_METHOD",
    _C.INVALID_ARGUMENT,
    "The gateway does not offer this payment method type; metadata lists the offered ones.",
)
GATEWAY_CAPABILITY_UNSUPPORTED = reason(
    "GATEWAY_CAPABILITY_UNSUPPORTED",
    _C.FAILED_PRECONDITION,
    "The gateway does not offer this operation (partial capture or refund, saved methods, off-session charges, manual capture).",
)
CAPTURE_AMOUNT_INVALID = reason(
    "CAPTURE_AMOUNT_INVALID",
    _C.INVALID_ARGUMENT,
    "The capture amount is not positive or exceeds the authorized amount.",
)
REFUND_AMOUNT_INVALID = reason(
    "REFUND_AMOUNT_INVALID",
    _C.INVALID_ARGUMENT,
    "The refund amount is not positive or exceeds what is left to refund; metadata has refundableAmount.",
)
ALREADY_CAPTURED = reason("ALREADY_CAPTURED", _C.ABORTED, "The payment was already captured.")
ALREADY_REFUNDED = reason("ALREADY_REFUNDED", _C.ABORTED, "The payment is fully refunded; nothing is left to refund.")
INVALID_PAYMENT_STATUS = reason(
    "INVALID_PAYMENT_STATUS",
    _C.FAILED_PRECONDITION,
    "The payment's status does not allow this operation (for example capture after void); metadata has status and allowedStatuses.",
)
PAYMENT_ACTION_EXPIRED = reason(
    "PAYMENT_ACTION_EXPIRED",
    _C.FAILED_PRECONDITION,
    "The customer action (3-D Secure, redirect) expired and the payment was cancelled; start a new payment.",
    http=410,
)
PAYMENT_OPERATION_IN_PROGRESS = reason(
    "PAYMENT_OPERATION_IN_PROGRESS",
    _C.ABORTED,
    "Another operation on this payment is talking to the gateway; retry shortly with the same idempotency key.",
)
PAYMENT_EXCEEDS_BALANCE = reason(
    "PAYMENT_EXCEEDS_BALANCE",
    _C.FAILED_PRECONDITION,
    "A payment for an order may ask at most what the order still needs: its total less what is captured, "
    "authorized or still being paid; metadata has order, amount, total and unpaid.",
)
IDEMPOTENCY_KEY_REUSED = reason(
    "IDEMPOTENCY_KEY_REUSED",
    _C.ABORTED,
    "The idempotency key was already used with a different request; use a new key for a new request.",
)
PAYMENT_GATEWAY_ERROR = reason(
    "PAYMENT_GATEWAY_ERROR",
    _C.UNAVAILABLE,
    "The gateway did not answer or failed (timeout, 5xx); nothing changed here. Retry with the same idempotency key.",
    http=502,
)
WEBHOOK_SIGNATURE_INVALID = reason(
    "WEBHOOK_SIGNATURE_INVALID",
    _C.INVALID_ARGUMENT,
    "The inbound webhook's signature is missing, wrong, or outside the replay window; nothing was processed.",
)
SAVED_METHOD_REQUIRES_ACTION = reason(
    "SAVED_METHOD_REQUIRES_ACTION",
    _C.FAILED_PRECONDITION,
    "The gateway asks the customer to authenticate this card (3-D Secure) before it can be saved; nothing was "
    "saved. Save it while paying instead (CreatePayment with save_method), where the action is completed.",
)
# Declines (DECISIONS 3: HTTP 402). metadata: paymentId, declineCode, retryAllowed.
CARD_DECLINED = reason("CARD_DECLINED", _C.FAILED_PRECONDITION, "The card was declined.", http=402)
INSUFFICIENT_FUNDS = reason("INSUFFICIENT_FUNDS", _C.FAILED_PRECONDITION, "The card has insufficient funds.", http=402)
EXPIRED_CARD = reason("EXPIRED_CARD", _C.FAILED_PRECONDITION, "The card has expired.", http=402)
INCORRECT_CVC = reason("INCORRECT_CVC", _C.FAILED_PRECONDITION, "The card's security code is incorrect.", http=402)
PROCESSING_ERROR = reason(
    "PROCESSING_ERROR",
    _C.FAILED_PRECONDITION,
    "The issuer could not process the card; trying again may work.",
    http=402,
)
PAYMENT_DECLINED = reason(
    "PAYMENT_DECLINED",
    _C.FAILED_PRECONDITION,
    "The gateway declined the payment for another reason (metadata declineCode, for example authentication_failed).",
    http=402,
)

DECLINE_REASONS = {
    "card_declined": CARD_DECLINED,
    "insufficient_funds": INSUFFICIENT_FUNDS,
    "expired_card": EXPIRED_CARD,
    "incorrect_cvc": INCORRECT_CVC,
    "processing_error": PROCESSING_ERROR,
}
