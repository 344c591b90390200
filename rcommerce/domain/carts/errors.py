"""Reasons of the carts context. Reasons declared by the contexts carts call
(REGION_NOT_FOUND, INSUFFICIENT_INVENTORY, the coupon reasons, the shipping reasons) are
raised as those contexts declare them."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

CART_NOT_FOUND = reason("CART_NOT_FOUND", _C.NOT_FOUND, "No cart has this name (or it was deleted).")
CART_EXPIRED = reason(
    "CART_EXPIRED",
    _C.FAILED_PRECONDITION,
    "The cart passed its expiry time; start a new cart. metadata has expireTime.",
    http=410,
)
CART_CONVERTED = reason(
    "CART_CONVERTED",
    _C.ABORTED,
    "The cart was checked out or merged into another cart and refuses changes; metadata has convertedTo.",
)
CART_TOKEN_REQUIRED = reason(
    "CART_TOKEN_REQUIRED",
    _C.PERMISSION_DENIED,
    "This guest cart is reached with its secret cart_token, which the request lacks.",
)
CART_TOKEN_INVALID = reason(
    "CART_TOKEN_INVALID",
    _C.PERMISSION_DENIED,
    "The cart_token is not this cart's token (it is another cart's, or unknown).",
)
CART_OWNED_BY_ANOTHER_CUSTOMER = reason(
    "CART_OWNED_BY_ANOTHER_CUSTOMER",
    _C.PERMISSION_DENIED,
    "The cart belongs to another customer (or the caller is not its customer).",
)
CART_CHANGED = reason(
    "CART_CHANGED", _C.ABORTED, "The cart changed while the request was being served; retry the request."
)
LINE_ITEM_NOT_FOUND = reason("LINE_ITEM_NOT_FOUND", _C.NOT_FOUND, "The cart has no line with this name.")
INVALID_QUANTITY = reason(
    "INVALID_QUANTITY",
    _C.INVALID_ARGUMENT,
    "A line quantity must be 1 to 9999 (0 also allowed when updating: it removes the line).",
)
LINE_QUANTITY_LIMIT = reason(
    "LINE_QUANTITY_LIMIT",
    _C.FAILED_PRECONDITION,
    "Adding would take the line above 9999 units; metadata has quantity, requested and maximum.",
)
PRODUCT_NOT_AVAILABLE = reason(
    "PRODUCT_NOT_AVAILABLE",
    _C.FAILED_PRECONDITION,
    "The product is not active (draft or archived) and cannot be added to a cart.",
)
VARIANT_NOT_PRICED = reason(
    "VARIANT_NOT_PRICED",
    _C.FAILED_PRECONDITION,
    "The variant has no price in the cart's currency (region/currency mismatch); metadata has currencyCode.",
)
COUPON_NOT_ON_CART = reason("COUPON_NOT_ON_CART", _C.NOT_FOUND, "The code to remove is not applied to this cart.")
SHIPPING_ADDRESS_REQUIRED = reason(
    "SHIPPING_ADDRESS_REQUIRED",
    _C.FAILED_PRECONDITION,
    "Shipping options need the cart's shipping address (country at least).",
)
SHIPPING_COUNTRY_NOT_IN_REGION = reason(
    "SHIPPING_COUNTRY_NOT_IN_REGION",
    _C.FAILED_PRECONDITION,
    "The shipping address's country is not one of the cart region's countries; metadata has countryCode and region.",
)
CART_CURRENCY_MISMATCH = reason(
    "CART_CURRENCY_MISMATCH", _C.FAILED_PRECONDITION, "The carts to merge are in different regions or currencies."
)
MERGE_NEEDS_CUSTOMER = reason(
    "MERGE_NEEDS_CUSTOMER",
    _C.INVALID_ARGUMENT,
    "MergeCarts merges into a customer's cart: sign in as the customer, or name the customer with a secret key.",
)


class CartError(DomainError):
    """Failures of carts: missing or closed carts, refused access, broken line rules."""
