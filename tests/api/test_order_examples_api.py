"""Worked examples of core-domain §4.2 through the public API (gRPC and REST): Ex5
(refunds and returns on an order of 125.91) and Ex6 (fraud rows, including a fraud
provider registered through the ``rcommerce_fraud_providers`` plugin hook).

Orders are placed as draft orders, whose unit price and custom shipping line reach the
example figures exactly. Oregon (no tax zone in the test store) and Canada (no tax
zone either) carry no tax; New York carries 8.75 %.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

import rcommerce
from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.plugins import manager
from rcommerce.plugins.providers import FraudAssessment, FraudCheckRequest, FraudDecision, FraudProvider
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer, live_server
from tests.backends._carts_store import Store, ensure_store, product

OREGON = Address(
    first_name="Ada", address1="1 Main St", city="Portland", province="OR", postal_code="97201", country_code="US"
)
NYC_10001 = Address(
    first_name="Ada", address1="1 Main St", city="New York", province="NY", postal_code="10001", country_code="US"
)
NYC_10002 = Address(
    first_name="Ada", address1="9 Grand St", city="New York", province="NY", postal_code="10002", country_code="US"
)
TORONTO = Address(
    first_name="Ada", address1="1 King St W", city="Toronto", province="ON", postal_code="M5V 2T6", country_code="CA"
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


async def _place(
    client: ApiClient,
    store: Store,
    *,
    unit_price: int,
    quantity: int = 1,
    shipping: int = 0,
    billing: Address = OREGON,
    ship_to: Address = OREGON,
) -> O.Order:
    created = await client.call(
        "CreateProduct", C.CreateProductRequest(product=product(usd=unit_price, managed=True, stock=10))
    )
    draft = await client.call(
        "CreateDraftOrder",
        O.CreateDraftOrderRequest(
            draft_order=O.DraftOrder(
                region=f"regions/{store.us}", email=f"ex-{uuid.uuid4().hex[:8]}@example.com",
                shipping_address=ship_to, billing_address=billing,
                lines=[O.DraftOrderLine(variant=created.variants[0].name, quantity=quantity, unit_price=unit_price)],
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
    paid = await client.call(
        "CaptureOrderPayment", F.CaptureOrderPaymentRequest(name=order.name, idempotency_key=_key())
    )
    assert (paid.captured, paid.payment_status) == (order.totals.total, "paid")


async def _refund(client: ApiClient, order: O.Order, amount: int) -> F.OrderRefund:
    refund: F.OrderRefund = await client.call(
        "RefundOrder", F.RefundOrderRequest(name=order.name, amount=amount, idempotency_key=_key())
    )
    return refund


# -- Ex5 -------------------------------------------------------------------------------------


async def test_ex5_refunds_against_an_order_of_125_91(client: ApiClient, store: Store) -> None:
    # 2 × 49.99 = 99.98, shipping 25.93, no tax in Oregon: 125.91.
    order = await _place(client, store, unit_price=4999, quantity=2, shipping=2593)
    assert order.totals.total == 12591 and order.totals.tax_total == 0
    await _pay(client, order)

    # 1. Refund 50.00 → partially_refunded, 75.91 remaining.
    first = await _refund(client, order, 5000)
    assert (first.summary.payment_status, first.summary.refundable) == ("partially_refunded", 7591)

    # 2. Refund 80.00 → REFUND_EXCEEDS_PAYMENT {requested 80.00, remaining 75.91}; nothing changes.
    error = await _fails(_refund(client, order, 8000), "REFUND_EXCEEDS_PAYMENT", 422)
    assert (error.metadata["requested"], error.metadata["remaining"]) == ("8000", "7591")
    summary = await client.call("GetOrderPaymentSummary", F.GetOrderPaymentSummaryRequest(name=order.name))
    assert (summary.refunded, summary.refundable, summary.payment_status) == (5000, 7591, "partially_refunded")
    assert len((await client.call("ListOrderRefunds", F.ListOrderRefundsRequest(parent=order.name))).refunds) == 1

    # 3. Refund 75.91 → refunded; the order status becomes refunded.
    last = await _refund(client, order, 7591)
    assert (last.summary.payment_status, last.summary.order_status, last.summary.refundable) == (
        "refunded", "refunded", 0,
    )  # fmt: skip
    fetched = await client.call("GetOrder", O.GetOrderRequest(name=order.name))
    assert (fetched.status, fetched.payment_status) == (O.ORDER_STATUS_REFUNDED, O.ORDER_PAYMENT_STATUS_REFUNDED)

    # 4. Refund 0.01 → error, remaining 0.00.
    error = await _fails(_refund(client, order, 1), "REFUND_EXCEEDS_PAYMENT", 422)
    assert (error.metadata["requested"], error.metadata["remaining"]) == ("1", "0")


async def test_ex5_returns_on_a_line_of_2_x_49_99(client: ApiClient, store: Store) -> None:
    order = await _place(client, store, unit_price=4999, quantity=2, shipping=2593)
    await _pay(client, order)
    line = order.line_items[0].id
    await client.call(
        "CreateFulfillment",
        F.CreateFulfillmentRequest(parent=order.name, fulfillment=F.Fulfillment(lines=[F.FulfillmentLine(line_id=line, quantity=2)])),
    )  # fmt: skip

    # Returning 3 of 2 → INVALID_RETURN_QUANTITY {requested 3, available 2}; nothing is created.
    error = await _fails(
        client.call(
            "CreateOrderChange",
            F.CreateOrderChangeRequest(parent=order.name, change=F.OrderChange(kind="return", lines=[F.OrderChangeLine(line_id=line, quantity=3)])),
        ),
        "INVALID_RETURN_QUANTITY", 422,
    )  # fmt: skip
    assert (error.metadata["requested"], error.metadata["available"]) == ("3", "2")
    assert len((await client.call("ListOrderChanges", F.ListOrderChangesRequest(parent=order.name))).changes) == 0

    # Returning 1 → refund 49.99 (R20: no tax, no discount on this line).
    ret = await client.call(
        "CreateOrderChange",
        F.CreateOrderChangeRequest(parent=order.name, change=F.OrderChange(kind="return", lines=[F.OrderChangeLine(line_id=line, quantity=1)])),
    )  # fmt: skip
    assert (ret.status, ret.refund_amount) == ("requested", 4999)
    await client.call("ReceiveOrderChange", F.ReceiveOrderChangeRequest(name=ret.name))
    processed = await client.call(
        "ProcessOrderChange", F.ProcessOrderChangeRequest(name=ret.name, idempotency_key=_key())
    )
    assert (processed.status, processed.refunded_amount) == ("processed", 4999)
    summary = await client.call("GetOrderPaymentSummary", F.GetOrderPaymentSummaryRequest(name=order.name))
    assert (summary.refunded, summary.refundable, summary.payment_status) == (4999, 7592, "partially_refunded")


# -- Ex6 -------------------------------------------------------------------------------------


async def _risk(client: ApiClient, order: O.Order) -> tuple[int, str]:
    risk = await client.call("GetOrderRisk", O.GetOrderRiskRequest(name=f"{order.name}/risk"))
    return risk.score, risk.recommendation


async def test_ex6_999_99_is_approved_and_stays_pending(client: ApiClient, store: Store) -> None:
    order = await _place(client, store, unit_price=99999)
    assert order.totals.total == 99999
    assert order.status == O.ORDER_STATUS_PENDING and order.hold_reason == ""
    assert await _risk(client, order) == (0, "approve")


async def test_ex6_1000_00_is_monitored_and_stays_pending(client: ApiClient, store: Store) -> None:
    order = await _place(client, store, unit_price=100000)
    assert order.totals.total == 100000
    assert order.status == O.ORDER_STATUS_PENDING
    assert await _risk(client, order) == (30, "monitor")


async def test_ex6_postal_mismatch_goes_to_review_on_hold(client: ApiClient, store: Store) -> None:
    # 919.54 + 8.75 % NY tax (80.45975 → 80.46) = 1,000.00; billing 10001, shipping 10002.
    order = await _place(client, store, unit_price=91954, billing=NYC_10001, ship_to=NYC_10002)
    assert (order.totals.tax_total, order.totals.total) == (8046, 100000)
    assert (order.status, order.hold_reason) == (O.ORDER_STATUS_ON_HOLD, "fraud_review")
    assert await _risk(client, order) == (50, "review")
    risk = await client.call("GetOrderRisk", O.GetOrderRiskRequest(name=f"{order.name}/risk"))
    assert sorted(risk.reasons) == ["address_mismatch:postal_code", "high_value_order"]


async def test_ex6_foreign_shipping_is_blocked_on_hold(client: ApiClient, store: Store) -> None:
    # 1,200.00, billing US/New York/10001, shipping CA/Toronto/M5V 2T6: 30 + 3 × 20 = 90 → block.
    # Documented handling: the order is held (hold_reason payment_blocked_by_fraud) for a
    # person to cancel or approve; it is never silently cancelled.
    order = await _place(client, store, unit_price=120000, billing=NYC_10001, ship_to=TORONTO)
    assert order.totals.total == 120000
    assert (order.status, order.hold_reason) == (O.ORDER_STATUS_ON_HOLD, "payment_blocked_by_fraud")
    assert await _risk(client, order) == (90, "block")
    cancelled = await client.call("CancelOrder", O.CancelOrderRequest(name=order.name, reason="fraudulent"))
    assert cancelled.status == O.ORDER_STATUS_CANCELLED


class _Eighty:
    """A fraud provider that always answers 80 (and leaves the decision to the score)."""

    code = "ex6"
    display_name = "Ex6 fixed score"

    async def assess(self, order: FraudCheckRequest) -> FraudAssessment:
        return FraudAssessment(FraudDecision.ALLOW, score=80, reasons=("fixed",))


class _Ex6Plugin:
    """Registered like an installed distribution: through an entry point."""

    rcommerce_requires = f">={rcommerce.__version__}"

    @rcommerce.hookimpl
    def rcommerce_fraud_providers(self, config: object) -> list[FraudProvider]:
        return [_Eighty()]


@pytest.fixture
async def fraud_server(db: Database, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[LiveServer]:
    plugin = _Ex6Plugin()
    source = manager.PluginSource("ex6fraud", lambda: plugin, "ex6-fraud", "1.0", __name__)
    monkeypatch.setattr(manager, "discover_entry_points", lambda *a, **k: [source])
    monkeypatch.delenv(manager.DISABLE_AUTOLOAD_ENV, raising=False)
    async with live_server(db.settings.url, plugins={"autoload": True}) as live:
        yield live


@pytest.mark.parametrize("transport", ["grpc", "rest"])
async def test_ex6_rules_30_and_provider_80_give_55_review(
    fraud_server: LiveServer, store: Store, transport: str
) -> None:
    client = (fraud_server.grpc_client if transport == "grpc" else fraud_server.rest_client)(fraud_server.admin_key)
    try:
        order = await _place(client, store, unit_price=100000)
        assert (order.status, order.hold_reason) == (O.ORDER_STATUS_ON_HOLD, "fraud_review")
        risk = await client.call("GetOrderRisk", O.GetOrderRiskRequest(name=f"{order.name}/risk"))
        assert (risk.score, risk.recommendation, risk.provider_score) == (55, "review", 80)
        assert "ex6:fixed" in risk.reasons
    finally:
        await client.close()
