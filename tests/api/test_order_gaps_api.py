"""Order lifecycle rules through the API (gRPC and REST): cancelling an order with open
fulfilments restocks (or not) what they took, an edit keeps tax transactions and
promotion usage in step, a paid order whose total an edit raised shows its balance due,
and customers request returns of their own orders within the return window."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import customers_pb2 as U
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.gen.v1 import inventory_pb2 as I
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.gen.v1 import promotions_pb2 as PR
from rcommerce.gen.v1 import tax_pb2 as T
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer, live_server
from tests.backends._carts_store import Store, ensure_store, product

NY = Address(
    first_name="Ada", address1="1 Main St", city="New York", province="NY", postal_code="10001", country_code="US"
)
OREGON = Address(
    first_name="Ada", address1="1 Main St", city="Portland", province="OR", postal_code="97201", country_code="US"
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


async def _variant(client: ApiClient, stock: int = 10) -> str:
    created = await client.call(
        "CreateProduct", C.CreateProductRequest(product=product(usd=4999, managed=True, stock=stock))
    )
    return str(created.variants[0].name)


async def _order(
    client: ApiClient, store: Store, variant: str, *, quantity: int = 2, address: Address = OREGON,
    customer: str = "", codes: tuple[str, ...] = (), shipping: int = 2499,
) -> O.Order:  # fmt: skip
    draft = await client.call(
        "CreateDraftOrder",
        O.CreateDraftOrderRequest(
            draft_order=O.DraftOrder(
                region=f"regions/{store.us}", email="" if customer else f"gap-{uuid.uuid4().hex[:8]}@example.com",
                customer=customer, shipping_address=address, billing_address=address,
                lines=[O.DraftOrderLine(variant=variant, quantity=quantity)], coupon_codes=list(codes),
                shipping_title="Courier", shipping_amount=shipping,
            )
        ),
    )  # fmt: skip
    order: O.Order = await client.call("CompleteDraftOrder", O.CompleteDraftOrderRequest(name=draft.name))
    return order


async def _pay(client: ApiClient, order: O.Order) -> None:
    await client.call(
        "CreatePayment",
        P.CreatePaymentRequest(
            target=order.name, gateway="test", method_type="card", amount=order.totals.total, currency_code="USD",
            capture_method="manual", method_data={"number": "4242424242424242"}, idempotency_key=_key(),
        ),
    )  # fmt: skip
    await client.call("CaptureOrderPayment", F.CaptureOrderPaymentRequest(name=order.name, idempotency_key=_key()))


async def _fulfil(client: ApiClient, order: O.Order, quantity: int) -> F.Fulfillment:
    made: F.Fulfillment = await client.call(
        "CreateFulfillment",
        F.CreateFulfillmentRequest(
            parent=order.name,
            fulfillment=F.Fulfillment(lines=[F.FulfillmentLine(line_id=order.line_items[0].id, quantity=quantity)]),
        ),
    )
    return made


async def _level(client: ApiClient, variant: str) -> tuple[int, int]:
    level = await client.call("GetInventoryLevel", I.GetInventoryLevelRequest(name=f"{variant}/inventory"))
    return int(level.on_hand), int(level.reserved)


# -- cancellation with open fulfilments -------------------------------------------------------


@pytest.mark.parametrize(("restock", "on_hand"), [(True, 10), (False, 8)])
async def test_cancel_with_an_open_fulfilment_restocks_only_when_asked(
    client: ApiClient, store: Store, restock: bool, on_hand: int
) -> None:
    variant = await _variant(client)
    order = await _order(client, store, variant, quantity=3)
    await _pay(client, order)
    made = await _fulfil(client, order, 2)  # 2 units converted (picked), 1 still reserved
    assert await _level(client, variant) == (8, 1)

    cancelled = await client.call("CancelOrder", O.CancelOrderRequest(name=order.name, restock=restock))
    assert cancelled.status == O.ORDER_STATUS_CANCELLED
    assert cancelled.line_items[0].quantity_fulfilled == 0
    assert cancelled.fulfillment_status == O.ORDER_FULFILLMENT_STATUS_UNFULFILLED
    assert await _level(client, variant) == (on_hand, 0)
    fulfilment = await client.call("GetFulfillment", F.GetFulfillmentRequest(name=made.name))
    assert fulfilment.status == "cancelled"
    moves = await client.call("ListStockMovements", I.ListStockMovementsRequest(variant=variant, reference=order.name))
    returned = [(m.reason, m.quantity) for m in moves.stock_movements if m.reason == "return"]
    assert returned == ([("return", 2)] if restock else [])
    notes = await client.call("ListOrderNotes", O.ListOrderNotesRequest(parent=order.name))
    expected = "2 unit(s) restocked." if restock else "2 unit(s) left off stock (restock not requested)."
    assert any(expected in n.body for n in notes.notes), [n.body for n in notes.notes]


# -- edits keep tax transactions and promotion usage in step -----------------------------------


async def _usage(client: ApiClient, promotion: str) -> int:
    return int((await client.call("GetPromotion", PR.GetPromotionRequest(name=promotion))).usage_count)


async def _taxes(client: ApiClient, order: O.Order) -> list[tuple[str, int, int]]:
    listed = await client.call("ListTaxTransactions", T.ListTaxTransactionsRequest(order=order.name))
    return sorted((t.kind, t.taxable_amount, t.tax_amount) for t in listed.tax_transactions)


async def test_an_edit_replaces_tax_transactions_and_moves_promotion_usage(client: ApiClient, store: Store) -> None:
    code = f"GAP{uuid.uuid4().hex[:8].upper()}"
    promo = await client.call(
        "CreatePromotion",
        PR.CreatePromotionRequest(
            promotion=PR.Promotion(
                code=code, title="Ten", type=PR.PROMOTION_TYPE_PERCENTAGE, percent="10",
                currencies=[PR.PromotionCurrency(currency_code="USD", max_discount=5000)],
            )
        ),
    )  # fmt: skip
    variant = await _variant(client)
    # 99.98 − 10.00 (10 %, 9.998 → 10.00) = 89.98 × 0.0875 = 7.87; shipping 24.99 × 0.0875 = 2.19.
    order = await _order(client, store, variant, address=NY, codes=(code,))
    assert (order.totals.discount_total, order.totals.item_tax, order.totals.shipping_tax) == (1000, 787, 219)
    assert await _usage(client, promo.name) == 1
    assert await _taxes(client, order) == [("line", 8998, 787), ("shipping", 2499, 219)]

    # Dropping the code gives its use back and taxes the full 99.98: 8.75.
    edited = await client.call("EditOrder", F.EditOrderRequest(name=order.name, remove_coupon_codes=[code]))
    assert (edited.order.totals.discount_total, edited.order.totals.item_tax) == (0, 875)
    assert await _usage(client, promo.name) == 0
    assert await _taxes(client, order) == [("line", 9998, 875), ("shipping", 2499, 219)]

    # A preview changes nothing.
    await client.call("EditOrder", F.EditOrderRequest(name=order.name, add_coupon_codes=[code], validate_only=True))
    assert await _usage(client, promo.name) == 0
    assert await _taxes(client, order) == [("line", 9998, 875), ("shipping", 2499, 219)]

    # Adding it back counts it again; one unit more: 149.97 − 15.00 = 134.97 × 0.0875 = 11.81.
    again = await client.call(
        "EditOrder",
        F.EditOrderRequest(
            name=order.name, add_coupon_codes=[code],
            update_lines=[F.OrderLineQuantity(line_id=order.line_items[0].id, quantity=3)],
        ),
    )  # fmt: skip
    assert (again.order.totals.discount_total, again.order.totals.item_tax) == (1500, 1181)
    assert await _usage(client, promo.name) == 1
    assert await _taxes(client, order) == [("line", 13497, 1181), ("shipping", 2499, 219)]


# -- balance due ------------------------------------------------------------------------------


async def test_a_paid_order_an_edit_raised_shows_its_balance_due(client: ApiClient, store: Store) -> None:
    variant = await _variant(client)
    order = await _order(client, store, variant, quantity=1, shipping=0)  # 49.99, no tax in Oregon
    await _pay(client, order)
    paid = await client.call("GetOrder", O.GetOrderRequest(name=order.name))
    assert (paid.payment_status, paid.totals.balance_due) == (O.ORDER_PAYMENT_STATUS_PAID, 0)

    edited = await client.call(
        "EditOrder",
        F.EditOrderRequest(name=order.name, update_lines=[F.OrderLineQuantity(line_id=order.line_items[0].id, quantity=2)]),
    )  # fmt: skip
    assert (edited.order.totals.total, edited.balance) == (9998, 4999)
    # Nothing is left to capture: still paid, with 49.99 due on the order.
    assert (edited.order.payment_status, edited.order.totals.balance_due) == (O.ORDER_PAYMENT_STATUS_PAID, 4999)
    summary = await client.call("GetOrderPaymentSummary", F.GetOrderPaymentSummaryRequest(name=order.name))
    assert (summary.payment_status, summary.captured, summary.balance_due) == ("paid", 4999, 4999)

    # Collecting the balance with a second payment clears it.
    await client.call(
        "CreatePayment",
        P.CreatePaymentRequest(
            target=order.name, gateway="test", method_type="card", amount=4999, currency_code="USD",
            capture_method="automatic", method_data={"number": "4242424242424242"}, idempotency_key=_key(),
        ),
    )  # fmt: skip
    settled = await client.call("GetOrderPaymentSummary", F.GetOrderPaymentSummaryRequest(name=order.name))
    assert (settled.payment_status, settled.captured, settled.balance_due) == ("paid", 9998, 0)


async def test_a_payment_on_an_order_takes_the_balance_an_edit_reports_and_no_more(
    client: ApiClient, store: Store
) -> None:
    """The edit's balance counts refunds as given back; CreatePayment's cap agrees with it."""
    variant = await _variant(client)
    order = await _order(client, store, variant, quantity=1, shipping=0)  # 49.99
    await _pay(client, order)
    await client.call("RefundOrder", F.RefundOrderRequest(name=order.name, amount=1000, idempotency_key=_key()))
    edited = await client.call(
        "EditOrder",
        F.EditOrderRequest(name=order.name, update_lines=[F.OrderLineQuantity(line_id=order.line_items[0].id, quantity=2)]),
    )  # fmt: skip
    assert (edited.order.totals.total, edited.balance) == (9998, 5999)  # 99.98 - (49.99 - 10.00)

    def payment(amount: int) -> P.CreatePaymentRequest:
        return P.CreatePaymentRequest(
            target=order.name, gateway="test", method_type="card", amount=amount, currency_code="USD",
            capture_method="automatic", method_data={"number": "4242424242424242"}, idempotency_key=_key(),
        )  # fmt: skip

    with pytest.raises(ApiError) as caught:
        await client.call("CreatePayment", payment(6000))
    assert caught.value.reason == "PAYMENT_EXCEEDS_BALANCE" and caught.value.metadata == {
        "order": order.name, "amount": "6000", "total": "9998", "unpaid": "5999",
    }  # fmt: skip
    assert (await client.call("CreatePayment", payment(5999))).status == P.PAYMENT_STATUS_SUCCEEDED


# -- customer returns -------------------------------------------------------------------------


async def _register(server: LiveServer) -> tuple[str, ApiClient]:
    shop = server.rest_client(await server.create_key(["customers:write"], kind="publishable"))
    session = await shop.call(
        "Register", U.RegisterRequest(email=f"ret-{uuid.uuid4().hex[:8]}@example.com", password="correct horse battery")
    )
    return str(session.customer.name), shop.with_token(session.access_token)


async def _delivered_order(client: ApiClient, store: Store, customer: str) -> O.Order:
    order = await _order(client, store, await _variant(client), customer=customer)
    await _pay(client, order)
    made = await _fulfil(client, order, 2)
    await client.call("ShipFulfillment", F.ShipFulfillmentRequest(name=made.name))
    await client.call("DeliverFulfillment", F.DeliverFulfillmentRequest(name=made.name))
    return order


def _as(transport: str, server: LiveServer, token: str) -> ApiClient:
    return server.grpc_client(token) if transport == "grpc" else server.rest_client(token)


@pytest.fixture
async def returns_server(db: Database) -> AsyncIterator[LiveServer]:
    """A server of the tests' own: customer registrations here do not spend the shared
    server's sign-in budget (per client address)."""
    async with live_server(db.settings.url) as live:
        yield live


