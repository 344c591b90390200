"""Reasons of the customers context (customers, addresses, groups, sign-in)."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

#: Saved addresses per customer.
MAX_ADDRESSES = 50

CUSTOMER_NOT_FOUND = reason(
    "CUSTOMER_NOT_FOUND", _C.NOT_FOUND, "No customer has this name, or it is not the caller's own."
)
ADDRESS_NOT_FOUND = reason("ADDRESS_NOT_FOUND", _C.NOT_FOUND, "The customer has no address with this name.")
CUSTOMER_GROUP_NOT_FOUND = reason("CUSTOMER_GROUP_NOT_FOUND", _C.NOT_FOUND, "No customer group has this name.")
EMAIL_TAKEN = reason(
    "EMAIL_TAKEN",
    _C.ALREADY_EXISTS,
    "Another customer already uses this email; sign in, or request a password reset to set a password.",
)
CUSTOMER_GROUP_NAME_TAKEN = reason(
    "CUSTOMER_GROUP_NAME_TAKEN", _C.ALREADY_EXISTS, "Another customer group already uses this name."
)
INVALID_EMAIL = reason(
    "INVALID_EMAIL",
    _C.INVALID_ARGUMENT,
    "The email address is not of the form local@domain.tld (at most 254 characters).",
)
WEAK_PASSWORD = reason(
    "WEAK_PASSWORD", _C.INVALID_ARGUMENT, "The password is shorter than 8 characters or longer than 1024 bytes."
)
INVALID_CREDENTIALS = reason(
    "INVALID_CREDENTIALS", _C.UNAUTHENTICATED, "The email or the password is wrong (which one is never said)."
)
INVALID_ACCESS_TOKEN = reason(
    "INVALID_ACCESS_TOKEN",
    _C.UNAUTHENTICATED,
    "The customer access token is malformed, forged, of the wrong type, or for an ended session.",
)
ACCESS_TOKEN_EXPIRED = reason(
    "ACCESS_TOKEN_EXPIRED",
    _C.UNAUTHENTICATED,
    "The customer access token has expired; get a new one with the refresh token.",
)
INVALID_REFRESH_TOKEN = reason(
    "INVALID_REFRESH_TOKEN",
    _C.UNAUTHENTICATED,
    "The refresh token is unknown, expired, already used (the session is then ended) or its session ended; sign in again.",
)
INVALID_RESET_TOKEN = reason(
    "INVALID_RESET_TOKEN",
    _C.FAILED_PRECONDITION,
    "The password-reset token is unknown, expired or already used; request a new one.",
)
TOO_MANY_ADDRESSES = reason(
    "TOO_MANY_ADDRESSES",
    _C.FAILED_PRECONDITION,
    f"A customer keeps at most {MAX_ADDRESSES} addresses; delete one first.",
)
SIGN_IN_RATE_LIMITED = reason(
    "SIGN_IN_RATE_LIMITED",
    _C.RESOURCE_EXHAUSTED,
    "Too many sign-in attempts from this address or for this email; retry after the delay given.",
)

INVALID_QUIET_HOURS = reason(
    "INVALID_QUIET_HOURS",
    _C.INVALID_ARGUMENT,
    'Quiet hours are local "HH:MM" (24 h) start and end, both set or both empty, and not equal.',
)
INVALID_TIME_ZONE = reason(
    "INVALID_TIME_ZONE", _C.INVALID_ARGUMENT, 'The time zone is not an IANA zone name such as "Europe/Berlin".'
)


class CustomerError(DomainError):
    """Failures of the customers context."""
