"""Reasons of the checkout context. Reasons of the contexts checkout calls (CART_EXPIRED,
CART_CONVERTED, SHIPPING_QUOTE_EXPIRED, INSUFFICIENT_INVENTORY, the payment declines ...)
are raised as those contexts declare them."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

CHECKOUT_CART_EMPTY = reason("CHECKOUT_CART_EMPTY", _C.FAILED_PRECONDITION, "The cart has no lines; add items first.")
CHECKOUT_EMAIL_REQUIRED = reason(
    "CHECKOUT_EMAIL_REQUIRED",
    _C.FAILED_PRECONDITION,
    "The order needs an email address: set the cart's email (UpdateCart) or send email.",
)
CHECKOUT_SHIPPING_OPTION_REQUIRED = reason(
    "CHECKOUT_SHIPPING_OPTION_REQUIRED",
    _C.FAILED_PRECONDITION,
    "The cart has items to ship but no selected shipping option (ListShippingOptions, SelectShippingOption).",
)
CHECKOUT_SHIPPING_RATE_CHANGED = reason(
    "CHECKOUT_SHIPPING_RATE_CHANGED",
    _C.ABORTED,
    "Re-quoting the selected shipping option on the server gave another amount (or no longer offers it); "
    "metadata has quotedAmount and currentAmount. Select a shipping option again.",
)
CHECKOUT_GATEWAY_NOT_ALLOWED = reason(
    "CHECKOUT_GATEWAY_NOT_ALLOWED",
    _C.FAILED_PRECONDITION,
    "The cart's region does not offer this payment gateway; metadata lists allowedGateways.",
)
CHECKOUT_IN_PROGRESS = reason(
    "CHECKOUT_IN_PROGRESS",
    _C.ABORTED,
    "Another completion of this cart is running; retry shortly with the same idempotency key.",
)
CHECKOUT_TOTAL_CHANGED = reason(
    "CHECKOUT_TOTAL_CHANGED",
    _C.ABORTED,
    "The cart's total changed after its payment was authorized; the authorization was voided. "
    "metadata has authorizedAmount and total. Complete the checkout again with a new idempotency key.",
)
CHECKOUT_PAYMENT_NOT_AUTHORIZED = reason(
    "CHECKOUT_PAYMENT_NOT_AUTHORIZED",
    _C.FAILED_PRECONDITION,
    "The checkout's payment ended without an authorization (the customer action failed or expired, "
    "the payment was cancelled); metadata has payment. Complete again with a new idempotency key.",
    http=402,
)
CHECKOUT_NOT_FOUND = reason("CHECKOUT_NOT_FOUND", _C.NOT_FOUND, "No completion was ever started for this cart.")


class CheckoutError(DomainError):
    """Failures of checkout completion."""
