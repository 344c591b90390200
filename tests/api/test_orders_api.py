"""Orders through the public API, each test on gRPC and on REST: draft order to order,
reads by id and number, customers scoped to their own orders and visible notes, the
status commands and their typed errors, cancellation, notes and risk."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.protobuf import field_mask_pb2

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import customers_pb2 as U
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer
from tests.backends._carts_store import Store, ensure_store, product, tag

NY = Address(
    first_name="Ada", address1="1 Main St", city="New York", province="NY", postal_code="10001", country_code="US"
)


@pytest.fixture
async def store(db: Database) -> Store:
    return await ensure_store(db, SystemClock())


@pytest.fixture
async def shop(client: ApiClient, server: LiveServer) -> AsyncIterator[ApiClient]:
    key = await server.create_key(["customers:write", "products:read"], kind="publishable")
    yield client.with_token(key)


async def _fails(call: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call  # type: ignore[misc]
    return caught.value


_GRPC = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ABORTED", 422: "FAILED_PRECONDITION"}


def _check(error: ApiError, reason: str, http: int) -> None:
    """The reason on both transports; the HTTP status on REST, the gRPC code on gRPC."""
    assert error.reason == reason, error
    if error.http_status is not None:
        assert error.http_status == http, (reason, error.http_status)
    else:
        assert error.status == _GRPC[http], (reason, error.status)


async def _customer(shop: ApiClient) -> tuple[str, ApiClient]:
    session = await shop.call(
        "Register", U.RegisterRequest(email=f"ord-{tag()}@example.com", password="correct horse battery")
    )
    return str(session.customer.name), shop.with_token(session.access_token)


async def _order(client: ApiClient, store: Store, customer: str, *, stock: int = 10) -> O.Order:
    created = await client.call(
        "CreateProduct", C.CreateProductRequest(product=product(usd=4999, managed=True, stock=stock))
    )
    draft = await client.call(
        "CreateDraftOrder",
        O.CreateDraftOrderRequest(
            draft_order=O.DraftOrder(
                region=f"regions/{store.us}", customer=customer, shipping_address=NY, billing_address=NY,
                lines=[O.DraftOrderLine(variant=created.variants[0].name, quantity=2)], shipping_title="UPS 2-day",
                shipping_amount=2499,
            )
        ),
    )  # fmt: skip
    assert draft.totals.total == 9998 + 875 + 2499 + 219 and draft.status == "open"
    return await client.call("CompleteDraftOrder", O.CompleteDraftOrderRequest(name=draft.name))  # type: ignore[no-any-return]


async def test_customers_read_only_their_own_orders(client: ApiClient, shop: ApiClient, store: Store) -> None:
    ann, as_ann = await _customer(shop)
    _, as_bob = await _customer(shop)
    order = await _order(client, store, ann)
    assert order.number.isdigit() and order.customer == ann and order.source == "draft"
    assert order.status == O.ORDER_STATUS_PENDING and order.totals.total == 13591
    mine = await as_ann.call("GetOrder", O.GetOrderRequest(name=order.name))
    assert mine.id == order.id and mine.risk_recommendation == "" and mine.cancelled_by == ""
    assert (await as_ann.call("GetOrder", O.GetOrderRequest(name=f"orders/{order.number}"))).id == order.id
    listed = await as_ann.call("ListOrders", O.ListOrdersRequest())
    assert [o.id for o in listed.orders] == [order.id] and listed.total_size == 1
    for name in (order.name, f"orders/{order.number}"):
        error = await _fails(as_bob.call("GetOrder", O.GetOrderRequest(name=name)))
        _check(error, "ORDER_NOT_FOUND", 404)
    assert (await as_bob.call("ListOrders", O.ListOrdersRequest(customer=ann))).total_size == 0
    error = await _fails(as_bob.call("ListOrderNotes", O.ListOrderNotesRequest(parent=order.name)))
    assert error.reason == "ORDER_NOT_FOUND"
    # Customers cannot change orders.
    error = await _fails(as_ann.call("CancelOrder", O.CancelOrderRequest(name=order.name)))
    assert error.status == "PERMISSION_DENIED"
    staff = await client.call("GetOrder", O.GetOrderRequest(name=order.name))
    assert staff.risk_recommendation == "approve" and staff.status == O.ORDER_STATUS_PENDING


async def test_status_commands_notes_risk_and_cancel(client: ApiClient, shop: ApiClient, store: Store) -> None:
    ann, as_ann = await _customer(shop)
    order = await _order(client, store, ann)
    error = await _fails(client.call("CompleteOrder", O.CompleteOrderRequest(name=order.name)))
    _check(error, "INVALID_STATUS_TRANSITION", 422)
    assert error.metadata["currentStatus"] == "pending"
    assert error.metadata["allowedStatuses"] == "cancelled,confirmed,on_hold"
    held = await client.call("HoldOrder", O.HoldOrderRequest(name=order.name, reason="check address"))
    assert held.status == O.ORDER_STATUS_ON_HOLD and held.hold_reason == "check address"
    listed = await client.call(
        "ListOrders",
        O.ListOrdersRequest(
            customer=ann, status=[O.ORDER_STATUS_ON_HOLD, O.ORDER_STATUS_CONFIRMED], min_total=13591, max_total=13591,
            order_by="total desc", create_time_after=held.create_time,
        ),
    )  # fmt: skip
    assert [o.id for o in listed.orders] == [order.id] and listed.total_size == 1
    none = await client.call("ListOrders", O.ListOrdersRequest(customer=ann, min_total=13592))
    assert none.total_size == 0 and not none.orders
    approved = await client.call("ApproveOrder", O.ApproveOrderRequest(name=order.name))
    assert approved.status == O.ORDER_STATUS_PENDING
    confirmed = await client.call("ConfirmOrder", O.ConfirmOrderRequest(name=order.name))
    assert confirmed.status == O.ORDER_STATUS_CONFIRMED and confirmed.HasField("confirm_time")
    updated = await client.call(
        "UpdateOrder",
        O.UpdateOrderRequest(
            order=O.Order(name=order.name, tags=["vip"], metadata={"channel": "phone"}),
            update_mask=field_mask_pb2.FieldMask(paths=["tags", "metadata"]),
        ),
    )
    assert list(updated.tags) == ["vip"] and dict(updated.metadata) == {"channel": "phone"}
    tagged = await client.call("ListOrders", O.ListOrdersRequest(tag="vip", customer=ann))
    assert [o.id for o in tagged.orders] == [order.id]
    internal = await client.call(
        "AddOrderNote", O.AddOrderNoteRequest(parent=order.name, note=O.OrderNote(body="Called the bank"))
    )
    visible = await client.call(
        "AddOrderNote",
        O.AddOrderNoteRequest(parent=order.name, note=O.OrderNote(body="Ships Monday", customer_visible=True)),
    )
    seen = await as_ann.call("ListOrderNotes", O.ListOrderNotesRequest(parent=order.name))
    assert [n.name for n in seen.notes] == [visible.name]
    await client.call("DeleteOrderNote", O.DeleteOrderNoteRequest(name=internal.name))
    error = await _fails(client.call("DeleteOrderNote", O.DeleteOrderNoteRequest(name=internal.name)))
    _check(error, "ORDER_NOTE_NOT_FOUND", 404)
    risk = await client.call("GetOrderRisk", O.GetOrderRiskRequest(name=f"{order.name}/risk"))
    assert (risk.score, risk.recommendation) == (0, "approve")
    error = await _fails(client.call("CancelOrder", O.CancelOrderRequest(name=order.name, reason="bored")))
    _check(error, "VALIDATION_FAILED", 400)
    assert (await client.call("GetOrder", O.GetOrderRequest(name=order.name))).status == O.ORDER_STATUS_CONFIRMED
    cancelled = await client.call(
        "CancelOrder", O.CancelOrderRequest(name=order.name, reason="customer_request", note="changed mind")
    )
    assert cancelled.status == O.ORDER_STATUS_CANCELLED and cancelled.cancel_reason == "customer_request"
    assert cancelled.cancelled_by.startswith("apiKeys/") and cancelled.HasField("cancel_time")
    error = await _fails(client.call("CancelOrder", O.CancelOrderRequest(name=order.name)))
    _check(error, "ORDER_ALREADY_CANCELLED", 409)
    error = await _fails(
        client.call(
            "UpdateOrder",
            O.UpdateOrderRequest(
                order=O.Order(name=order.name, email="late@example.com"),
                update_mask=field_mask_pb2.FieldMask(paths=["email"]),
            ),
        )
    )
    _check(error, "ORDER_NOT_EDITABLE", 422)
    assert error.metadata["currentStatus"] == "cancelled"


async def test_bad_input_changes_nothing(client: ApiClient, shop: ApiClient, store: Store) -> None:
    ann, _ = await _customer(shop)
    order = await _order(client, store, ann)
    before = await client.call("GetOrder", O.GetOrderRequest(name=order.name))
    for method, request, reason in (
        ("GetOrder", O.GetOrderRequest(name="orders/not-an-id"), "VALIDATION_FAILED"),
        ("GetOrder", O.GetOrderRequest(name="orders/ord_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"), "ORDER_NOT_FOUND"),
        ("ListOrders", O.ListOrdersRequest(order_by="colour"), "VALIDATION_FAILED"),
        ("HoldOrder", O.HoldOrderRequest(name=order.name, reason="x" * 51), "VALIDATION_FAILED"),
        ("AddOrderNote", O.AddOrderNoteRequest(parent=order.name, note=O.OrderNote(body="")), "VALIDATION_FAILED"),
        (
            "UpdateOrder",
            O.UpdateOrderRequest(
                order=O.Order(name=order.name, email="bad"), update_mask=field_mask_pb2.FieldMask(paths=["email"])
            ),
            "VALIDATION_FAILED",
        ),
        (
            "CreateDraftOrder",
            O.CreateDraftOrderRequest(draft_order=O.DraftOrder(region=f"regions/{store.us}", shipping_amount=-1)),
            "VALIDATION_FAILED",
        ),
    ):
        error = await _fails(client.call(method, request))
        assert error.reason == reason, (method, error)
    assert await client.call("GetOrder", O.GetOrderRequest(name=order.name)) == before
