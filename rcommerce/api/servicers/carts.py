"""Servicer of carts.proto: each method is one call into :class:`CartService`."""

from __future__ import annotations

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.carts.service import CartService
from rcommerce.gen.v1 import carts_pb2, carts_pb2_grpc

__all__ = ["CartServicer"]

C = carts_pb2


class CartServicer(carts_pb2_grpc.CartServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, carts: CartService) -> None:
        self._carts = carts

    async def CreateCart(self, request: C.CreateCartRequest, call: Call) -> C.Cart:
        return await self._carts.create_cart(call.principal, request.cart)

    async def GetCart(self, request: C.GetCartRequest, call: Call) -> C.Cart:
        return await self._carts.get_cart(call.principal, request.name, request.cart_token)

    async def UpdateCart(self, request: C.UpdateCartRequest, call: Call) -> C.Cart:
        return await self._carts.update_cart(call.principal, request.cart, request.update_mask, request.cart_token)

    async def AddLineItem(self, request: C.AddLineItemRequest, call: Call) -> C.Cart:
        return await self._carts.add_line(
            call.principal, request.cart, request.variant, request.quantity, request.cart_token
        )

    async def UpdateLineItem(self, request: C.UpdateLineItemRequest, call: Call) -> C.Cart:
        return await self._carts.update_line(call.principal, request.name, request.quantity, request.cart_token)

    async def RemoveLineItem(self, request: C.RemoveLineItemRequest, call: Call) -> C.Cart:
        return await self._carts.remove_line(call.principal, request.name, request.cart_token)

    async def ClearCart(self, request: C.ClearCartRequest, call: Call) -> C.Cart:
        return await self._carts.clear(call.principal, request.name, request.cart_token)

    async def ApplyCoupon(self, request: C.ApplyCouponRequest, call: Call) -> C.Cart:
        return await self._carts.apply_coupon(call.principal, request.cart, request.code, request.cart_token)

    async def RemoveCoupon(self, request: C.RemoveCouponRequest, call: Call) -> C.Cart:
        return await self._carts.remove_coupon(call.principal, request.cart, request.code, request.cart_token)

    async def ListShippingOptions(
        self, request: C.ListShippingOptionsRequest, call: Call
    ) -> C.ListShippingOptionsResponse:
        options = await self._carts.list_shipping_options(call.principal, request.cart, request.cart_token)
        return C.ListShippingOptionsResponse(shipping_options=options)

    async def SelectShippingOption(self, request: C.SelectShippingOptionRequest, call: Call) -> C.Cart:
        return await self._carts.select_shipping_option(
            call.principal, request.cart, request.quote_id, request.cart_token
        )

    async def MergeCarts(self, request: C.MergeCartsRequest, call: Call) -> C.Cart:
        return await self._carts.merge(call.principal, request.guest_cart_token, request.customer)

    async def DeleteCart(self, request: C.DeleteCartRequest, call: Call) -> empty_pb2.Empty:
        await self._carts.delete_cart(call.principal, request.name, request.cart_token)
        return empty_pb2.Empty()
