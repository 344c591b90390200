"""Sending webhooks: the HTTP sender, the retry schedule and the delivery job (DECISIONS 19).

A delivery is one job per (endpoint, event), enqueued by the dispatcher. Each attempt
is recorded as a ``webhook_deliveries`` row with what was sent and what came back. A
receiver must answer 2xx; anything else (3xx included: redirects are not followed, so a
moved endpoint is noticed instead of silently re-targeted), a transport error or the
10 s deadline is a failure, retried after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h
(±10 % jitter), then the delivery is ``failed``. ``disable_after`` failed deliveries in a
row disable the endpoint and record ``webhook_endpoint.disabled``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.events.convert import endpoint_to_proto
from rcommerce.events.models import WebhookDeliveryRow, WebhookEndpointRow
from rcommerce.events.outbox import OutboxEvent, record_event
from rcommerce.events.signing import event_body, sign_headers
from rcommerce.events.targets import Resolver, TargetRefused, check_target, system_resolver
from rcommerce.ids import new_id
from rcommerce.jobs.metrics import DELIVERIES
from rcommerce.jobs.queue import Job, RetryAfter

__all__ = [
    "DELIVER_KIND",
    "RETRY_DELAYS_S",
    "SendResult",
    "WebhookDeliverer",
    "WebhookSender",
    "endpoint_matches",
    "retry_delay_s",
]

log = logging.getLogger(__name__)

DELIVER_KIND = "webhooks.deliver"
#: Seconds before retry n (DECISIONS 19): 7 retries over about 28 hours, 8 attempts in all.
RETRY_DELAYS_S = (5, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(RETRY_DELAYS_S) + 1
_EXCERPT_CHARS = 2000
_READ_LIMIT_BYTES = 16 * 1024


def retry_delay_s(attempt: int, *, jitter: float = 0.1, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based), with ±``jitter``."""
    base = RETRY_DELAYS_S[min(attempt, len(RETRY_DELAYS_S)) - 1]
    return float(base * (rng or random).uniform(1 - jitter, 1 + jitter))


