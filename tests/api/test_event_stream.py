"""EventService (DECISIONS 24): WatchEvents over gRPC streaming and Server-Sent Events,
ListEvents for catching up. Every stream read is bounded by a timeout and stops after the
events it waits for; nothing sleeps.

Scope decision: WatchEvents and ListEvents need ``events:read`` (without it the call fails
with PERMISSION_DENIED / INSUFFICIENT_PERMISSIONS); on top of that each event is shown
only when the caller may read its resource (``product.*`` needs ``products:read``), so a
key with ``events:read`` + ``orders:read`` simply receives no product events.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from google.protobuf import json_format

from rcommerce.events.cursor import decode_cursor
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import events_pb2 as E
from rcommerce.gen.v1 import webhooks_pb2 as W
from rcommerce.testing.client import ApiError, _rest_error
from rcommerce.testing.server import LiveServer
from tests.api._streams import grpc_stream

TIMEOUT_S = 15
WATCH = "/rcommerce.v1.EventService/WatchEvents"
Until = Callable[[list[E.Event]], bool]


def _highest(cursor: str) -> int:
    """The highest seq delivered at ``cursor``: the last seen range's end, or the frontier."""
    position = decode_cursor(cursor)
    return position.seen[-1][1] if position.seen else position.frontier


def _count(n: int) -> Until:
    return lambda events: len(events) >= n


def _seen(subjects: set[str]) -> Until:
    return lambda events: subjects <= {e.subject for e in events}


async def _watch_grpc(server: LiveServer, token: str, request: E.WatchEventsRequest, until: Until) -> list[E.Event]:
    async def stop(events: list[E.Event]) -> bool:
        return until(events)

    return await grpc_stream(server, token, WATCH, request, E.Event, stop, TIMEOUT_S)


def _params(request: E.WatchEventsRequest) -> list[tuple[str, str | int | float | bool | None]]:
    params: list[tuple[str, str | int | float | bool | None]] = [("types", t) for t in request.types]
    if request.cursor:
        params.append(("cursor", request.cursor))
    return params


async def _sse(response: httpx.Response, until: Until) -> list[tuple[dict[str, str], E.Event]]:
    """Parse Server-Sent Events until ``until`` holds; returns (fields, event) pairs."""
    out: list[tuple[dict[str, str], E.Event]] = []
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            continue
        if line:
            key, _, value = line.partition(": ")
            fields[key] = value
            continue
        if "data" in fields:
            assert fields.get("event") != "error", fields["data"]
            out.append((fields, json_format.Parse(fields["data"], E.Event())))
            if until([e for _, e in out]):
                break
        fields = {}
    return out


async def _watch_rest(
    server: LiveServer, token: str, request: E.WatchEventsRequest, until: Until, headers: dict[str, str] | None = None
) -> list[E.Event]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT_S) as http:
        all_headers = {"authorization": f"Bearer {token}", **(headers or {})}
        async with http.stream("GET", "/v1/events:watch", params=_params(request), headers=all_headers) as response:
            if response.status_code >= 400:
                await response.aread()
                raise _rest_error(response)
            assert response.headers["content-type"].startswith("text/event-stream")
            pairs = await _sse(response, until)
    for fields, event in pairs:
        assert (fields["id"], fields["event"]) == (event.cursor, event.type)
    return [e for _, e in pairs]


async def watch(
    server: LiveServer, transport: str, token: str, request: E.WatchEventsRequest, until: Until
) -> list[E.Event]:
    reader = _watch_grpc if transport == "grpc" else _watch_rest
    async with asyncio.timeout(TIMEOUT_S):
        return await reader(server, token, request, until)


