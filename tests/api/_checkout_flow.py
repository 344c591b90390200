"""Storefront steps the checkout API tests share."""

from __future__ import annotations

import uuid

from google.protobuf import field_mask_pb2

from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import checkout_pb2 as X
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.testing.client import ApiClient


async def ready_cart(
    client: ApiClient, shop: ApiClient, region: str, p: C.Product, address: Address, service: str, quantity: int = 1
) -> tuple[str, str]:
    """A cart with one line, email, address and the shipping option ``service``."""
    variant = (await client.call("CreateProduct", C.CreateProductRequest(product=p))).variants[0].name
    cart = await shop.call(
        "CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{region}", email="ada@example.com"))
    )
    token = cart.cart_token
    await shop.call(
        "AddLineItem", K.AddLineItemRequest(cart=cart.name, variant=variant, quantity=quantity, cart_token=token)
    )
    await shop.call(
        "UpdateCart",
        K.UpdateCartRequest(
            cart=K.Cart(name=cart.name, shipping_address=address),
            update_mask=field_mask_pb2.FieldMask(paths=["shipping_address"]),
            cart_token=token,
        ),
    )
    options = await shop.call("ListShippingOptions", K.ListShippingOptionsRequest(cart=cart.name, cart_token=token))
    quote = next(o for o in options.shipping_options if o.service_code == service)
    await shop.call(
        "SelectShippingOption", K.SelectShippingOptionRequest(cart=cart.name, quote_id=quote.quote_id, cart_token=token)
    )
    return cart.name, token


async def order_by_transfer(
    client: ApiClient, buyer: ApiClient, region: str, p: C.Product, address: Address, service: str
) -> tuple[str, str]:
    """A cart of ``buyer`` checked out by bank transfer (the ``manual`` gateway), the money
    not arrived yet: (the order, its authorized payment)."""
    cart, token = await ready_cart(client, buyer, region, p, address, service)
    done = await buyer.call(
        "CompleteCheckout",
        X.CompleteCheckoutRequest(
            cart=cart, cart_token=token, idempotency_key=uuid.uuid4().hex, gateway="manual",
            method_type="bank_transfer",
        ),
    )  # fmt: skip
    assert done.status == X.CHECKOUT_STATUS_COMPLETED
    (transfer,) = (await client.call("ListPayments", P.ListPaymentsRequest(target=done.order))).payments
    return str(done.order), str(transfer.name)
