"""Reasons of the fulfilment context (core-domain §3.10, §3.12, §3.13, DECISIONS 3).

ORDER_NOT_FOUND, INVALID_STATUS_TRANSITION and the payment reasons are declared by the
orders and payments contexts and raised as they declare them."""

from __future__ import annotations

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode


class FulfillmentError(DomainError):
    """An expected failure of a fulfilment, refund or order-change command."""


FULFILLMENT_NOT_FOUND = reason("FULFILLMENT_NOT_FOUND", _C.NOT_FOUND, "The order has no fulfilment with this name.")
ORDER_LINE_NOT_FOUND = reason(
    "ORDER_LINE_NOT_FOUND", _C.NOT_FOUND, "The order has no line with this id; metadata has lineId."
)
ORDER_CHANGE_NOT_FOUND = reason(
    "ORDER_CHANGE_NOT_FOUND", _C.NOT_FOUND, "The order has no return, exchange, claim or edit with this name."
)
REFUND_EXCEEDS_PAYMENT = reason(
    "REFUND_EXCEEDS_PAYMENT",
    _C.FAILED_PRECONDITION,
    "Refunds would exceed what was captured on the order (R19); metadata has requested and remaining (minor units).",
)
NOTHING_TO_CAPTURE = reason(
    "NOTHING_TO_CAPTURE",
    _C.FAILED_PRECONDITION,
    "The order has no authorized payment left to capture, or the amount exceeds it; metadata has requested and capturable.",
)
NOTHING_TO_VOID = reason(
    "NOTHING_TO_VOID", _C.FAILED_PRECONDITION, "The order has no authorized (uncaptured) payment to void."
)
ORDER_NOT_FULFILLABLE = reason(
    "ORDER_NOT_FULFILLABLE",
    _C.FAILED_PRECONDITION,
    "The order's status does not allow shipping; metadata has currentStatus and allowedStatuses.",
)
ORDER_NOT_REFUNDABLE = reason(
    "ORDER_NOT_REFUNDABLE",
    _C.FAILED_PRECONDITION,
    "The order's status does not allow refunds or returns; metadata has currentStatus and allowedStatuses.",
)
ORDER_FULFILLED = reason(
    "ORDER_FULFILLED", _C.FAILED_PRECONDITION, "Every unit of the order is already fulfilled; nothing is left to ship."
)
INVALID_FULFILLMENT_QUANTITY = reason(
    "INVALID_FULFILLMENT_QUANTITY",
    _C.FAILED_PRECONDITION,
    "A line would be fulfilled beyond what was ordered and not yet fulfilled; metadata has lineId, requested and available.",
)
INVALID_FULFILLMENT_STATUS = reason(
    "INVALID_FULFILLMENT_STATUS",
    _C.FAILED_PRECONDITION,
    "The fulfilment's status does not allow this (ship after delivery, cancel a delivered one...); metadata has currentStatus and allowedStatuses.",
)
INVALID_RETURN_QUANTITY = reason(
    "INVALID_RETURN_QUANTITY",
    _C.FAILED_PRECONDITION,
    "A line would be returned beyond what was fulfilled and not yet returned; metadata has lineId, requested and available.",
)
INVALID_REFUND_QUANTITY = reason(
    "INVALID_REFUND_QUANTITY",
    _C.FAILED_PRECONDITION,
    "A line would be refunded beyond its quantity not yet refunded; metadata has lineId, requested and available.",
)
INVALID_ORDER_CHANGE_STATUS = reason(
    "INVALID_ORDER_CHANGE_STATUS",
    _C.FAILED_PRECONDITION,
    "The return, exchange or claim's status does not allow this step; metadata has currentStatus and allowedStatuses.",
)
COUPON_NOT_ON_ORDER = reason("COUPON_NOT_ON_ORDER", _C.NOT_FOUND, "The code to remove is not applied to this order.")
RETURN_WINDOW_CLOSED = reason(
    "RETURN_WINDOW_CLOSED",
    _C.FAILED_PRECONDITION,
    "The order was delivered longer ago than the return window allows; staff can still create the return.",
)
