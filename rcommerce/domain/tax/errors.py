"""Reasons of the tax context."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

TAX_ZONE_NOT_FOUND = reason("TAX_ZONE_NOT_FOUND", _C.NOT_FOUND, "No tax zone has this name.")
TAX_CATEGORY_NOT_FOUND = reason("TAX_CATEGORY_NOT_FOUND", _C.NOT_FOUND, "No tax category has this name or code.")
TAX_RATE_NOT_FOUND = reason("TAX_RATE_NOT_FOUND", _C.NOT_FOUND, "No tax rate has this name.")
TAX_EXEMPTION_NOT_FOUND = reason("TAX_EXEMPTION_NOT_FOUND", _C.NOT_FOUND, "No tax exemption has this name.")
TAX_ZONE_CODE_TAKEN = reason("TAX_ZONE_CODE_TAKEN", _C.ALREADY_EXISTS, "Another tax zone already uses this code.")
TAX_CATEGORY_CODE_TAKEN = reason(
    "TAX_CATEGORY_CODE_TAKEN", _C.ALREADY_EXISTS, "Another tax category already uses this code."
)
TAX_CATEGORY_IN_USE = reason(
    "TAX_CATEGORY_IN_USE", _C.FAILED_PRECONDITION, "Tax rates still use this category; delete them first."
)
INVALID_TAX_RATE = reason(
    "INVALID_TAX_RATE",
    _C.INVALID_ARGUMENT,
    'A tax rate is not a decimal fraction from 0 to 1 with at most 6 decimals ("0.0875" is 8.75 %).',
)
INVALID_VAT_ID = reason(
    "INVALID_VAT_ID", _C.INVALID_ARGUMENT, "The VAT id is malformed, has a wrong check digit, or is not registered."
)
VAT_SERVICE_UNAVAILABLE = reason(
    "VAT_SERVICE_UNAVAILABLE", _C.UNAVAILABLE, "The VAT registry could not be reached; retry later."
)
TAX_PROVIDER_NOT_FOUND = reason(
    "TAX_PROVIDER_NOT_FOUND", _C.FAILED_PRECONDITION, "No installed tax provider has this code."
)
TAX_CALCULATION_FAILED = reason(
    "TAX_CALCULATION_FAILED", _C.UNAVAILABLE, "The tax provider could not compute the tax; retry later.", http=502
)


class TaxError(DomainError):
    """Failures of the tax context."""