@pytest.fixture(params=["grpc", "rest"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _head(server: LiveServer) -> str:
    """The cursor after every event recorded so far."""
    client = server.grpc_client(server.admin_key)
    try:
        cursor = ""
        while True:
            page = await client.call("ListEvents", E.ListEventsRequest(cursor=cursor, page_size=100))
            cursor = page.cursor
            if not page.next_page_token:
                return str(cursor)
    finally:
        await client.close()


async def _products(server: LiveServer, n: int) -> list[str]:
    client = server.grpc_client(server.admin_key)
    try:
        tag = uuid.uuid4().hex[:8]
        created = [
            await client.call("CreateProduct", C.CreateProductRequest(product=C.Product(title=f"Stream {tag} {i}")))
            for i in range(n)
        ]
        return [p.name for p in created]
    finally:
        await client.close()


async def _endpoint(server: LiveServer) -> str:
    client = server.grpc_client(server.admin_key)
    try:
        endpoint = W.WebhookEndpoint(url="https://93.184.216.34/hooks/stream", event_types=["order.created"])
        created = await client.call("CreateWebhookEndpoint", W.CreateWebhookEndpointRequest(webhook_endpoint=endpoint))
        return str(created.webhook_endpoint.name)
    finally:
        await client.close()


async def test_watch_from_the_start_delivers_product_events_in_order(server: LiveServer, transport: str) -> None:
    names = await _products(server, 3)
    request = E.WatchEventsRequest(types=["product.created"])
    events = await watch(server, transport, server.admin_key, request, _seen(set(names)))
    assert {e.type for e in events} == {"product.created"}
    assert [e.subject for e in events if e.subject in names] == names
    seqs = [_highest(e.cursor) for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    ours = [e for e in events if e.subject in names]
    assert all(e.id.startswith("evt_") and e.create_time.seconds > 0 for e in ours)
    assert ours[0].data["object"]["name"] == names[0]


async def test_resume_from_a_cursor_gets_only_later_events(server: LiveServer, transport: str) -> None:
    names = await _products(server, 3)
    first = await watch(
        server, transport, server.admin_key, E.WatchEventsRequest(types=["product.created"]), _seen({names[0]})
    )
    cursor = next(e.cursor for e in first if e.subject == names[0])
    later = await watch(
        server, transport, server.admin_key, E.WatchEventsRequest(cursor=cursor, types=["product.created"]), _count(2)
    )
    assert [e.subject for e in later] == names[1:]


async def test_live_events_arrive_while_watching(server: LiveServer, transport: str) -> None:
    head = await _head(server)
    request = E.WatchEventsRequest(cursor=head, types=["product.created"])
    watching = asyncio.create_task(watch(server, transport, server.admin_key, request, _count(1)))
    # The watcher is polling (or about to): either way it must see the later commit.
    names = await _products(server, 1)
    events = await watching
    assert [e.subject for e in events] == names


async def test_type_filter_with_a_wildcard(server: LiveServer, transport: str) -> None:
    head = await _head(server)
    endpoint = await _endpoint(server)
    [product] = await _products(server, 1)
    products = await watch(
        server, transport, server.admin_key, E.WatchEventsRequest(cursor=head, types=["product.*"]), _count(1)
    )
    assert (products[0].type, products[0].subject) == ("product.created", product)
    hooks = await watch(
        server,
        transport,
        server.admin_key,
        E.WatchEventsRequest(cursor=head, types=["webhook_endpoint.*", "order.created"]),
        _count(1),
    )
    assert (hooks[0].type, hooks[0].subject) == ("webhook_endpoint.created", endpoint)


async def test_events_are_filtered_by_the_callers_scopes(server: LiveServer, transport: str) -> None:
    head = await _head(server)
    await _products(server, 1)
    endpoint = await _endpoint(server)
    hooks_only = await server.create_key(["events:read", "webhooks:read"])
    events = await watch(server, transport, hooks_only, E.WatchEventsRequest(cursor=head), _count(1))
    assert (events[0].type, events[0].subject) == ("webhook_endpoint.created", endpoint)


async def test_a_key_without_the_resource_scope_lists_no_product_events(server: LiveServer, transport: str) -> None:
    head = await _head(server)
    await _products(server, 2)
    orders = await server.create_key(["events:read", "orders:read"])
    client = server.grpc_client(orders) if transport == "grpc" else server.rest_client(orders)
    try:
        page = await client.call("ListEvents", E.ListEventsRequest(cursor=head))
    finally:
        await client.close()
    assert list(page.events) == []
    assert _highest(page.cursor) > _highest(head)  # skipped rows still move the cursor


async def test_watch_without_events_read_is_denied(server: LiveServer, transport: str) -> None:
    orders_only = await server.create_key(["orders:read"])
    with pytest.raises(ApiError) as err:
        await watch(server, transport, orders_only, E.WatchEventsRequest(), _count(1))
    assert (err.value.status, err.value.reason) == ("PERMISSION_DENIED", "INSUFFICIENT_PERMISSIONS")


@pytest.mark.parametrize("cursor", ["bogus", "c2VxOng", "c2VxOi0x", "Zm9vOjE"])
async def test_invalid_cursor_is_refused(server: LiveServer, transport: str, cursor: str) -> None:
    with pytest.raises(ApiError) as err:
        await watch(server, transport, server.admin_key, E.WatchEventsRequest(cursor=cursor), _count(1))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_CURSOR")
    if transport == "rest":
        assert err.value.http_status == 400


async def test_invalid_type_is_refused(server: LiveServer, transport: str) -> None:
    with pytest.raises(ApiError) as err:
        await watch(server, transport, server.admin_key, E.WatchEventsRequest(types=["Not A Type"]), _count(1))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "VALIDATION_FAILED")


async def test_sse_last_event_id_resumes(server: LiveServer) -> None:
    names = await _products(server, 3)
    first = await watch(
        server, "rest", server.admin_key, E.WatchEventsRequest(types=["product.created"]), _seen({names[0]})
    )
    cursor = next(e.cursor for e in first if e.subject == names[0])
    async with asyncio.timeout(TIMEOUT_S):
        later = await _watch_rest(
            server,
            server.admin_key,
            E.WatchEventsRequest(types=["product.created"]),
            _count(2),
            {"last-event-id": cursor},
        )
    assert [e.subject for e in later] == names[1:]


async def test_list_events_pages_oldest_first(server: LiveServer, transport: str) -> None:
    head = await _head(server)
    names = await _products(server, 2)
    client = server.grpc_client(server.admin_key) if transport == "grpc" else server.rest_client(server.admin_key)
    try:
        request: dict[str, Any] = {"cursor": head, "types": ["product.created"], "page_size": 1}
        first = await client.call("ListEvents", E.ListEventsRequest(**request))
        assert [e.subject for e in first.events] == names[:1] and first.next_page_token
        second = await client.call("ListEvents", E.ListEventsRequest(**request, page_token=first.next_page_token))
        assert [e.subject for e in second.events] == names[1:]
        with pytest.raises(ApiError) as err:
            await client.call("ListEvents", E.ListEventsRequest(cursor="bogus"))
        assert err.value.reason == "INVALID_CURSOR"
    finally:
        await client.close()


def test_event_json_keeps_the_payload() -> None:
    event = E.Event(id="evt_1", type="product.created")
    event.data.update({"object": {"name": "products/p1"}})
    assert json.loads(json_format.MessageToJson(event))["data"] == {"object": {"name": "products/p1"}}


async def test_sse_sends_keep_alive_comments_while_idle(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server.app.bridge, "sse_keepalive_s", 0.05)
    head = await _head(server)
    headers = {"authorization": f"Bearer {server.admin_key}"}
    params = {"cursor": head, "types": "order.paid"}
    async with (
        asyncio.timeout(TIMEOUT_S),
        httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT_S) as http,
        http.stream("GET", "/v1/events:watch", params=params, headers=headers) as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line:
                assert line == ": keep-alive"
                break
