"""Builds the payment service and its transports for the composition root."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import grpc

from rcommerce.api.rest.app import RawEndpoint
from rcommerce.api.servicers.payments import PaymentServicer
from rcommerce.clock import Clock
from rcommerce.config import Settings
from rcommerce.db.database import Database
from rcommerce.domain.payments.retries import RetryPolicy
from rcommerce.domain.payments.service import PaymentService, PaymentSettingsView
from rcommerce.gen.v1 import payments_pb2_grpc
from rcommerce.jobs.queue import JobQueue
from rcommerce.pagination import PageTokens
from rcommerce.plugins.providers import PaymentGateway

__all__ = ["WEBHOOK_PREFIX", "build_payment_service", "payment_raw_posts", "payment_servicer"]

#: Inbound gateway webhooks: POST /v1/payments/webhooks/{gateway} (DECISIONS 1).
WEBHOOK_PREFIX = "/v1/payments/webhooks/"


def build_payment_service(
    db: Database, clock: Clock, settings: Settings, gateways: Mapping[str, PaymentGateway], tokens: PageTokens,
    queue: JobQueue,
) -> PaymentService:  # fmt: skip
    """The service with its jobs registered on ``queue``."""
    p = settings.payments
    view = PaymentSettingsView(
        p.webhook_tolerance_s, p.action_expiry_s, p.gateway_timeout_s, p.lock_timeout_s, p.idempotency_key_ttl_days,
        RetryPolicy(p.gateway_retry_s, p.gateway_retry_max_s),
    )  # fmt: skip
    service = PaymentService(db, clock, gateways, tokens, view, queue)
    service.register_jobs()
    return service


def payment_servicer(service: PaymentService) -> tuple[str, Any, Callable[[Any, grpc.aio.Server], None]]:
    """``(service full name, servicer, add function)`` like ``App._servicers``."""
    return (
        "rcommerce.v1.PaymentService",
        PaymentServicer(service),
        payments_pb2_grpc.add_PaymentServiceServicer_to_server,
    )


def payment_raw_posts(service: PaymentService) -> dict[str, RawEndpoint]:
    """The raw webhook endpoint for the REST bridge: the body reaches the gateway's
    verifier byte-exact; errors (unknown gateway, bad signature) use the usual JSON error
    shape through the bridge."""

    async def receive(gateway: str, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        answer = await service.receive_webhook(gateway, body, headers)
        return 200, json.dumps(answer, separators=(",", ":")).encode()

    return {WEBHOOK_PREFIX: receive}
