"""The notifications context's error catalogue (spec C §3.8 codes). The code lives in
``rcommerce.notifications``; the reasons live here so the OpenAPI generator documents them
on notifications.proto's routes only."""

from __future__ import annotations

import grpc

from rcommerce.errors import DomainError, reason

__all__ = [
    "CANNOT_CANCEL_SENT",
    "MISSING_TEMPLATE_VARIABLES",
    "NOTIFICATION_ALREADY_SENT",
    "NOTIFICATION_NOT_FOUND",
    "NOTIFICATION_RULE_NOT_FOUND",
    "TEMPLATE_NOT_FOUND",
    "TEMPLATE_RENDER_ERROR",
    "UNKNOWN_NOTIFICATION_CHANNEL",
    "NotificationError",
]

_C = grpc.StatusCode


class NotificationError(DomainError):
    """Expected failures of templates, rules and notifications."""


TEMPLATE_NOT_FOUND = reason("TEMPLATE_NOT_FOUND", _C.NOT_FOUND, "No notification template has this name.")
TEMPLATE_RENDER_ERROR = reason(
    "TEMPLATE_RENDER_ERROR", _C.INVALID_ARGUMENT,
    "The template does not compile or failed while rendering; metadata has the part and line.",
)  # fmt: skip
MISSING_TEMPLATE_VARIABLES = reason(
    "MISSING_TEMPLATE_VARIABLES", _C.INVALID_ARGUMENT,
    "The template uses variables that are not supplied; metadata.variables lists them.",
)  # fmt: skip
NOTIFICATION_NOT_FOUND = reason("NOTIFICATION_NOT_FOUND", _C.NOT_FOUND, "No notification has this id.")
NOTIFICATION_ALREADY_SENT = reason(
    "NOTIFICATION_ALREADY_SENT", _C.FAILED_PRECONDITION, "Only a failed or cancelled notification can be retried."
)
CANNOT_CANCEL_SENT = reason(
    "CANNOT_CANCEL_SENT", _C.FAILED_PRECONDITION, "Only a queued notification can be cancelled."
)
NOTIFICATION_RULE_NOT_FOUND = reason("NOTIFICATION_RULE_NOT_FOUND", _C.NOT_FOUND, "No notification rule has this id.")
UNKNOWN_NOTIFICATION_CHANNEL = reason(
    "UNKNOWN_NOTIFICATION_CHANNEL",
    _C.INVALID_ARGUMENT,
    "No installed plugin provides a notification channel with this code.",
)
