"""Reasons of the orders context (core-domain §2.1, §3.8–3.11, §3.15–3.16, DECISIONS 3, 15).

Reasons of the contexts placement calls (INSUFFICIENT_INVENTORY, the coupon limits,
INVALID_EMAIL, the payment reasons) are raised as those contexts declare them.
"""

from __future__ import annotations

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode


class OrderError(DomainError):
    """An expected failure of an orders command."""


ORDER_NOT_FOUND = reason(
    "ORDER_NOT_FOUND",
    _C.NOT_FOUND,
    "No order has this name or number (customers see only their own orders); metadata has order.",
)
INVALID_STATUS_TRANSITION = reason(
    "INVALID_STATUS_TRANSITION",
    _C.FAILED_PRECONDITION,
    "The order's status cannot move to the requested one (core-domain §2.1); metadata has currentStatus, "
    "targetStatus and allowedStatuses (comma separated).",
)
ORDER_ALREADY_CANCELLED = reason(
    "ORDER_ALREADY_CANCELLED", _C.ABORTED, "The order is already cancelled; metadata has cancelTime."
)
ORDER_NOT_EDITABLE = reason(
    "ORDER_NOT_EDITABLE",
    _C.FAILED_PRECONDITION,
    "Lines, addresses, email and discounts change only while the order is pending, confirmed or on_hold; "
    "metadata has currentStatus and editableStatuses.",
)
ORDER_NOTE_NOT_FOUND = reason("ORDER_NOTE_NOT_FOUND", _C.NOT_FOUND, "The order has no note with this name.")
SYSTEM_NOTE_READ_ONLY = reason(
    "SYSTEM_NOTE_READ_ONLY", _C.FAILED_PRECONDITION, "System notes record what happened and cannot be deleted."
)
DRAFT_ORDER_NOT_FOUND = reason("DRAFT_ORDER_NOT_FOUND", _C.NOT_FOUND, "No draft order has this name.")
DRAFT_ORDER_COMPLETED = reason(
    "DRAFT_ORDER_COMPLETED", _C.ABORTED, "The draft order was completed and refuses changes; metadata has order."
)
DRAFT_ORDER_EMPTY = reason(
    "DRAFT_ORDER_EMPTY", _C.FAILED_PRECONDITION, "A draft order needs at least one line before it can be completed."
)
ORDER_EMAIL_REQUIRED = reason(
    "ORDER_EMAIL_REQUIRED",
    _C.FAILED_PRECONDITION,
    "An order needs an email address (or a customer) to be placed.",
)
ORDER_PAYMENTS_UNSETTLED = reason(
    "ORDER_PAYMENTS_UNSETTLED",
    _C.UNAVAILABLE,
    "The order was cancelled but a payment could not be voided or refunded yet (gateway error); retry the "
    "cancel call, which resumes the payments; metadata has payments.",
    http=502,
)
ORDER_EMPTY = reason("ORDER_EMPTY", _C.FAILED_PRECONDITION, "An order needs at least one line.")
