"""Reasons of the promotions context.

Coupon reasons follow the validation order of a code (see ``engine.validation_failure``):
exists, active, started, not expired, total limit, customer limit, customer eligibility,
currency, minimum subtotal, eligible products, combinable, not already applied.
"""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

PROMOTION_NOT_FOUND = reason("PROMOTION_NOT_FOUND", _C.NOT_FOUND, "No promotion has this name.")
COUPON_NOT_FOUND = reason("COUPON_NOT_FOUND", _C.NOT_FOUND, "No promotion has this coupon code.")
COUPON_INACTIVE = reason(
    "COUPON_INACTIVE", _C.FAILED_PRECONDITION, "The promotion of this code is not active (draft or archived)."
)
COUPON_NOT_STARTED = reason(
    "COUPON_NOT_STARTED", _C.FAILED_PRECONDITION, "The promotion's validity window has not started yet."
)
COUPON_EXPIRED = reason("COUPON_EXPIRED", _C.FAILED_PRECONDITION, "The promotion's validity window has ended.")
COUPON_USAGE_LIMIT = reason(
    "COUPON_USAGE_LIMIT",
    _C.FAILED_PRECONDITION,
    "The promotion has been used as many times as its total usage limit allows.",
)
COUPON_CUSTOMER_LIMIT = reason(
    "COUPON_CUSTOMER_LIMIT",
    _C.FAILED_PRECONDITION,
    "This customer has used the promotion as many times as its per-customer limit allows.",
)
COUPON_NEW_CUSTOMERS_ONLY = reason(
    "COUPON_NEW_CUSTOMERS_ONLY", _C.FAILED_PRECONDITION, "The promotion is for customers without a previous order."
)
COUPON_CUSTOMER_NOT_ELIGIBLE = reason(
    "COUPON_CUSTOMER_NOT_ELIGIBLE",
    _C.FAILED_PRECONDITION,
    "The promotion is restricted to some customers or customer groups and this customer is not one of them.",
)
COUPON_CURRENCY_NOT_SUPPORTED = reason(
    "COUPON_CURRENCY_NOT_SUPPORTED", _C.FAILED_PRECONDITION, "The promotion has no amount in the cart's currency."
)
COUPON_MINIMUM_NOT_MET = reason(
    "COUPON_MINIMUM_NOT_MET",
    _C.FAILED_PRECONDITION,
    "The cart subtotal is below the promotion's minimum subtotal; metadata carries minimumRequired and currentAmount in minor units.",
)
COUPON_PRODUCT_NOT_ELIGIBLE = reason(
    "COUPON_PRODUCT_NOT_ELIGIBLE",
    _C.FAILED_PRECONDITION,
    "No line of the cart is eligible for the promotion (product, collection or category rules).",
)
COUPON_CANNOT_COMBINE = reason(
    "COUPON_CANNOT_COMBINE",
    _C.FAILED_PRECONDITION,
    "The code cannot be combined with the codes already applied: several codes apply only when all of them are combinable.",
    http=409,
)
COUPON_ALREADY_APPLIED = reason("COUPON_ALREADY_APPLIED", _C.ALREADY_EXISTS, "This code is already applied.")
COUPON_CODE_EXISTS = reason(
    "COUPON_CODE_EXISTS",
    _C.ALREADY_EXISTS,
    "Another promotion already uses this coupon code (codes are compared upper-cased).",
)
COUPON_HAS_USAGE = reason(
    "COUPON_HAS_USAGE",
    _C.FAILED_PRECONDITION,
    "The promotion has been used by orders and cannot be deleted; archive it instead.",
)
INVALID_PROMOTION = reason(
    "INVALID_PROMOTION",
    _C.INVALID_ARGUMENT,
    "A promotion field is missing, out of range or inconsistent with the promotion type.",
)


class PromotionError(DomainError):
    """Failures of promotions: missing promotions, coupon rules, usage limits."""
