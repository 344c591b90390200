"""Rows of this package as API messages."""

from __future__ import annotations

import json

from rcommerce.events.models import WebhookDeliveryRow, WebhookEndpointRow
from rcommerce.gen.v1 import webhooks_pb2
from rcommerce.jobs.models import JobRow
from rcommerce.timestamps import to_timestamp

_DELIVERY_STATUS = {
    "succeeded": webhooks_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED,
    "retrying": webhooks_pb2.WEBHOOK_DELIVERY_STATUS_RETRYING,
    "failed": webhooks_pb2.WEBHOOK_DELIVERY_STATUS_FAILED,
}
JOB_STATES = {
    "queued": webhooks_pb2.JOB_STATE_QUEUED,
    "running": webhooks_pb2.JOB_STATE_RUNNING,
    "succeeded": webhooks_pb2.JOB_STATE_SUCCEEDED,
    "dead": webhooks_pb2.JOB_STATE_DEAD,
    "cancelled": webhooks_pb2.JOB_STATE_CANCELLED,
}


def endpoint_name(endpoint_id: str) -> str:
    return f"webhookEndpoints/{endpoint_id}"


def endpoint_to_proto(row: WebhookEndpointRow) -> webhooks_pb2.WebhookEndpoint:
    """The API view of an endpoint; never includes the secret."""
    return webhooks_pb2.WebhookEndpoint(
        name=endpoint_name(row.id),
        id=row.id,
        url=row.url,
        event_types=list(row.event_types),
        description=row.description,
        disabled=row.disabled,
        disabled_reason=row.disabled_reason,
        consecutive_failures=row.consecutive_failures,
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
    )


def delivery_to_proto(row: WebhookDeliveryRow) -> webhooks_pb2.WebhookDelivery:
    return webhooks_pb2.WebhookDelivery(
        name=f"{endpoint_name(row.endpoint_id)}/deliveries/{row.id}",
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        attempt=row.attempt,
        status=_DELIVERY_STATUS[row.status],
        http_status=row.http_status,
        request_headers={str(k): str(v) for k, v in row.request_headers.items()},
        request_body=row.request_body,
        response_body_excerpt=row.response_body_excerpt,
        error=row.error,
        duration_ms=row.duration_ms,
        next_attempt_time=to_timestamp(row.next_attempt_at),
        create_time=to_timestamp(row.created_at),
        test=row.test,
    )


def job_to_proto(row: JobRow) -> webhooks_pb2.Job:
    return webhooks_pb2.Job(
        name=f"jobs/{row.id}",
        id=row.id,
        kind=row.kind,
        state=JOB_STATES[row.state],
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        run_time=to_timestamp(row.run_at),
        last_error=row.last_error,
        payload_json=json.dumps(row.payload, separators=(",", ":")),
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
    )
