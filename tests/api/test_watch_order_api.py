"""WatchOrder (DECISIONS 24): the order as it is, then each changed version, over gRPC
server streaming and Server-Sent Events, with GetOrder's access rules. Every stream
read is bounded by a timeout and the changes are made only after the version before
them arrived; nothing sleeps."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from google.protobuf import field_mask_pb2, json_format

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.gen.v1 import customers_pb2 as U
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.testing.client import ApiClient, ApiError, _rest_error
from rcommerce.testing.server import LiveServer
from tests.api._checkout_flow import order_by_transfer
from tests.api._streams import grpc_stream
from tests.backends._carts_store import tag
from tests.backends._checkout_world import SYDNEY, ensure_region, product

TIMEOUT_S = 15
WATCH = "/rcommerce.v1.OrderService/WatchOrder"
#: Called with each version received; returns whether to stop reading.
OnVersion = Callable[[list[O.Order]], Awaitable[bool]]


@pytest.fixture
async def region(db: Database) -> str:
    return await ensure_region(db, SystemClock())


@pytest.fixture
async def shop(client: ApiClient, server: LiveServer) -> ApiClient:
    key = await server.create_key(["carts:write", "checkout:write", "customers:write"], kind="publishable")
    return client.with_token(key)


async def _watch_grpc(server: LiveServer, token: str, request: O.WatchOrderRequest, on: OnVersion) -> list[O.Order]:
    return await grpc_stream(server, token, WATCH, request, O.Order, on, TIMEOUT_S)


async def _watch_rest(server: LiveServer, token: str, request: O.WatchOrderRequest, on: OnVersion) -> list[O.Order]:
    params = {"maxUpdates": request.max_updates} if request.max_updates else {}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=TIMEOUT_S) as http:
        headers = {"authorization": f"Bearer {token}"}
        async with http.stream("GET", f"/v1/{request.name}:watch", params=params, headers=headers) as response:
            if response.status_code >= 400:
                await response.aread()
                raise _rest_error(response)
            assert response.headers["content-type"].startswith("text/event-stream")
            versions: list[O.Order] = []
            async for line in response.aiter_lines():
                assert not line.startswith("event: error"), line
                if line.startswith("data: "):
                    versions.append(json_format.Parse(line.removeprefix("data: "), O.Order()))
                    if await on(versions):
                        break
            return versions


async def watch(
    server: LiveServer, client: ApiClient, request: O.WatchOrderRequest, on: OnVersion | None = None
) -> list[O.Order]:
    async def never(versions: list[O.Order]) -> bool:
        return False

    reader = _watch_grpc if client.transport == "grpc" else _watch_rest
    assert client.token
    async with asyncio.timeout(TIMEOUT_S):
        return await reader(server, client.token, request, on or never)


async def _customer(shop: ApiClient) -> ApiClient:
    session = await shop.call(
        "Register", U.RegisterRequest(email=f"watch-{tag()}@example.com", password="correct horse battery")
    )
    return shop.with_token(session.access_token)


async def _order_by_transfer(client: ApiClient, buyer: ApiClient, region: str) -> tuple[str, str]:
    return await order_by_transfer(client, buyer, region, product(2500), SYDNEY, "chk_std")


async def _tag(client: ApiClient, order: str, *tags: str) -> None:
    await client.call(
        "UpdateOrder",
        O.UpdateOrderRequest(
            order=O.Order(name=order, tags=list(tags)), update_mask=field_mask_pb2.FieldMask(paths=["tags"])
        ),
    )


async def test_the_order_now_then_each_change_and_nothing_for_other_orders(
    server: LiveServer, client: ApiClient, shop: ApiClient, region: str
) -> None:
    ann = await _customer(shop)
    order, transfer = await _order_by_transfer(client, ann, region)
    other, _ = await _order_by_transfer(client, ann, region)

    async def on(versions: list[O.Order]) -> bool:
        latest = versions[-1]
        if len(versions) == 1:
            assert latest.payment_status == O.ORDER_PAYMENT_STATUS_AUTHORIZED
            await _tag(client, other, "unrelated")  # wakes the watcher; its order did not change
            await client.call(
                "CapturePayment", P.CapturePaymentRequest(name=transfer, idempotency_key=uuid.uuid4().hex)
            )  # the transfer arrived
        elif len(versions) == 2:
            await _tag(client, order, "gift")
        return len(versions) == 3

    versions = await watch(server, ann, O.WatchOrderRequest(name=order), on)
    assert [v.name for v in versions] == [order] * 3
    assert [v.payment_status for v in versions] == [O.ORDER_PAYMENT_STATUS_AUTHORIZED] + [
        O.ORDER_PAYMENT_STATUS_PAID
    ] * 2
    assert [list(v.tags) for v in versions] == [[], [], ["gift"]]
    assert versions[-1] == await ann.call("GetOrder", O.GetOrderRequest(name=order))  # the customer's view


async def test_an_order_number_watches_the_order_and_max_updates_ends_the_stream(
    server: LiveServer, client: ApiClient, shop: ApiClient, region: str
) -> None:
    order, _ = await _order_by_transfer(client, shop, region)
    number = (await client.call("GetOrder", O.GetOrderRequest(name=order))).number
    versions = await watch(server, client, O.WatchOrderRequest(name=f"orders/{number}", max_updates=1))
    assert [(v.name, v.number) for v in versions] == [(order, number)]
    assert versions[0] == await client.call("GetOrder", O.GetOrderRequest(name=order))  # the staff view


async def test_another_customers_order_is_not_found_before_anything_is_sent(
    server: LiveServer, client: ApiClient, shop: ApiClient, region: str
) -> None:
    ann, bob = await _customer(shop), await _customer(shop)
    order, _ = await _order_by_transfer(client, ann, region)
    with pytest.raises(ApiError) as caught:
        await watch(server, bob, O.WatchOrderRequest(name=order))
    assert caught.value.reason == "ORDER_NOT_FOUND"
    assert caught.value.http_status in (None, 404) and caught.value.status == "NOT_FOUND"


async def test_bad_requests_and_storefront_keys_are_refused(
    server: LiveServer, client: ApiClient, shop: ApiClient
) -> None:
    with pytest.raises(ApiError) as caught:
        await watch(server, client, O.WatchOrderRequest(name="orders/ord_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", max_updates=-1))
    assert caught.value.reason == "VALIDATION_FAILED"
    with pytest.raises(ApiError) as caught:
        await watch(server, client, O.WatchOrderRequest(name="carts/cart_x"))
    # REST matches the name against the route's "orders/*" first.
    assert caught.value.reason == ("VALIDATION_FAILED" if client.transport == "grpc" else "INVALID_RESOURCE_NAME")
    with pytest.raises(ApiError) as caught:
        await watch(server, shop, O.WatchOrderRequest(name="orders/ord_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"))
    assert caught.value.reason == "INSUFFICIENT_PERMISSIONS"