def endpoint_matches(patterns: list[str], event_type: str) -> bool:
    """True when one of ``patterns`` ("*", "product.*", "product.created") takes ``event_type``."""
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one HTTP attempt produced."""

    #: 0 when no response came back.
    http_status: int
    response_excerpt: str
    #: Empty on success; otherwise why the attempt failed.
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return 200 <= self.http_status < 300 and not self.error


class WebhookSender:
    """POSTs signed bodies with a deadline, never following redirects.

    ``transport`` is for tests (``httpx.MockTransport``); the target check runs before
    every send.
    """

    def __init__(
        self,
        *,
        allow_private_targets: bool = False,
        timeout_s: float = 10.0,
        resolver: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.allow_private_targets = allow_private_targets
        self.timeout_s = timeout_s
        self._resolver = resolver
        self._client = httpx.AsyncClient(
            follow_redirects=False, timeout=httpx.Timeout(timeout_s), trust_env=False, transport=transport
        )

    async def check(self, url: str, *, require_resolvable: bool = True) -> None:
        """Raise :class:`TargetRefused` when ``url`` may not receive webhooks."""
        await check_target(
            url,
            allow_private=self.allow_private_targets,
            resolver=self._resolver,
            require_resolvable=require_resolvable,
        )

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> SendResult:
        started = time.monotonic()

        def took() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            await self.check(url)
        except TargetRefused as exc:
            return SendResult(0, "", f"target refused: {exc}", took())
        try:
            # httpx timeouts are per phase; asyncio.timeout bounds the whole exchange.
            async with (
                asyncio.timeout(self.timeout_s),
                self._client.stream("POST", url, headers=dict(headers), content=body) as resp,
            ):
                raw = b""
                async for chunk in resp.aiter_bytes():
                    raw += chunk
                    if len(raw) >= _READ_LIMIT_BYTES:
                        break
                excerpt = raw.decode("utf-8", "replace")[:_EXCERPT_CHARS]
                status = resp.status_code
        except (TimeoutError, httpx.TimeoutException):
            return SendResult(0, "", f"timed out after {self.timeout_s:g} s", took())
        except httpx.HTTPError as exc:
            return SendResult(0, "", f"{type(exc).__name__}: {exc}"[:1000], took())
        if 300 <= status < 400:
            return SendResult(status, excerpt, f"redirect ({status}) not followed", took())
        if not 200 <= status < 300:
            return SendResult(status, excerpt, f"receiver answered HTTP {status}", took())
        return SendResult(status, excerpt, "", took())

    async def aclose(self) -> None:
        await self._client.aclose()


@dataclass(frozen=True, slots=True)
class Outcome:
    row: WebhookDeliveryRow
    result: SendResult


class WebhookDeliverer:
    """Runs ``webhooks.deliver`` jobs and the synchronous test and redelivery sends."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        sender: WebhookSender,
        *,
        disable_after: int = 5,
        rng: random.Random | None = None,
    ) -> None:
        self.db, self.clock, self.sender = db, clock, sender
        self.disable_after = disable_after
        self._rng = rng or random.Random()

    async def send(
        self,
        endpoint: WebhookEndpointRow,
        event_id: str,
        event_type: str,
        body: bytes,
        *,
        attempt: int,
        test: bool = False,
    ) -> Outcome:
        """Sign ``body`` for ``endpoint``, send it, and return an unsaved delivery row."""
        now = self.clock.now()
        headers = sign_headers(endpoint.secret, event_id, int(now.timestamp()), body)
        if test:
            headers["X-Webhook-Test"] = "true"
        result = await self.sender.send(endpoint.url, headers, body)
        row = WebhookDeliveryRow(
            id=new_id("whd", now),
            endpoint_id=endpoint.id,
            event_id=event_id,
            event_type=event_type,
            attempt=attempt,
            status="succeeded" if result.ok else "failed",
            http_status=result.http_status,
            request_headers=headers,
            request_body=body.decode(),
            response_body_excerpt=result.response_excerpt,
            error=result.error,
            duration_ms=result.duration_ms,
            next_attempt_at=None,
            test=test,
            created_at=now,
        )
        return Outcome(row, result)

    async def run(self, job: Job) -> None:
        """Job handler of ``webhooks.deliver``; payload ``{"endpoint_id", "event_id"}``."""
        async with self.db.read() as session:
            endpoint = await session.get(WebhookEndpointRow, job.payload["endpoint_id"])
            event = (
                await session.execute(select(OutboxEvent).where(OutboxEvent.id == job.payload["event_id"]))
            ).scalar_one_or_none()
        if endpoint is None or endpoint.disabled or event is None:
            return  # deleted or disabled since the event was dispatched: nothing to send
        body = event_body(event.id, event.type, event.created_at, event.data)
        outcome = await self.send(endpoint, event.id, event.type, body, attempt=job.attempt)
        row, result = outcome.row, outcome.result
        delay: float | None = None
        if not result.ok and not job.is_last_attempt:
            delay = retry_delay_s(job.attempt, rng=self._rng)
            row.status = "retrying"
            row.next_attempt_at = self.clock.now() + timedelta(seconds=delay)
        await self._record(row, final_failure=not result.ok and delay is None)
        DELIVERIES.labels(row.status).inc()
        if not result.ok:
            # Fails the job attempt: the worker reschedules it (or marks it dead when last).
            raise RetryAfter(delay or 0.0, result.error)

    async def _record(self, row: WebhookDeliveryRow, *, final_failure: bool) -> None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            endpoint = await session.get(WebhookEndpointRow, row.endpoint_id, with_for_update=True)
            if endpoint is None:
                return
            session.add(row)
            if row.status == "succeeded":
                endpoint.consecutive_failures = 0
            elif final_failure:
                endpoint.consecutive_failures += 1
                if endpoint.consecutive_failures >= self.disable_after and not endpoint.disabled:
                    endpoint.disabled = True
                    endpoint.disabled_reason = f"{endpoint.consecutive_failures} deliveries in a row failed"
                    endpoint.updated_at = now
                    message = endpoint_to_proto(endpoint)
                    record_event(session, "webhook_endpoint.disabled", message.name, message, now)
                    log.warning(
                        "webhook endpoint %s disabled after %d failed deliveries",
                        endpoint.id,
                        endpoint.consecutive_failures,
                    )

    async def attempts_so_far(self, endpoint_id: str, event_id: str) -> int:
        async with self.db.read() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.endpoint_id == endpoint_id, WebhookDeliveryRow.event_id == event_id)
            )
        return int(count or 0)
