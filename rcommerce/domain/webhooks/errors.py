"""Errors of webhook management and jobs (WebhookService and JobService, webhooks.proto)."""

from __future__ import annotations

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode


class WebhooksError(DomainError):
    """Raised by webhook endpoint management and the job admin service."""


WEBHOOK_ENDPOINT_NOT_FOUND = reason("WEBHOOK_ENDPOINT_NOT_FOUND", _C.NOT_FOUND, "No webhook endpoint has this name.")
WEBHOOK_DELIVERY_NOT_FOUND = reason(
    "WEBHOOK_DELIVERY_NOT_FOUND", _C.NOT_FOUND, "No delivery of this endpoint has this name."
)
WEBHOOK_TARGET_NOT_ALLOWED = reason(
    "WEBHOOK_TARGET_NOT_ALLOWED",
    _C.INVALID_ARGUMENT,
    "The webhook URL is not http(s), or its host resolves to a private, loopback or link-local address (see [webhooks] allow_private_targets).",
)
WEBHOOK_EVENT_NOT_SUBSCRIBED = reason(
    "WEBHOOK_EVENT_NOT_SUBSCRIBED", _C.INVALID_ARGUMENT, "The endpoint does not subscribe to the requested event type."
)
WEBHOOK_ENDPOINT_DISABLED = reason(
    "WEBHOOK_ENDPOINT_DISABLED",
    _C.FAILED_PRECONDITION,
    "The endpoint is disabled; enable it with UpdateWebhookEndpoint first.",
)
JOB_NOT_FOUND = reason("JOB_NOT_FOUND", _C.NOT_FOUND, "No job has this name.")
JOB_NOT_RETRYABLE = reason("JOB_NOT_RETRYABLE", _C.FAILED_PRECONDITION, "Only dead or cancelled jobs can be retried.")
JOB_NOT_CANCELLABLE = reason("JOB_NOT_CANCELLABLE", _C.FAILED_PRECONDITION, "Only queued jobs can be cancelled.")
