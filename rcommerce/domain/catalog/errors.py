"""Reasons of the catalog context."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

PRODUCT_NOT_FOUND = reason(
    "PRODUCT_NOT_FOUND",
    _C.NOT_FOUND,
    "No product has this name or slug, or it is not active and the caller is a storefront.",
)
VARIANT_NOT_FOUND = reason("VARIANT_NOT_FOUND", _C.NOT_FOUND, "The product has no variant with this name.")
CATEGORY_NOT_FOUND = reason("CATEGORY_NOT_FOUND", _C.NOT_FOUND, "No category has this name.")
COLLECTION_NOT_FOUND = reason("COLLECTION_NOT_FOUND", _C.NOT_FOUND, "No collection has this name.")
PRODUCT_SLUG_TAKEN = reason(
    "PRODUCT_SLUG_TAKEN",
    _C.ALREADY_EXISTS,
    "Another product already uses this slug; choose another or leave it empty to derive one.",
)
VARIANT_SKU_TAKEN = reason(
    "VARIANT_SKU_TAKEN", _C.ALREADY_EXISTS, "Another variant already uses this SKU; SKUs are unique across the catalog."
)
CATEGORY_SLUG_TAKEN = reason("CATEGORY_SLUG_TAKEN", _C.ALREADY_EXISTS, "Another category already uses this slug.")
COLLECTION_SLUG_TAKEN = reason("COLLECTION_SLUG_TAKEN", _C.ALREADY_EXISTS, "Another collection already uses this slug.")
INVALID_PRICE = reason(
    "INVALID_PRICE", _C.INVALID_ARGUMENT, "A price amount is negative, too large, or repeats a currency."
)
INVALID_CURRENCY = reason(
    "INVALID_CURRENCY", _C.INVALID_ARGUMENT, "A currency code is not an active upper-case ISO 4217 code."
)
UNKNOWN_TAX_CATEGORY = reason(
    "UNKNOWN_TAX_CATEGORY",
    _C.INVALID_ARGUMENT,
    "The product names a tax category code that does not exist; create the category first or leave it empty for the standard rate.",
)
CATEGORY_CYCLE = reason(
    "CATEGORY_CYCLE", _C.FAILED_PRECONDITION, "A category cannot be moved under itself or one of its descendants."
)
LAST_VARIANT = reason(
    "LAST_VARIANT", _C.FAILED_PRECONDITION, "A product keeps at least one variant; delete the product instead."
)
INVENTORY_QUANTITY_READ_ONLY = reason(
    "INVENTORY_QUANTITY_READ_ONLY",
    _C.FAILED_PRECONDITION,
    "The variant's stock is kept per stock location; change it with SetInventory, AdjustInventory or ReceiveInventory.",
)


class CatalogError(DomainError):
    """Failures of the catalog: missing resources, taken slugs and SKUs, broken rules."""
