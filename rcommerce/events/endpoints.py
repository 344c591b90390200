"""Webhook endpoint management: create, read, update, delete, rotate the secret, send
a test event, list and redeliver deliveries.

The secret is stored in clear because every delivery is signed with it. It leaves the
server only in the create and rotate responses and is never logged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import delete, select

from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.webhooks.errors import (
    WEBHOOK_DELIVERY_NOT_FOUND,
    WEBHOOK_ENDPOINT_DISABLED,
    WEBHOOK_ENDPOINT_NOT_FOUND,
    WEBHOOK_EVENT_NOT_SUBSCRIBED,
    WEBHOOK_TARGET_NOT_ALLOWED,
    WebhooksError,
)
from rcommerce.errors import INVALID_FIELD_MASK, VALIDATION_FAILED, FieldViolation, RequestError, invalid
from rcommerce.events.convert import delivery_to_proto, endpoint_name, endpoint_to_proto
from rcommerce.events.models import WebhookDeliveryRow, WebhookEndpointRow
from rcommerce.events.outbox import record_event
from rcommerce.events.signing import event_body, generate_secret
from rcommerce.events.targets import TargetRefused
from rcommerce.events.webhooks import WebhookDeliverer, endpoint_matches
from rcommerce.gen.v1 import webhooks_pb2
from rcommerce.ids import new_id

__all__ = ["UPDATABLE_FIELDS", "WebhookEndpoints"]

_EVENT_TYPE = re.compile(r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$")
_MAX_EVENT_TYPES = 100
UPDATABLE_FIELDS = ("url", "event_types", "description", "disabled")
TEST_EVENT_TYPE = "webhook_endpoint.test"


def _check_event_types(types: Sequence[str], field: str) -> list[str]:
    if not types:
        raise invalid(field, 'must list at least one event type (or "*")')
    if len(types) > _MAX_EVENT_TYPES:
        raise invalid(field, f"must list at most {_MAX_EVENT_TYPES} event types")
    bad = [t for t in types if not _EVENT_TYPE.match(t) or len(t) > 100]
    if bad:
        raise RequestError(
            VALIDATION_FAILED,
            f'Invalid {field}: {", ".join(bad)} are not event types like "order.created", "product.*" or "*".',
            violations=[FieldViolation(field, f"{t!r} is not an event type") for t in bad],
            eventTypes=",".join(bad),
        )
    return list(dict.fromkeys(types))


def _check_secret(secret: str, field: str) -> str:
    if not secret:
        return generate_secret()
    if not (8 <= len(secret) <= 200) or not secret.isprintable():
        raise invalid(field, "must be 8 to 200 printable characters, or empty to generate one")
    return secret


class WebhookEndpoints:
    """The webhook management service behind ``WebhookService``."""

    def __init__(self, db: Database, clock: Clock, deliverer: WebhookDeliverer) -> None:
        self._db, self._clock, self._deliverer = db, clock, deliverer

    async def _check_url(self, url: str, field: str) -> str:
        url = url.strip()
        try:
            await self._deliverer.sender.check(url, require_resolvable=False)
        except TargetRefused as exc:
            raise RequestError(
                WEBHOOK_TARGET_NOT_ALLOWED,
                f"Invalid {field}: {exc}.",
                violations=[FieldViolation(field, str(exc))],
                field=field,
            ) from exc
        return url

    @staticmethod
    def _not_found(endpoint_id: str) -> WebhooksError:
        name = endpoint_name(endpoint_id)
        return WebhooksError(WEBHOOK_ENDPOINT_NOT_FOUND, f"Webhook endpoint {name} does not exist.", name=name)

    async def create(
        self, url: str, event_types: Sequence[str], description: str = "", secret: str = ""
    ) -> tuple[webhooks_pb2.WebhookEndpoint, str]:
        """Create an endpoint; returns it and its secret (the only time it is returned)."""
        url = await self._check_url(url, "webhook_endpoint.url")
        types = _check_event_types(event_types, "webhook_endpoint.event_types")
        if len(description) > 500:
            raise invalid("webhook_endpoint.description", "must be at most 500 characters")
        secret = _check_secret(secret, "secret")
        now = self._clock.now()
        row = WebhookEndpointRow(
            id=new_id("whe", now), url=url, event_types=types, description=description, secret=secret,
            disabled=False, disabled_reason="", consecutive_failures=0, created_at=now, updated_at=now,
        )  # fmt: skip
        async with self._db.transaction() as session:
            session.add(row)
            message = endpoint_to_proto(row)
            record_event(session, "webhook_endpoint.created", message.name, message, now)
        return message, secret

    async def _row(self, endpoint_id: str) -> WebhookEndpointRow:
        async with self._db.read() as session:
            row = await session.get(WebhookEndpointRow, endpoint_id)
        if row is None:
            raise self._not_found(endpoint_id)
        return row

    async def get(self, endpoint_id: str) -> webhooks_pb2.WebhookEndpoint:
        return endpoint_to_proto(await self._row(endpoint_id))

    async def list_endpoints(self, offset: int, limit: int) -> tuple[list[webhooks_pb2.WebhookEndpoint], bool]:
        """A page of endpoints, newest first, and whether more follow."""
        query = select(WebhookEndpointRow).order_by(WebhookEndpointRow.created_at.desc(), WebhookEndpointRow.id.desc())
        async with self._db.read() as session:
            rows = (await session.execute(query.offset(offset).limit(limit + 1))).scalars().all()
        return [endpoint_to_proto(r) for r in rows[:limit]], len(rows) > limit

    async def update(
        self, endpoint_id: str, changes: webhooks_pb2.WebhookEndpoint, paths: Sequence[str]
    ) -> webhooks_pb2.WebhookEndpoint:
        """Apply the fields named in ``paths`` (all populated ones when empty)."""
        if not paths:
            paths = [f.name for f, _ in changes.ListFields() if f.name in UPDATABLE_FIELDS]
        unknown = [p for p in paths if p not in UPDATABLE_FIELDS]
        if unknown:
            raise invalid(
                "update_mask",
                f"cannot update {', '.join(unknown)}; allowed: {', '.join(UPDATABLE_FIELDS)}",
                INVALID_FIELD_MASK,
            )
        url = await self._check_url(changes.url, "webhook_endpoint.url") if "url" in paths else ""
        types = (
            _check_event_types(changes.event_types, "webhook_endpoint.event_types") if "event_types" in paths else []
        )
        if "description" in paths and len(changes.description) > 500:
            raise invalid("webhook_endpoint.description", "must be at most 500 characters")
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await session.get(WebhookEndpointRow, endpoint_id, with_for_update=True)
            if row is None:
                raise self._not_found(endpoint_id)
            if "url" in paths:
                row.url = url
            if "event_types" in paths:
                row.event_types = types
            if "description" in paths:
                row.description = changes.description
            if "disabled" in paths and changes.disabled != row.disabled:
                row.disabled = changes.disabled
                row.disabled_reason = "disabled by an administrator" if changes.disabled else ""
                row.consecutive_failures = 0
            row.updated_at = now
            message = endpoint_to_proto(row)
            record_event(session, "webhook_endpoint.updated", message.name, message, now)
        return message

    async def delete(self, endpoint_id: str) -> None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await session.get(WebhookEndpointRow, endpoint_id, with_for_update=True)
            if row is None:
                raise self._not_found(endpoint_id)
            message = endpoint_to_proto(row)
            await session.execute(delete(WebhookDeliveryRow).where(WebhookDeliveryRow.endpoint_id == endpoint_id))
            await session.delete(row)
            record_event(session, "webhook_endpoint.deleted", message.name, message, now)

    async def rotate_secret(self, endpoint_id: str, secret: str = "") -> tuple[webhooks_pb2.WebhookEndpoint, str]:
        """Replace the secret at once; deliveries sent from now on use the new one."""
        secret = _check_secret(secret, "secret")
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await session.get(WebhookEndpointRow, endpoint_id, with_for_update=True)
            if row is None:
                raise self._not_found(endpoint_id)
            row.secret = secret
            row.updated_at = now
            message = endpoint_to_proto(row)
            record_event(session, "webhook_endpoint.secret_rotated", message.name, message, now)
        return message, secret

    async def send_test(self, endpoint_id: str, event_type: str) -> webhooks_pb2.WebhookDelivery:
        """Send a signed test event now and record it (no retries)."""
        row = await self._row(endpoint_id)
        if row.disabled:
            raise WebhooksError(
                WEBHOOK_ENDPOINT_DISABLED,
                f"Webhook endpoint {endpoint_name(row.id)} is disabled.",
                name=endpoint_name(row.id),
            )
        if not event_type:
            first = row.event_types[0]
            event_type = first if "*" not in first else TEST_EVENT_TYPE
        elif not endpoint_matches(row.event_types, event_type):
            raise WebhooksError(
                WEBHOOK_EVENT_NOT_SUBSCRIBED,
                f"Webhook endpoint {endpoint_name(row.id)} does not subscribe to {event_type}.",
                name=endpoint_name(row.id),
                eventType=event_type,
            )
        now = self._clock.now()
        event_id = new_id("evt", now)
        data = {"object": {"message": "This is a test webhook delivery"}, "test": True}
        body = event_body(event_id, event_type, now, data)
        outcome = await self._deliverer.send(row, event_id, event_type, body, attempt=1, test=True)
        async with self._db.transaction() as session:
            session.add(outcome.row)
        return delivery_to_proto(outcome.row)

    async def list_deliveries(
        self, endpoint_id: str, offset: int, limit: int
    ) -> tuple[list[webhooks_pb2.WebhookDelivery], bool]:
        await self._row(endpoint_id)
        query = (
            select(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.endpoint_id == endpoint_id)
            .order_by(WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id.desc())
        )
        async with self._db.read() as session:
            rows = (await session.execute(query.offset(offset).limit(limit + 1))).scalars().all()
        return [delivery_to_proto(r) for r in rows[:limit]], len(rows) > limit

    async def redeliver(self, endpoint_id: str, delivery_id: str) -> webhooks_pb2.WebhookDelivery:
        """Send a past delivery's body again now (same event id, fresh timestamp and
        signature, current secret and URL) as a new attempt; no automatic retries."""
        endpoint = await self._row(endpoint_id)
        async with self._db.read() as session:
            past = await session.get(WebhookDeliveryRow, delivery_id)
        if past is None or past.endpoint_id != endpoint_id:
            name = f"{endpoint_name(endpoint_id)}/deliveries/{delivery_id}"
            raise WebhooksError(WEBHOOK_DELIVERY_NOT_FOUND, f"Webhook delivery {name} does not exist.", name=name)
        attempt = await self._deliverer.attempts_so_far(endpoint_id, past.event_id) + 1
        outcome = await self._deliverer.send(
            endpoint, past.event_id, past.event_type, past.request_body.encode(), attempt=attempt, test=past.test
        )
        async with self._db.transaction() as session:
            session.add(outcome.row)
        return delivery_to_proto(outcome.row)
