"""Reasons of the price lists context. Price amounts reuse the catalog's INVALID_PRICE and
INVALID_CURRENCY, and unknown variants its VARIANT_NOT_FOUND."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

PRICE_LIST_NOT_FOUND = reason("PRICE_LIST_NOT_FOUND", _C.NOT_FOUND, "No price list has this name.")
INVALID_PRICE_LIST_WINDOW = reason(
    "INVALID_PRICE_LIST_WINDOW", _C.INVALID_ARGUMENT, "end_time must be later than start_time."
)


class PriceListError(DomainError):
    """Failures of the price lists context."""
