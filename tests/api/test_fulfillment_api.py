"""Payments on orders, fulfilments, returns and edits through the public API, each test
on gRPC and on REST: capture → fulfil → ship → deliver → return → refund, the R19 cap,
edits and their typed errors."""

from __future__ import annotations

import uuid

import pytest

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import customers_pb2 as U
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer
from tests.backends._carts_store import Store, ensure_store, product

NY = Address(
    first_name="Ada", address1="1 Main St", city="New York", province="NY", postal_code="10001", country_code="US"
)
_GRPC = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ABORTED", 422: "FAILED_PRECONDITION"}


@pytest.fixture
async def store(db: Database) -> Store:
    return await ensure_store(db, SystemClock())


def _key() -> str:
    return uuid.uuid4().hex


async def _fails(call: object, reason: str, http: int) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call  # type: ignore[misc]
    error = caught.value
    assert error.reason == reason, error
    if error.http_status is not None:
        assert error.http_status == http, (reason, error.http_status)
    else:
        assert error.status == _GRPC[http], (reason, error.status)
    return error


async def _order(client: ApiClient, store: Store, *, customer: str = "") -> O.Order:
    """A draft-order order: 2 × 49.99 + 8.75 tax + 24.99 shipping + 2.19 = 135.91."""
    created = await client.call(
        "CreateProduct", C.CreateProductRequest(product=product(usd=4999, managed=True, stock=10))
    )
    draft = await client.call(
        "CreateDraftOrder",
        O.CreateDraftOrderRequest(
            draft_order=O.DraftOrder(
                region=f"regions/{store.us}", email="" if customer else "ada@example.com", customer=customer,
                shipping_address=NY, billing_address=NY,
                lines=[O.DraftOrderLine(variant=created.variants[0].name, quantity=2)], shipping_title="UPS 2-day",
                shipping_amount=2499,
            )
        ),
    )  # fmt: skip
    order: O.Order = await client.call("CompleteDraftOrder", O.CompleteDraftOrderRequest(name=draft.name))
    assert order.totals.total == 13591
    return order


async def _authorize(client: ApiClient, order: O.Order) -> None:
    await client.call(
        "CreatePayment",
        P.CreatePaymentRequest(
            target=order.name, gateway="test", method_type="card", amount=order.totals.total, currency_code="USD",
            capture_method="manual", method_data={"number": "4242424242424242"}, idempotency_key=_key(),
        ),
    )  # fmt: skip


async def test_capture_fulfil_ship_deliver_return_refund(client: ApiClient, store: Store) -> None:
    order = await _order(client, store)
    await _authorize(client, order)
    line = order.line_items[0].id
    paid = await client.call(
        "CaptureOrderPayment", F.CaptureOrderPaymentRequest(name=order.name, idempotency_key=_key())
    )
    assert (paid.captured, paid.payment_status, paid.order_status) == (13591, "paid", "confirmed")

    made = await client.call(
        "CreateFulfillment",
        F.CreateFulfillmentRequest(parent=order.name, fulfillment=F.Fulfillment(lines=[F.FulfillmentLine(line_id=line, quantity=2)])),
    )  # fmt: skip
    assert made.status == "pending" and made.name.startswith(f"{order.name}/fulfillments/ful_")
    shipped = await client.call(
        "ShipFulfillment",
        F.ShipFulfillmentRequest(name=made.name, tracking_number="1Z999", carrier="UPS", tracking_url="https://ups.example/1Z999"),
    )  # fmt: skip
    assert (shipped.status, shipped.tracking_url) == ("shipped", "https://ups.example/1Z999")
    assert (await client.call("GetOrder", O.GetOrderRequest(name=order.name))).status == O.ORDER_STATUS_SHIPPED
    delivered = await client.call("DeliverFulfillment", F.DeliverFulfillmentRequest(name=made.name))
    assert delivered.order_fulfillment_status == "delivered"
    assert (await client.call("GetOrder", O.GetOrderRequest(name=order.name))).status == O.ORDER_STATUS_COMPLETED
    listed = await client.call("ListFulfillments", F.ListFulfillmentsRequest(parent=order.name))
    assert [f.name for f in listed.fulfillments] == [made.name]

    # A return of one unit: (99.98 + 8.75 tax) / 2 = 54.365 → 54.37 (R20, half up).
    ret = await client.call(
        "CreateOrderChange",
        F.CreateOrderChangeRequest(parent=order.name, change=F.OrderChange(kind="return", lines=[F.OrderChangeLine(line_id=line, quantity=1)])),
    )  # fmt: skip
    assert (ret.status, ret.refund_amount) == ("requested", 5437)
    await _fails(
        client.call(
            "CreateOrderChange",
            F.CreateOrderChangeRequest(parent=order.name, change=F.OrderChange(lines=[F.OrderChangeLine(line_id=line, quantity=2)])),
        ),
        "INVALID_RETURN_QUANTITY", 422,
    )  # fmt: skip
    received = await client.call("ReceiveOrderChange", F.ReceiveOrderChangeRequest(name=ret.name, restock=True))
    assert received.status == "received" and received.restocked
    processed = await client.call(
        "ProcessOrderChange", F.ProcessOrderChangeRequest(name=ret.name, idempotency_key=_key())
    )
    assert (processed.status, processed.refunded_amount) == ("processed", 5437)

    error = await _fails(
        client.call("RefundOrder", F.RefundOrderRequest(name=order.name, amount=99999, idempotency_key=_key())),
        "REFUND_EXCEEDS_PAYMENT", 422,
    )  # fmt: skip
    assert (error.metadata["requested"], error.metadata["remaining"]) == ("99999", "8154")
    rest = await client.call("RefundOrder", F.RefundOrderRequest(name=order.name, amount=8154, idempotency_key=_key()))
    assert rest.summary.payment_status == "refunded" and rest.summary.order_status == "refunded"
    refunds = await client.call("ListOrderRefunds", F.ListOrderRefundsRequest(parent=order.name))
    assert sorted(r.amount for r in refunds.refunds) == [5437, 8154]
    summary = await client.call("GetOrderPaymentSummary", F.GetOrderPaymentSummaryRequest(name=order.name))
    assert (summary.captured, summary.refunded, summary.refundable) == (13591, 13591, 0)


