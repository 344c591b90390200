"""Who may pay which cart or order (CreatePayment), each test on gRPC and on REST: a guest
pays its cart with the cart's token and nothing else, a customer their own cart and
order, staff anything that exists. A refusal answers the reason the cart and order RPCs
answer and writes nothing: no payment, no key, no event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.domain.payments.models import IdempotencyKeyRow
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import checkout_pb2 as X
from rcommerce.gen.v1 import customers_pb2 as U
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer
from tests.api._checkout_flow import order_by_transfer, ready_cart
from tests.backends._carts_store import tag
from tests.backends._checkout_world import SYDNEY, ensure_region, product

_GRPC = {403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED", 422: "FAILED_PRECONDITION"}


def _missing(collection: str, prefix: str) -> str:
    """A well-formed name nothing has: each test its own (the database is shared)."""
    return f"{collection}/{prefix}_01{uuid.uuid4().hex[:24].upper().translate(str.maketrans('ILOU', 'JKPV'))}"


@pytest.fixture
async def region(db: Database) -> str:
    return await ensure_region(db, SystemClock())  # AUD, gateways test and manual


@pytest.fixture
async def shop(client: ApiClient, server: LiveServer) -> AsyncIterator[ApiClient]:
    key = await server.create_key(
        ["carts:write", "carts:read", "checkout:write", "payments:write", "customers:write"], kind="publishable"
    )
    yield client.with_token(key)


def _pay(target: str, cart_token: str = "") -> P.CreatePaymentRequest:
    return P.CreatePaymentRequest(
        target=target, gateway="test", method_type="card", amount=2500, currency_code="AUD",
        method_data={"token": "pm_card_visa"}, idempotency_key=uuid.uuid4().hex, cart_token=cart_token,
    )  # fmt: skip


async def _payment_events(db: Database) -> int:
    async with db.read() as s:
        return int(
            await s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.type == "payment.created"))
            or 0
        )


async def _refused(
    caller: ApiClient, request: P.CreatePaymentRequest, reason: str, http: int, *, staff: ApiClient, db: Database
) -> None:
    """``caller`` gets ``reason`` (HTTP ``http`` on REST, its gRPC code on gRPC) and nothing
    is written: no new payment of the target, no stored key, no ``payment.created``."""
    events = await _payment_events(db)
    listing = P.ListPaymentsRequest(target=request.target)
    before = await staff.call("ListPayments", listing)
    with pytest.raises(ApiError) as caught:
        await caller.call("CreatePayment", request)
    error = caught.value
    assert error.reason == reason, error
    if error.http_status is not None:
        assert error.http_status == http
    else:
        assert error.status == _GRPC[http]
    assert await staff.call("ListPayments", listing) == before
    async with db.read() as s:
        assert await s.get(IdempotencyKeyRow, request.idempotency_key) is None
    assert await _payment_events(db) == events


async def _customer(shop: ApiClient) -> tuple[str, ApiClient]:
    session = await shop.call(
        "Register", U.RegisterRequest(email=f"pay-{tag()}@example.com", password="correct horse battery")
    )
    return str(session.customer.name), shop.with_token(session.access_token)


async def _checkout(client: ApiClient, buyer: ApiClient, region: str) -> tuple[str, str, X.Checkout]:
    """A cart of ``buyer`` checked out: (cart, its token, the checkout)."""
    cart, token = await ready_cart(client, buyer, region, product(2500), SYDNEY, "chk_std")
    done = await buyer.call(
        "CompleteCheckout",
        X.CompleteCheckoutRequest(
            cart=cart, cart_token=token, idempotency_key=uuid.uuid4().hex, gateway="test",
            method_data={"number": "4242424242424242"},
        ),
    )  # fmt: skip
    assert done.status == X.CHECKOUT_STATUS_COMPLETED
    return cart, token, done


async def _unpaid_order(client: ApiClient, buyer: ApiClient, region: str) -> str:
    """An order of ``buyer`` with nothing paid: checked out by bank transfer, which staff
    voided when the money never came; its whole total is still to pay."""
    order, transfer = await order_by_transfer(client, buyer, region, product(2500), SYDNEY, "chk_std")
    await client.call("VoidPayment", P.VoidPaymentRequest(name=transfer, idempotency_key=uuid.uuid4().hex))
    totals = (await client.call("GetOrder", O.GetOrderRequest(name=order))).totals
    assert totals.balance_due == totals.total > 2500
    return order


async def test_a_guest_pays_its_cart_with_the_cart_token_only(
    client: ApiClient, shop: ApiClient, region: str, db: Database
) -> None:
    cart = await shop.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{region}")))
    other = await shop.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{region}")))
    request = _pay(cart.name)
    await _refused(shop, request, "CART_TOKEN_REQUIRED", 403, staff=client, db=db)
    request.cart_token = other.cart_token
    await _refused(shop, request, "CART_TOKEN_INVALID", 403, staff=client, db=db)
    # The same key with the right token: the refusals kept nothing of it.
    request.cart_token = cart.cart_token
    paid = await shop.call("CreatePayment", request)
    assert (paid.target, paid.status) == (cart.name, P.PAYMENT_STATUS_SUCCEEDED)
    assert await shop.call("CreatePayment", request) == paid  # a replay: the stored answer
    listed = await client.call("ListPayments", P.ListPaymentsRequest(target=cart.name))
    assert [p.name for p in listed.payments] == [paid.name]


async def test_rest_takes_the_cart_token_in_the_json_body(server: LiveServer, region: str) -> None:
    key = await server.create_key(["carts:write", "payments:write"], kind="publishable")
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
        cart = (await http.post("/v1/carts", json={"region": f"regions/{region}"})).json()
        body = {"target": cart["name"], "gateway": "test", "methodType": "card", "amount": "2500",
                "currencyCode": "AUD", "methodData": {"token": "pm_card_visa"}}  # fmt: skip
        missing = await http.post("/v1/payments", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        paid = await http.post(
            "/v1/payments", json={**body, "cartToken": cart["cartToken"]}, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    assert missing.status_code == 403 and missing.json()["error"]["details"][0]["reason"] == "CART_TOKEN_REQUIRED"
    assert paid.status_code == 200 and paid.json()["target"] == cart["name"]


async def test_a_storefront_key_pays_no_order_no_customers_cart_and_no_checked_out_cart(
    client: ApiClient, shop: ApiClient, region: str, db: Database
) -> None:
    cart, token, done = await _checkout(client, shop, region)
    # Orders are not reachable with a publishable key at all (as GetOrder), so a
    # missing one answers the same: nothing about orders can be probed.
    await _refused(shop, _pay(done.order, token), "INSUFFICIENT_PERMISSIONS", 403, staff=client, db=db)
    await _refused(shop, _pay(_missing("orders", "ord")), "INSUFFICIENT_PERMISSIONS", 403, staff=client, db=db)
    # The checked-out cart takes no payment: its order is paid instead.
    await _refused(shop, _pay(cart, token), "CART_CONVERTED", 409, staff=client, db=db)
    _, ann = await _customer(shop)
    ann_cart = await ann.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{region}")))
    await _refused(shop, _pay(ann_cart.name), "CART_OWNED_BY_ANOTHER_CUSTOMER", 403, staff=client, db=db)
    order = await client.call("GetOrder", O.GetOrderRequest(name=done.order))
    assert order.payment_status == O.ORDER_PAYMENT_STATUS_PAID  # no stray payment moved it


async def test_customers_pay_only_their_own_carts_and_orders(
    client: ApiClient, shop: ApiClient, region: str, db: Database
) -> None:
    _, ann = await _customer(shop)
    _, bob = await _customer(shop)
    order = await _unpaid_order(client, ann, region)
    ann_cart = await ann.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{region}")))
    # Another customer's order is not found, as GetOrder answers it; their cart is refused
    # as the cart RPCs refuse it.
    with pytest.raises(ApiError) as caught:
        await bob.call("GetOrder", O.GetOrderRequest(name=order))
    assert caught.value.reason == "ORDER_NOT_FOUND"
    await _refused(bob, _pay(order), "ORDER_NOT_FOUND", 404, staff=client, db=db)
    await _refused(bob, _pay(ann_cart.name), "CART_OWNED_BY_ANOTHER_CUSTOMER", 403, staff=client, db=db)
    # Their own: both work.
    for target in (order, ann_cart.name):
        paid = await ann.call("CreatePayment", _pay(target))
        assert (paid.target, paid.status) == (target, P.PAYMENT_STATUS_SUCCEEDED)


async def test_a_key_replays_only_to_the_caller_who_used_it(
    client: ApiClient, shop: ApiClient, region: str, db: Database
) -> None:
    """Idempotency keys are compared per caller: another customer (or staff) sending the
    same key and body is a different request, never a replay of the first caller's
    stored payment."""
    _, ann = await _customer(shop)
    _, bob = await _customer(shop)
    order = await _unpaid_order(client, ann, region)
    request = _pay(order)
    paid = await ann.call("CreatePayment", request)
    assert await ann.call("CreatePayment", request) == paid  # her own retry: the stored answer
    for other in (bob, client):
        with pytest.raises(ApiError) as caught:
            await other.call("CreatePayment", request)
        error = caught.value
        assert error.reason == "IDEMPOTENCY_KEY_REUSED", error
        assert error.status == "ABORTED" and error.http_status in (None, 409)
        assert paid.name not in str(error)
    listed = await client.call("ListPayments", P.ListPaymentsRequest(target=order))
    assert paid.name in [p.name for p in listed.payments] and len(listed.payments) == 2  # the transfer, hers


async def test_an_order_takes_a_deposit_and_the_rest_and_never_more(
    client: ApiClient, shop: ApiClient, region: str, db: Database
) -> None:
    _, ann = await _customer(shop)
    order = await _unpaid_order(client, ann, region)
    total = (await client.call("GetOrder", O.GetOrderRequest(name=order))).totals.total
    deposit = _pay(order)
    deposit.amount = 1000
    await ann.call("CreatePayment", deposit)
    rest = _pay(order)
    rest.amount = total - 1000 + 1
    await _refused(ann, rest, "PAYMENT_EXCEEDS_BALANCE", 422, staff=client, db=db)
    await _refused(client, rest, "PAYMENT_EXCEEDS_BALANCE", 422, staff=client, db=db)  # staff too
    rest.amount -= 1
    await ann.call("CreatePayment", rest)
    paid = await client.call("GetOrder", O.GetOrderRequest(name=order))
    assert (paid.payment_status, paid.totals.balance_due) == (O.ORDER_PAYMENT_STATUS_PAID, 0)


async def test_staff_pay_only_carts_and_orders_that_exist(client: ApiClient, db: Database) -> None:
    for target, reason in (
        (_missing("carts", "cart"), "CART_NOT_FOUND"),
        (_missing("orders", "ord"), "ORDER_NOT_FOUND"),
    ):
        await _refused(client, _pay(target), reason, 404, staff=client, db=db)
        assert list((await client.call("ListPayments", P.ListPaymentsRequest(target=target))).payments) == []
