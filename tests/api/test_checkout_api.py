"""Checkout through the public API, each test on gRPC and on REST: core-domain §4.2 Ex1
completed into an order (DECISIONS 12: total 125.03) and Ex2 (EU VAT, 83.28), 3-D Secure completed through the
same call, a missing idempotency key, replays, and bad input with its reasons."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf import field_mask_pb2

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.domain.orders.models import OrderRow
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import checkout_pb2 as X
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.gen.v1 import promotions_pb2 as R
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer
from tests.api._checkout_flow import ready_cart
from tests.backends._carts_store import Store, ensure_store, tag
from tests.backends._carts_store import product as usd_product
from tests.backends._checkout_world import SHIPPING, SYDNEY, ensure_region, product

NY = Address(
    first_name="Ada", address1="1 Main St", city="New York", province="NY", postal_code="10001", country_code="US"
)
VISA = {"number": "4242424242424242"}


@pytest.fixture
async def store(db: Database) -> Store:
    return await ensure_store(db, SystemClock())


@pytest.fixture
async def region(db: Database) -> str:
    return await ensure_region(db, SystemClock())


@pytest.fixture
async def shop(client: ApiClient, server: LiveServer) -> AsyncIterator[ApiClient]:
    """The storefront: a publishable key on the same transport as ``client``."""
    key = await server.create_key(["carts:write", "carts:read", "checkout:write"], kind="publishable")
    yield client.with_token(key)


async def _fails(call: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call  # type: ignore[misc]
    return caught.value


def _is(error: ApiError, reason: str, http_status: int) -> bool:
    """The reason, and on REST the HTTP status (gRPC clients see the status code)."""
    return error.reason == reason and error.http_status in (None, http_status)


async def _order(server: LiveServer, checkout: X.Checkout) -> OrderRow:
    async with server.app.db.read() as s:
        row = await s.get(OrderRow, checkout.order.removeprefix("orders/"))
    assert row is not None
    return row


async def test_ex1_checkout_totals_125_03(client: ApiClient, shop: ApiClient, store: Store, server: LiveServer) -> None:
    code = f"EX1{tag().upper()}"
    await client.call(
        "CreatePromotion",
        R.CreatePromotionRequest(
            promotion=R.Promotion(
                code=code, title=code, type=R.PROMOTION_TYPE_FIXED_AMOUNT,
                currencies=[R.PromotionCurrency(currency_code="USD", amount=1000)],
            )
        ),
    )  # fmt: skip
    cart, token = await ready_cart(client, shop, store.us, usd_product(usd=4999), NY, "ups_2day", quantity=2)
    await shop.call("ApplyCoupon", K.ApplyCouponRequest(cart=cart, code=code, cart_token=token))
    done = await shop.call(
        "CompleteCheckout",
        X.CompleteCheckoutRequest(
            cart=cart, cart_token=token, gateway="test", method_data=VISA, idempotency_key=f"ex1-{tag()}"
        ),
    )
    assert done.status == X.CHECKOUT_STATUS_COMPLETED and done.order.startswith("orders/")
    assert (done.total, done.currency_code) == (12503, "USD")
    order = await _order(server, done)
    assert (order.subtotal, order.discount_total, order.item_tax, order.shipping_total, order.shipping_tax) == (
        9998, 1000, 787, 2499, 219,
    )  # fmt: skip
    assert (order.tax_total, order.total, order.email, order.number) == (
        1006,
        12503,
        "ada@example.com",
        done.order_number,
    )
    assert order.payment_status == "authorized"  # this region captures manually
    payment = await client.call("GetPayment", P.GetPaymentRequest(name=done.payment))
    assert payment.amount_authorized == 12503 and payment.target == done.order
    # The cart is converted; completing it again answers the same order.
    fetched = await client.call("GetCart", K.GetCartRequest(name=cart))
    assert fetched.status == K.CART_STATUS_CONVERTED
    again = await shop.call(
        "CompleteCheckout",
        X.CompleteCheckoutRequest(
            cart=cart, cart_token=token, gateway="test", method_data=VISA, idempotency_key="other"
        ),
    )
    assert again.order == done.order
    got = await shop.call("GetCheckout", X.GetCheckoutRequest(name=f"{cart}/checkout", cart_token=token))
    assert got.status == X.CHECKOUT_STATUS_COMPLETED and got.order == done.order


async def test_ex2_eu_vat_checkout_totals_83_28(
    client: ApiClient, shop: ApiClient, store: Store, server: LiveServer
) -> None:
    munich = Address(first_name="Max", address1="Marienplatz 1", city="München", postal_code="80331", country_code="DE")
    cart, token = await ready_cart(client, shop, store.de, usd_product(usd=None, eur=2999), munich, "dhl", quantity=2)
    done = await shop.call(
        "CompleteCheckout",
        X.CompleteCheckoutRequest(
            cart=cart, cart_token=token, gateway="test", method_data=VISA, idempotency_key=f"ex2-{tag()}"
        ),
    )
    assert (done.status, done.total, done.currency_code) == (X.CHECKOUT_STATUS_COMPLETED, 8328, "EUR")
    order = await _order(server, done)
    assert (order.subtotal, order.item_tax, order.shipping_total, order.shipping_tax, order.tax_total) == (
        5998, 1140, 1000, 190, 1330,
    )  # fmt: skip


async def test_three_d_secure_then_capture(client: ApiClient, shop: ApiClient, region: str, server: LiveServer) -> None:
    cart, token = await ready_cart(client, shop, region, product(3000), SYDNEY, "chk_std")
    request = X.CompleteCheckoutRequest(
        cart=cart, cart_token=token, method_data={"number": "4000002500003155"}, idempotency_key=f"3ds-{tag()}"
    )
    first = await shop.call("CompleteCheckout", request)
    assert first.status == X.CHECKOUT_STATUS_REQUIRES_ACTION
    assert first.required_action.type == "three_d_secure" and first.order == ""
    request.action_data["result"] = "ok"
    done = await shop.call("CompleteCheckout", request)
    assert done.status == X.CHECKOUT_STATUS_COMPLETED and done.total == 3000 + SHIPPING
    # The region captures automatically.
    payment = await client.call("GetPayment", P.GetPaymentRequest(name=done.payment))
    assert payment.status == P.PAYMENT_STATUS_SUCCEEDED and payment.amount_captured == 4000
    order = await _order(server, done)
    assert (order.total, order.payment_status) == (4000, "paid")


async def test_missing_key_and_decline(client: ApiClient, shop: ApiClient, region: str) -> None:
    cart, token = await ready_cart(client, shop, region, product(2000, stock=5), SYDNEY, "chk_std")
    declined = X.CompleteCheckoutRequest(cart=cart, cart_token=token, method_data={"number": "4000000000009995"})
    missing = await _fails(shop.call("CompleteCheckout", declined))
    assert _is(missing, "VALIDATION_FAILED", 400)
    declined.idempotency_key = f"h-{tag()}"
    failed = await _fails(shop.call("CompleteCheckout", declined))
    assert _is(failed, "INSUFFICIENT_FUNDS", 402)
    cart_now = await shop.call("GetCart", K.GetCartRequest(name=cart, cart_token=token))
    assert cart_now.status == K.CART_STATUS_ACTIVE
    done = await shop.call(
        "CompleteCheckout",
        X.CompleteCheckoutRequest(cart=cart, cart_token=token, method_data=VISA, idempotency_key=f"k-{tag()}"),
    )
    assert done.status == X.CHECKOUT_STATUS_COMPLETED and done.attempts == 2


async def test_bad_input_gets_its_reason(client: ApiClient, shop: ApiClient, region: str) -> None:
    def complete(cart: str, token: str, **fields: object) -> X.CompleteCheckoutRequest:
        return X.CompleteCheckoutRequest(
            cart=cart, cart_token=token, method_data=VISA, idempotency_key=f"b-{tag()}", **fields
        )  # type: ignore[arg-type]

    empty = await shop.call(
        "CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{region}", email="e@example.com"))
    )
    error = await _fails(shop.call("CompleteCheckout", complete(empty.name, empty.cart_token)))
    assert _is(error, "CHECKOUT_CART_EMPTY", 422)
    cart, token = await ready_cart(client, shop, region, product(2000, stock=1), SYDNEY, "chk_std")
    error = await _fails(shop.call("CompleteCheckout", complete(cart, "")))
    assert error.reason == "CART_TOKEN_REQUIRED"
    error = await _fails(shop.call("CompleteCheckout", complete(cart, token, gateway="elsewhere")))
    assert _is(error, "CHECKOUT_GATEWAY_NOT_ALLOWED", 422)
    error = await _fails(shop.call("CompleteCheckout", complete(cart, token, email="not-an-email")))
    assert _is(error, "VALIDATION_FAILED", 400)
    error = await _fails(shop.call("GetCheckout", X.GetCheckoutRequest(name=f"{cart}/checkout", cart_token=token)))
    assert _is(error, "CHECKOUT_NOT_FOUND", 404)
    # Someone else buys the last unit first: INSUFFICIENT_INVENTORY before any payment.
    line = (await shop.call("GetCart", K.GetCartRequest(name=cart, cart_token=token))).line_items[0]
    rival = await shop.call(
        "CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{region}", email="r@example.com"))
    )
    await shop.call(
        "AddLineItem",
        K.AddLineItemRequest(cart=rival.name, variant=line.variant, quantity=1, cart_token=rival.cart_token),
    )
    await shop.call(
        "UpdateCart",
        K.UpdateCartRequest(
            cart=K.Cart(name=rival.name, shipping_address=SYDNEY),
            update_mask=field_mask_pb2.FieldMask(paths=["shipping_address"]),
            cart_token=rival.cart_token,
        ),
    )
    options = await shop.call(
        "ListShippingOptions", K.ListShippingOptionsRequest(cart=rival.name, cart_token=rival.cart_token)
    )
    await shop.call(
        "SelectShippingOption",
        K.SelectShippingOptionRequest(
            cart=rival.name, quote_id=options.shipping_options[0].quote_id, cart_token=rival.cart_token
        ),
    )
    await shop.call("CompleteCheckout", complete(rival.name, rival.cart_token))
    error = await _fails(shop.call("CompleteCheckout", complete(cart, token)))
    assert _is(error, "INSUFFICIENT_INVENTORY", 422)
    assert error.metadata["available"] == "0"
    # The converted cart refuses changes.
    error = await _fails(
        shop.call("ApplyCoupon", K.ApplyCouponRequest(cart=rival.name, code="ANY", cart_token=rival.cart_token))
    )
    assert _is(error, "CART_CONVERTED", 409)


async def test_reconcile_is_admin_only(client: ApiClient, shop: ApiClient) -> None:
    answer = await client.call("ReconcileCheckouts", X.ReconcileCheckoutsRequest(limit=10))
    assert isinstance(answer, X.ReconcileCheckoutsResponse)
    for limit in (-1, 1001):
        refused = await _fails(client.call("ReconcileCheckouts", X.ReconcileCheckoutsRequest(limit=limit)))
        assert refused.reason == "VALIDATION_FAILED" and refused.field_violations == ["limit"], refused
    error = await _fails(shop.call("ReconcileCheckouts", X.ReconcileCheckoutsRequest()))
    assert error.status == "PERMISSION_DENIED" and error.http_status in (None, 403)


async def test_idempotency_key_header_over_rest(server: LiveServer, region: str) -> None:
    rest = server.rest_client(server.admin_key)
    try:
        cart, token = await ready_cart(rest, rest, region, product(1800), SYDNEY, "chk_std")
    finally:
        await rest.close()
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        answers = [
            await http.post(
                f"/v1/{cart}:complete",
                json={"cartToken": token, "methodData": VISA},
                headers={"authorization": f"Bearer {server.admin_key}", "idempotency-key": "hdr-1"},
            )
            for _ in range(2)
        ]
    assert [a.status_code for a in answers] == [200, 200]
    first, second = (a.json() for a in answers)
    assert first["status"] == "CHECKOUT_STATUS_COMPLETED" and second["order"] == first["order"]
