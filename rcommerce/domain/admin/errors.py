"""Reasons of the admin context."""

import grpc

from rcommerce.errors import DomainError, reason

API_KEY_NOT_FOUND = reason("API_KEY_NOT_FOUND", grpc.StatusCode.NOT_FOUND, "No API key has this name.")
INVALID_SCOPE = reason(
    "INVALID_SCOPE",
    grpc.StatusCode.INVALID_ARGUMENT,
    "A scope is malformed, or not allowed for this kind of key (publishable keys hold storefront scopes only).",
)


class AdminError(DomainError):
    """Failures of API key management."""
