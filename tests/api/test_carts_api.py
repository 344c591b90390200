"""Carts through the public API, each test on gRPC and on REST: the whole flow from a
product to a priced cart, every bad-input case, and the Ex7 merge on sign-in."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.protobuf import field_mask_pb2

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import customers_pb2 as U
from rcommerce.gen.v1 import promotions_pb2 as P
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
    """The storefront: a publishable key on the same transport as ``client``."""
    key = await server.create_key(["carts:write", "carts:read", "products:read", "customers:write"], kind="publishable")
    yield client.with_token(key)


async def _variant(client: ApiClient, p: C.Product | None = None) -> str:
    created = await client.call("CreateProduct", C.CreateProductRequest(product=p or product()))
    return str(created.variants[0].name)


async def _promotion(client: ApiClient, **fields: object) -> str:
    code = f"API{tag().upper()}"
    await client.call(
        "CreatePromotion", P.CreatePromotionRequest(promotion=P.Promotion(code=code, title=code, **fields))
    )  # type: ignore[arg-type]
    return code


async def _fails(call: object) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_empty_cart_to_priced_cart_ex1(client: ApiClient, shop: ApiClient, store: Store) -> None:
    variant = await _variant(client, product(usd=4999))
    code = await _promotion(
        client, type=P.PROMOTION_TYPE_FIXED_AMOUNT, currencies=[P.PromotionCurrency(currency_code="USD", amount=1000)]
    )
    cart = await shop.call(
        "CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{store.us}", email="ada@example.com"))
    )
    token = cart.cart_token
    assert token.startswith("ctok_") and cart.currency_code == "USD" and cart.totals.total == 0
    cart = await shop.call(
        "AddLineItem", K.AddLineItemRequest(cart=cart.name, variant=variant, quantity=2, cart_token=token)
    )
    assert cart.totals.subtotal == 9998 and cart.line_items[0].unit_price == 4999
    cart = await shop.call("ApplyCoupon", K.ApplyCouponRequest(cart=cart.name, code=code.lower(), cart_token=token))
    assert cart.totals.discount_total == 1000 and list(cart.coupon_codes) == [code]
    cart = await shop.call(
        "UpdateCart",
        K.UpdateCartRequest(
            cart=K.Cart(name=cart.name, shipping_address=NY),
            update_mask=field_mask_pb2.FieldMask(paths=["shipping_address"]),
            cart_token=token,
        ),
    )
    assert cart.totals.item_tax == 787
    options = await shop.call("ListShippingOptions", K.ListShippingOptionsRequest(cart=cart.name, cart_token=token))
    ups = next(o for o in options.shipping_options if o.service_code == "ups_2day")
    assert ups.amount == 2499 and ups.quote_id.startswith("shq_")
    cart = await shop.call(
        "SelectShippingOption", K.SelectShippingOptionRequest(cart=cart.name, quote_id=ups.quote_id, cart_token=token)
    )
    t = cart.totals
    assert (t.subtotal, t.discount_total, t.item_tax, t.shipping_total, t.shipping_tax, t.tax_total, t.total) == (
        9998,
        1000,
        787,
        2499,
        219,
        1006,
        12503,
    )
    fetched = await shop.call("GetCart", K.GetCartRequest(name=cart.name, cart_token=token))
    assert fetched.totals == cart.totals and fetched.cart_token == ""
    # The back office reaches the cart without its token.
    assert (await client.call("GetCart", K.GetCartRequest(name=cart.name))).id == cart.id
    await shop.call("DeleteCart", K.DeleteCartRequest(name=cart.name, cart_token=token))
    assert (
        await _fails(shop.call("GetCart", K.GetCartRequest(name=cart.name, cart_token=token)))
    ).reason == "CART_NOT_FOUND"


async def test_bad_input_gets_its_reason(client: ApiClient, shop: ApiClient, store: Store) -> None:
    variant = await _variant(client, product(usd=1000))
    scarce = await _variant(client, product(usd=1000, managed=True, stock=1))
    euro_only = await _variant(client, product(usd=None, eur=1000))
    expired = await _promotion(
        client,
        type=P.PROMOTION_TYPE_PERCENTAGE,
        percent="10",
        end_time={"seconds": 1},
        currencies=[P.PromotionCurrency(currency_code="USD")],
    )
    cart = await shop.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{store.us}")))
    other = await shop.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{store.us}")))
    token = cart.cart_token
    cart = await shop.call(
        "AddLineItem", K.AddLineItemRequest(cart=cart.name, variant=variant, quantity=1, cart_token=token)
    )

    async def add(v: str, quantity: int, tok: str = token) -> ApiError:
        return await _fails(
            shop.call("AddLineItem", K.AddLineItemRequest(cart=cart.name, variant=v, quantity=quantity, cart_token=tok))
        )

    cases = [
        (await add(variant, 0), "INVALID_QUANTITY", 400),
        (await add(variant, 10000), "INVALID_QUANTITY", 400),
        (await add(variant, 9999), "LINE_QUANTITY_LIMIT", 422),
        (
            await add(variant.rsplit("/", 2)[0] + "/variants/var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", 1),
            "VARIANT_NOT_FOUND",
            404,
        ),
        (await add(euro_only, 1), "VARIANT_NOT_PRICED", 422),
        (await add(scarce, 2), "INSUFFICIENT_INVENTORY", 422),
        (await add(variant, 1, other.cart_token), "CART_TOKEN_INVALID", 403),
        (await add(variant, 1, ""), "CART_TOKEN_REQUIRED", 403),
    ]
    coupon = K.ApplyCouponRequest(cart=cart.name, code=expired, cart_token=token)
    cases.append((await _fails(shop.call("ApplyCoupon", coupon)), "COUPON_EXPIRED", 422))
    cases.append(
        (
            await _fails(
                shop.call("ListShippingOptions", K.ListShippingOptionsRequest(cart=cart.name, cart_token=token))
            ),
            "SHIPPING_ADDRESS_REQUIRED",
            422,
        )
    )
    alaska = K.Cart(name=cart.name, shipping_address=Address(country_code="CA", city="Toronto"))
    cases.append(
        (
            await _fails(shop.call("UpdateCart", K.UpdateCartRequest(cart=alaska, cart_token=token))),
            "SHIPPING_COUNTRY_NOT_IN_REGION",
            422,
        )
    )
    select = K.SelectShippingOptionRequest(cart=cart.name, quote_id="shq_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", cart_token=token)
    cases.append((await _fails(shop.call("SelectShippingOption", select)), "SHIPPING_QUOTE_NOT_FOUND", 404))
    for error, reason, http in cases:
        assert error.reason == reason, error
        if shop.transport == "rest":
            assert error.http_status == http, (reason, error.http_status)
    after = await shop.call("GetCart", K.GetCartRequest(name=cart.name, cart_token=token))
    assert (
        after.totals == cart.totals and [x.quantity for x in after.line_items] == [1] and list(after.coupon_codes) == []
    )


async def test_ex7_guest_cart_merges_on_sign_in(client: ApiClient, shop: ApiClient, store: Store) -> None:
    p1 = await _variant(client, product("P1", usd=1000))
    p2 = await _variant(client, product("P2", usd=2000))
    guest10 = await _promotion(
        client, type=P.PROMOTION_TYPE_PERCENTAGE, percent="10", currencies=[P.PromotionCurrency(currency_code="USD")]
    )
    summer20 = await _promotion(
        client, type=P.PROMOTION_TYPE_PERCENTAGE, percent="20", currencies=[P.PromotionCurrency(currency_code="USD")]
    )
    email, password = f"ann-{tag()}@example.com", "correct horse battery"
    session = await shop.call("Register", U.RegisterRequest(email=email, password=password))
    me = shop.with_token(session.access_token)
    mine = await me.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{store.us}")))
    assert mine.customer == session.customer.name and mine.cart_token == ""
    await me.call("AddLineItem", K.AddLineItemRequest(cart=mine.name, variant=p1, quantity=3))
    await me.call("ApplyCoupon", K.ApplyCouponRequest(cart=mine.name, code=summer20))
    guest = await shop.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{store.us}")))
    token = guest.cart_token
    await shop.call("AddLineItem", K.AddLineItemRequest(cart=guest.name, variant=p1, quantity=2, cart_token=token))
    await shop.call("AddLineItem", K.AddLineItemRequest(cart=guest.name, variant=p2, quantity=1, cart_token=token))
    await shop.call("ApplyCoupon", K.ApplyCouponRequest(cart=guest.name, code=guest10, cart_token=token))
    # Another customer cannot reach Ann's cart.
    stranger = await shop.call("Register", U.RegisterRequest(email=f"bob-{tag()}@example.com", password=password))
    bob = shop.with_token(stranger.access_token)
    assert (
        await _fails(bob.call("GetCart", K.GetCartRequest(name=mine.name)))
    ).reason == "CART_OWNED_BY_ANOTHER_CUSTOMER"
    signed_in = await shop.call("SignIn", U.SignInRequest(email=email, password=password, cart_token=token))
    me = shop.with_token(signed_in.access_token)
    merged = await me.call("GetCart", K.GetCartRequest(name=mine.name))
    assert sorted((line.variant, line.quantity) for line in merged.line_items) == sorted([(p1, 5), (p2, 1)])
    assert list(merged.coupon_codes) == [summer20]
    assert (merged.totals.subtotal, merged.totals.discount_total, merged.totals.total) == (7000, 1400, 5600)
    old = await shop.call("GetCart", K.GetCartRequest(name=guest.name, cart_token=token))
    assert old.status == K.CART_STATUS_CONVERTED
    error = await _fails(
        shop.call("AddLineItem", K.AddLineItemRequest(cart=guest.name, variant=p1, quantity=1, cart_token=token))
    )
    assert error.reason == "CART_CONVERTED"
    assert (
        await _fails(bob.call("MergeCarts", K.MergeCartsRequest(guest_cart_token=token)))
    ).reason == "CART_CONVERTED"


async def test_a_cart_for_a_customer_that_does_not_exist_gets_its_reason(client: ApiClient, store: Store) -> None:
    missing_customer = await _fails(
        client.call(
            "CreateCart",
            K.CreateCartRequest(
                cart=K.Cart(region=f"regions/{store.us}", customer="customers/cus_01JAAAAAAAAAAAAAAAAAAAAAAA")
            ),
        )
    )
    assert missing_customer.reason == "CUSTOMER_NOT_FOUND" and missing_customer.http_status in (None, 404)
    assert missing_customer.metadata["customer"] == "customers/cus_01JAAAAAAAAAAAAAAAAAAAAAAA"
