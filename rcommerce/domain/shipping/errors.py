"""Reasons of the shipping context."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

NO_SHIPPING_ZONE = reason(
    "NO_SHIPPING_ZONE",
    _C.FAILED_PRECONDITION,
    "The shipping address is outside every active shipping zone; nothing ships there.",
)
SHIPPING_QUOTE_NOT_FOUND = reason(
    "SHIPPING_QUOTE_NOT_FOUND",
    _C.NOT_FOUND,
    "No stored shipping quote has this id for this cart; quote shipping first and select one of the returned options.",
)
SHIPPING_QUOTE_EXPIRED = reason(
    "SHIPPING_QUOTE_EXPIRED", _C.FAILED_PRECONDITION, "The shipping quote has expired; quote shipping again.", http=410
)
CARRIER_ERROR = reason(
    "CARRIER_ERROR", _C.UNAVAILABLE, "A shipping carrier failed to answer; no rate is invented. Retry later.", http=502
)
SHIPPING_ZONE_NOT_FOUND = reason("SHIPPING_ZONE_NOT_FOUND", _C.NOT_FOUND, "No shipping zone has this name.")
SHIPPING_RATE_NOT_FOUND = reason(
    "SHIPPING_RATE_NOT_FOUND", _C.NOT_FOUND, "The shipping zone has no rate with this name."
)
SHIPPING_PROFILE_NOT_FOUND = reason("SHIPPING_PROFILE_NOT_FOUND", _C.NOT_FOUND, "No shipping profile has this name.")
SHIPPING_PROFILE_IN_USE = reason(
    "SHIPPING_PROFILE_IN_USE",
    _C.FAILED_PRECONDITION,
    "A shipping rate still uses this profile; delete the rate or move it to another profile first.",
)
SHIPPING_RULE_NOT_FOUND = reason("SHIPPING_RULE_NOT_FOUND", _C.NOT_FOUND, "No shipping rule has this name.")


class ShippingError(DomainError):
    """Failures of the shipping context."""
