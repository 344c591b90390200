"""WebhookService and JobService through both transports (needs the app to register
``EventServices.servicers()``)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from google.protobuf import field_mask_pb2

from rcommerce.gen.v1 import webhooks_pb2 as pb
from rcommerce.ids import new_id
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer

# A public address literal: passes the private-target check without DNS. Nothing here
# makes the server send to it (only order.* types that no test records).
URL = "https://93.184.216.34/hooks/rcommerce"


def _missing(collection: str, prefix: str) -> str:
    return f"{collection}/{new_id(prefix, datetime.now(UTC))}"


async def _create(client: ApiClient, **fields: object) -> pb.CreateWebhookEndpointResponse:
    endpoint = pb.WebhookEndpoint(url=URL, event_types=["order.created"], description=f"test {uuid.uuid4().hex[:6]}")
    for key, value in fields.items():
        if key == "event_types":
            del endpoint.event_types[:]
            endpoint.event_types.extend(value)  # type: ignore[arg-type]
        else:
            setattr(endpoint, key, value)
    secret = str(fields.pop("secret", "")) if "secret" in fields else ""
    return await client.call(
        "CreateWebhookEndpoint", pb.CreateWebhookEndpointRequest(webhook_endpoint=endpoint, secret=secret)
    )


async def test_create_returns_the_secret_once(client: ApiClient) -> None:
    created = await _create(client, event_types=["order.created", "order.*"])
    endpoint = created.webhook_endpoint
    assert endpoint.name == f"webhookEndpoints/{endpoint.id}" and endpoint.id.startswith("whe_")
    assert (endpoint.url, list(endpoint.event_types), endpoint.disabled) == (URL, ["order.created", "order.*"], False)
    assert created.secret.startswith("whsec_") and len(base64.b64decode(created.secret[6:])) == 32
    got = await client.call("GetWebhookEndpoint", pb.GetWebhookEndpointRequest(name=endpoint.name))
    assert got == endpoint
    assert created.secret not in str(got)


async def test_a_supplied_secret_is_kept(client: ApiClient) -> None:
    request = pb.CreateWebhookEndpointRequest(
        webhook_endpoint=pb.WebhookEndpoint(url=URL, event_types=["order.created"]), secret="whsec_test"
    )
    created = await client.call("CreateWebhookEndpoint", request)
    assert created.secret == "whsec_test"


@pytest.mark.parametrize(
    ("url", "event_types", "reason"),
    [
        pytest.param(URL, [], "VALIDATION_FAILED", id="no-event-types"),
        pytest.param(URL, ["Not An Event"], "VALIDATION_FAILED", id="bad-event-type"),
        pytest.param("ftp://x", ["order.created"], "WEBHOOK_TARGET_NOT_ALLOWED", id="ftp"),
        pytest.param("http://127.0.0.1:9/hook", ["order.created"], "WEBHOOK_TARGET_NOT_ALLOWED", id="loopback"),
        pytest.param("http://169.254.169.254/", ["order.created"], "WEBHOOK_TARGET_NOT_ALLOWED", id="metadata"),
    ],
)
async def test_create_validates(client: ApiClient, url: str, event_types: list[str], reason: str) -> None:
    request = pb.CreateWebhookEndpointRequest(webhook_endpoint=pb.WebhookEndpoint(url=url, event_types=event_types))
    with pytest.raises(ApiError) as err:
        await client.call("CreateWebhookEndpoint", request)
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", reason)
    if client.transport == "rest":
        assert err.value.http_status == 400


async def test_missing_endpoint_is_not_found(client: ApiClient) -> None:
    name = _missing("webhookEndpoints", "whe")
    for method, request in [
        ("GetWebhookEndpoint", pb.GetWebhookEndpointRequest(name=name)),
        ("DeleteWebhookEndpoint", pb.DeleteWebhookEndpointRequest(name=name)),
        ("RotateWebhookSecret", pb.RotateWebhookSecretRequest(name=name)),
    ]:
        with pytest.raises(ApiError) as err:
            await client.call(method, request)
        assert (err.value.status, err.value.reason) == ("NOT_FOUND", "WEBHOOK_ENDPOINT_NOT_FOUND"), method
        if client.transport == "rest":
            assert err.value.http_status == 404


async def test_list_pages(client: ApiClient) -> None:
    for _ in range(3):
        await _create(client)
    first = await client.call("ListWebhookEndpoints", pb.ListWebhookEndpointsRequest(page_size=2))
    assert len(first.webhook_endpoints) == 2 and first.next_page_token
    second = await client.call(
        "ListWebhookEndpoints", pb.ListWebhookEndpointsRequest(page_size=2, page_token=first.next_page_token)
    )
    assert second.webhook_endpoints and {e.id for e in first.webhook_endpoints}.isdisjoint(
        e.id for e in second.webhook_endpoints
    )


async def test_update_with_a_mask(client: ApiClient) -> None:
    endpoint = (await _create(client)).webhook_endpoint
    change = pb.WebhookEndpoint(
        name=endpoint.name, url="https://93.184.216.35/new", description="changed", disabled=True
    )
    updated = await client.call(
        "UpdateWebhookEndpoint",
        pb.UpdateWebhookEndpointRequest(
            webhook_endpoint=change, update_mask=field_mask_pb2.FieldMask(paths=["url", "disabled"])
        ),
    )
    assert (updated.url, updated.description, updated.disabled) == (
        "https://93.184.216.35/new",
        endpoint.description,
        True,
    )
    assert updated.disabled_reason == "disabled by an administrator"
    with pytest.raises(ApiError) as err:
        await client.call(
            "UpdateWebhookEndpoint",
            pb.UpdateWebhookEndpointRequest(
                webhook_endpoint=change, update_mask=field_mask_pb2.FieldMask(paths=["secret"])
            ),
        )
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_FIELD_MASK")


async def test_rotate_returns_a_new_secret(client: ApiClient) -> None:
    created = await _create(client)
    rotated = await client.call(
        "RotateWebhookSecret", pb.RotateWebhookSecretRequest(name=created.webhook_endpoint.name)
    )
    assert rotated.secret.startswith("whsec_") and rotated.secret != created.secret
    assert rotated.webhook_endpoint.id == created.webhook_endpoint.id


async def test_delete_then_get_is_not_found(client: ApiClient) -> None:
    endpoint = (await _create(client)).webhook_endpoint
    await client.call("DeleteWebhookEndpoint", pb.DeleteWebhookEndpointRequest(name=endpoint.name))
    with pytest.raises(ApiError) as err:
        await client.call("GetWebhookEndpoint", pb.GetWebhookEndpointRequest(name=endpoint.name))
    assert err.value.reason == "WEBHOOK_ENDPOINT_NOT_FOUND"


async def test_test_event_for_an_unsubscribed_type_is_rejected(client: ApiClient) -> None:
    endpoint = (await _create(client)).webhook_endpoint
    with pytest.raises(ApiError) as err:
        await client.call("SendTestEvent", pb.SendTestEventRequest(name=endpoint.name, event_type="order.paid"))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "WEBHOOK_EVENT_NOT_SUBSCRIBED")
    if client.transport == "rest":
        assert err.value.http_status == 400


async def test_deliveries_of_a_new_endpoint_and_a_missing_delivery(client: ApiClient) -> None:
    endpoint = (await _create(client)).webhook_endpoint
    listed = await client.call("ListWebhookDeliveries", pb.ListWebhookDeliveriesRequest(parent=endpoint.name))
    assert list(listed.webhook_deliveries) == [] and listed.next_page_token == ""
    missing = f"{endpoint.name}/deliveries/{new_id('whd', datetime.now(UTC))}"
    with pytest.raises(ApiError) as err:
        await client.call("RedeliverWebhookDelivery", pb.RedeliverWebhookDeliveryRequest(name=missing))
    assert (err.value.status, err.value.reason) == ("NOT_FOUND", "WEBHOOK_DELIVERY_NOT_FOUND")


async def test_a_read_key_cannot_manage_webhooks(client: ApiClient, server: LiveServer) -> None:
    reader = client.with_token(await server.create_key(["webhooks:read"]))
    await reader.call("ListWebhookEndpoints", pb.ListWebhookEndpointsRequest())
    with pytest.raises(ApiError) as err:
        await reader.call(
            "CreateWebhookEndpoint",
            pb.CreateWebhookEndpointRequest(
                webhook_endpoint=pb.WebhookEndpoint(url=URL, event_types=["order.created"])
            ),
        )
    assert (err.value.status, err.value.reason) == ("PERMISSION_DENIED", "INSUFFICIENT_PERMISSIONS")
    await reader.close()


async def test_jobs_list_filters_and_missing_jobs(client: ApiClient) -> None:
    listed = await client.call(
        "ListJobs", pb.ListJobsRequest(state=pb.JOB_STATE_DEAD, kind="no.such.kind", page_size=5)
    )
    assert list(listed.jobs) == [] and listed.next_page_token == ""
    name = _missing("jobs", "job")
    for method, request in [("RetryJob", pb.RetryJobRequest(name=name)), ("CancelJob", pb.CancelJobRequest(name=name))]:
        with pytest.raises(ApiError) as err:
            await client.call(method, request)
        assert (err.value.status, err.value.reason) == ("NOT_FOUND", "JOB_NOT_FOUND"), method