@pytest.mark.parametrize("transport", ["grpc", "rest"])
async def test_customers_request_returns_of_their_own_orders(
    returns_server: LiveServer, store: Store, transport: str
) -> None:
    server = returns_server
    admin = _as(transport, server, server.admin_key)
    customer, shop = await _register(server)
    mine = _as(transport, server, shop.token or "")
    try:
        order = await _delivered_order(admin, store, customer)
        line = order.line_items[0].id
        asked = await mine.call(
            "RequestReturn",
            F.RequestReturnRequest(parent=order.name, lines=[F.OrderChangeLine(line_id=line, quantity=1)], reason="wrong_size"),
        )  # fmt: skip
        assert (asked.kind, asked.status, asked.refund_amount) == ("return", "requested", 4999)
        error = await _fails(
            mine.call(
                "RequestReturn",
                F.RequestReturnRequest(parent=order.name, lines=[F.OrderChangeLine(line_id=line, quantity=2)]),
            ),
            "INVALID_RETURN_QUANTITY", 422,
        )  # fmt: skip
        assert (error.metadata["requested"], error.metadata["available"]) == ("2", "1")
        # Staff move it on as any return.
        received = await admin.call("ReceiveOrderChange", F.ReceiveOrderChangeRequest(name=asked.name, restock=True))
        assert received.status == "received"
        # Another customer's order is not found; customers still cannot create changes directly.
        other = await _order(admin, store, await _variant(admin))
        await _fails(
            mine.call(
                "RequestReturn",
                F.RequestReturnRequest(parent=other.name, lines=[F.OrderChangeLine(line_id=other.line_items[0].id, quantity=1)]),
            ),
            "ORDER_NOT_FOUND", 404,
        )  # fmt: skip
        with pytest.raises(ApiError) as caught:
            await mine.call(
                "CreateOrderChange",
                F.CreateOrderChangeRequest(parent=order.name, change=F.OrderChange(lines=[F.OrderChangeLine(line_id=line, quantity=1)])),
            )  # fmt: skip
        assert caught.value.status == "PERMISSION_DENIED"
    finally:
        await admin.close()
        await mine.close()
        await shop.close()


