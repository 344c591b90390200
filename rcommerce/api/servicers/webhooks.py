"""Servicer of ``WebhookService`` (webhooks.proto)."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.events.endpoints import WebhookEndpoints
from rcommerce.gen.v1 import webhooks_pb2, webhooks_pb2_grpc
from rcommerce.names import parse_child_name, parse_name
from rcommerce.pagination import PageTokens, page_size


class WebhookServicer(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, endpoints: WebhookEndpoints, page_tokens: PageTokens) -> None:
        self._endpoints = endpoints
        self._tokens = page_tokens

    async def CreateWebhookEndpoint(
        self, request: webhooks_pb2.CreateWebhookEndpointRequest, call: Call
    ) -> webhooks_pb2.CreateWebhookEndpointResponse:
        e = request.webhook_endpoint
        created, secret = await self._endpoints.create(e.url, list(e.event_types), e.description, request.secret)
        return webhooks_pb2.CreateWebhookEndpointResponse(webhook_endpoint=created, secret=secret)

    async def GetWebhookEndpoint(
        self, request: webhooks_pb2.GetWebhookEndpointRequest, call: Call
    ) -> webhooks_pb2.WebhookEndpoint:
        return await self._endpoints.get(parse_name(request.name, "webhookEndpoints", "whe"))

    async def ListWebhookEndpoints(
        self, request: webhooks_pb2.ListWebhookEndpointsRequest, call: Call
    ) -> webhooks_pb2.ListWebhookEndpointsResponse:
        size = page_size(request.page_size)
        offset = self._tokens.decode(request.page_token, "webhook_endpoints")
        items, more = await self._endpoints.list_endpoints(offset, size)
        token = self._tokens.encode(offset + size, "webhook_endpoints") if more else ""
        return webhooks_pb2.ListWebhookEndpointsResponse(webhook_endpoints=items, next_page_token=token)

    async def UpdateWebhookEndpoint(
        self, request: webhooks_pb2.UpdateWebhookEndpointRequest, call: Call
    ) -> webhooks_pb2.WebhookEndpoint:
        endpoint_id = parse_name(
            request.webhook_endpoint.name, "webhookEndpoints", "whe", field="webhook_endpoint.name"
        )
        return await self._endpoints.update(endpoint_id, request.webhook_endpoint, list(request.update_mask.paths))

    async def DeleteWebhookEndpoint(
        self, request: webhooks_pb2.DeleteWebhookEndpointRequest, call: Call
    ) -> empty_pb2.Empty:
        await self._endpoints.delete(parse_name(request.name, "webhookEndpoints", "whe"))
        return empty_pb2.Empty()

    async def RotateWebhookSecret(
        self, request: webhooks_pb2.RotateWebhookSecretRequest, call: Call
    ) -> webhooks_pb2.RotateWebhookSecretResponse:
        endpoint_id = parse_name(request.name, "webhookEndpoints", "whe")
        endpoint, secret = await self._endpoints.rotate_secret(endpoint_id, request.secret)
        return webhooks_pb2.RotateWebhookSecretResponse(webhook_endpoint=endpoint, secret=secret)

    async def SendTestEvent(
        self, request: webhooks_pb2.SendTestEventRequest, call: Call
    ) -> webhooks_pb2.WebhookDelivery:
        return await self._endpoints.send_test(parse_name(request.name, "webhookEndpoints", "whe"), request.event_type)

    async def ListWebhookDeliveries(
        self, request: webhooks_pb2.ListWebhookDeliveriesRequest, call: Call
    ) -> webhooks_pb2.ListWebhookDeliveriesResponse:
        endpoint_id = parse_name(request.parent, "webhookEndpoints", "whe", field="parent")
        size = page_size(request.page_size)
        fingerprint = f"deliveries:{endpoint_id}"
        offset = self._tokens.decode(request.page_token, fingerprint)
        items, more = await self._endpoints.list_deliveries(endpoint_id, offset, size)
        token = self._tokens.encode(offset + size, fingerprint) if more else ""
        return webhooks_pb2.ListWebhookDeliveriesResponse(webhook_deliveries=items, next_page_token=token)

    async def RedeliverWebhookDelivery(
        self, request: webhooks_pb2.RedeliverWebhookDeliveryRequest, call: Call
    ) -> webhooks_pb2.WebhookDelivery:
        endpoint_id, delivery_id = parse_child_name(request.name, "webhookEndpoints", "whe", "deliveries", "whd")
        return await self._endpoints.redeliver(endpoint_id, delivery_id)