async def test_typed_errors_and_edits(client: ApiClient, store: Store) -> None:
    order = await _order(client, store)
    line = order.line_items[0].id
    await _fails(
        client.call(
            "CreateFulfillment",
            F.CreateFulfillmentRequest(parent=order.name, fulfillment=F.Fulfillment(lines=[F.FulfillmentLine(line_id=line, quantity=1)])),
        ),
        "ORDER_NOT_FULFILLABLE", 422,
    )  # fmt: skip
    await _fails(
        client.call("VoidOrderPayment", F.VoidOrderPaymentRequest(name=order.name, idempotency_key=_key())),
        "NOTHING_TO_VOID", 422,
    )  # fmt: skip
    await _fails(
        client.call("GetFulfillment", F.GetFulfillmentRequest(name=f"{order.name}/fulfillments/ful_00000000000000000000000000")),
        "FULFILLMENT_NOT_FOUND", 404,
    )  # fmt: skip
    await _fails(
        client.call("GetOrderPaymentSummary", F.GetOrderPaymentSummaryRequest(name="orders/x")),
        "INVALID_RESOURCE_NAME",
        400,
    )

    preview = await client.call(
        "EditOrder",
        F.EditOrderRequest(name=order.name, update_lines=[F.OrderLineQuantity(line_id=line, quantity=1)], validate_only=True),
    )  # fmt: skip
    # 1 × 49.99 + 4.37 tax (49.99 × 0.0875 = 4.374) + 24.99 + 2.19 = 81.54.
    assert (preview.validate_only, preview.new_total, preview.previous_total) == (True, 8154, 13591)
    edited = await client.call(
        "EditOrder", F.EditOrderRequest(name=order.name, update_lines=[F.OrderLineQuantity(line_id=line, quantity=1)])
    )
    assert edited.order.totals.total == 8154 and edited.balance == 8154  # nothing paid yet
    await _authorize(client, edited.order)
    await client.call("CaptureOrderPayment", F.CaptureOrderPaymentRequest(name=order.name, idempotency_key=_key()))
    made = await client.call(
        "CreateFulfillment",
        F.CreateFulfillmentRequest(parent=order.name, fulfillment=F.Fulfillment(lines=[F.FulfillmentLine(line_id=line, quantity=1)])),
    )  # fmt: skip
    await client.call("ShipFulfillment", F.ShipFulfillmentRequest(name=made.name))
    error = await _fails(
        client.call("EditOrder", F.EditOrderRequest(name=order.name, remove_coupon_codes=["X"])),
        "ORDER_NOT_EDITABLE",
        422,
    )
    assert error.metadata["currentStatus"] == "shipped"
    await _fails(
        client.call(
            "CreateFulfillment",
            F.CreateFulfillmentRequest(parent=order.name, fulfillment=F.Fulfillment(lines=[F.FulfillmentLine(line_id=line, quantity=1)])),
        ),
        "ORDER_FULFILLED", 422,
    )  # fmt: skip


async def test_customers_read_the_fulfilments_of_their_own_orders(
    client: ApiClient, server: LiveServer, store: Store
) -> None:
    shop = client.with_token(await server.create_key(["customers:write"], kind="publishable"))
    sessions = [
        await shop.call("Register", U.RegisterRequest(email=f"ful-{uuid.uuid4().hex[:8]}@example.com", password="correct horse battery"))
        for _ in range(2)
    ]  # fmt: skip
    ann, bob = (shop.with_token(x.access_token) for x in sessions)
    order = await _order(client, store, customer=sessions[0].customer.name)
    await _authorize(client, order)
    await client.call("CaptureOrderPayment", F.CaptureOrderPaymentRequest(name=order.name, idempotency_key=_key()))
    line = order.line_items[0].id
    made = await client.call(
        "CreateFulfillment",
        F.CreateFulfillmentRequest(
            parent=order.name,
            fulfillment=F.Fulfillment(lines=[F.FulfillmentLine(line_id=line, quantity=2)], tracking_number="1Z1"),
        ),
    )
    mine = await ann.call("ListFulfillments", F.ListFulfillmentsRequest(parent=order.name))
    assert [(f.name, f.tracking_number) for f in mine.fulfillments] == [(made.name, "1Z1")]
    assert (await ann.call("GetFulfillment", F.GetFulfillmentRequest(name=made.name))).name == made.name
    assert len((await ann.call("ListOrderChanges", F.ListOrderChangesRequest(parent=order.name))).changes) == 0
    await _fails(bob.call("GetFulfillment", F.GetFulfillmentRequest(name=made.name)), "ORDER_NOT_FOUND", 404)
    await _fails(bob.call("ListOrderChanges", F.ListOrderChangesRequest(parent=order.name)), "ORDER_NOT_FOUND", 404)
    with pytest.raises(ApiError) as caught:  # customers never move stock or money
        await ann.call("ShipFulfillment", F.ShipFulfillmentRequest(name=made.name))
    assert caught.value.status == "PERMISSION_DENIED"