@pytest.fixture
async def closed_returns(db: Database) -> AsyncIterator[LiveServer]:
    async with live_server(db.settings.url, orders={"return_window_days": 0}) as live:
        yield live


async def test_a_closed_return_window_refuses_and_changes_nothing(closed_returns: LiveServer, store: Store) -> None:
    admin = closed_returns.rest_client(closed_returns.admin_key)
    customer, mine = await _register(closed_returns)
    try:
        order = await _delivered_order(admin, store, customer)
        error = await _fails(
            mine.call(
                "RequestReturn",
                F.RequestReturnRequest(parent=order.name, lines=[F.OrderChangeLine(line_id=order.line_items[0].id, quantity=1)]),
            ),
            "RETURN_WINDOW_CLOSED", 422,
        )  # fmt: skip
        assert error.metadata["windowDays"] == "0"
        assert len((await admin.call("ListOrderChanges", F.ListOrderChangesRequest(parent=order.name))).changes) == 0
        # Staff can still create the return.
        staff = await admin.call(
            "CreateOrderChange",
            F.CreateOrderChangeRequest(parent=order.name, change=F.OrderChange(kind="return", lines=[F.OrderChangeLine(line_id=order.line_items[0].id, quantity=1)])),
        )  # fmt: skip
        assert staff.status == "requested"
    finally:
        await admin.close()
        await mine.close()
