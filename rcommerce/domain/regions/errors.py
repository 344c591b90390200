"""Reasons of the regions context."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

REGION_NOT_FOUND = reason("REGION_NOT_FOUND", _C.NOT_FOUND, "No region has this name.")
INVALID_COUNTRY = reason(
    "INVALID_COUNTRY",
    _C.INVALID_ARGUMENT,
    "A country code is not an assigned upper-case ISO 3166-1 alpha-2 code, or repeats.",
)
COUNTRY_IN_OTHER_REGION = reason(
    "COUNTRY_IN_OTHER_REGION",
    _C.ALREADY_EXISTS,
    "A country belongs to at most one region; remove it from the other region first.",
)
UNKNOWN_PROVIDER = reason(
    "UNKNOWN_PROVIDER",
    _C.INVALID_ARGUMENT,
    "A payment, shipping or tax provider code is malformed, repeats, or names no installed provider.",
)
REGION_IN_USE = reason(
    "REGION_IN_USE",
    _C.FAILED_PRECONDITION,
    "The region is still referenced (by carts or orders) and cannot be deleted.",
)


class RegionError(DomainError):
    """Failures of the regions context."""
