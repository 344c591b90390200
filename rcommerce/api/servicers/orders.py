"""Servicer of orders.proto: each method is one call into the orders context."""

from __future__ import annotations

from collections.abc import AsyncIterator

from google.protobuf import empty_pb2

from rcommerce.api.call import Call
from rcommerce.domain.orders.drafts import DraftOrderService
from rcommerce.domain.orders.service import OrderService
from rcommerce.domain.orders.watch import OrderWatch
from rcommerce.errors import invalid
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import orders_pb2_grpc

__all__ = ["OrderServicer"]


class OrderServicer(orders_pb2_grpc.OrderServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, orders: OrderService, drafts: DraftOrderService, watch: OrderWatch) -> None:
        self._orders = orders
        self._drafts = drafts
        self._watch = watch

    async def GetOrder(self, request: O.GetOrderRequest, call: Call) -> O.Order:
        return await self._orders.get_order(call.principal, request.name)

    async def WatchOrder(self, request: O.WatchOrderRequest, call: Call) -> AsyncIterator[O.Order]:
        if request.max_updates < 0:
            raise invalid("max_updates", "must be >= 0")
        async for order in self._watch.watch(call.principal, request.name, max_updates=request.max_updates):
            yield order

    async def ListOrders(self, request: O.ListOrdersRequest, call: Call) -> O.ListOrdersResponse:
        return await self._orders.list_orders(call.principal, request)

    async def UpdateOrder(self, request: O.UpdateOrderRequest, call: Call) -> O.Order:
        return await self._orders.update_order(call.principal, request.order, request.update_mask)

    async def ConfirmOrder(self, request: O.ConfirmOrderRequest, call: Call) -> O.Order:
        return await self._orders.confirm(call.principal, request.name)

    async def ProcessOrder(self, request: O.ProcessOrderRequest, call: Call) -> O.Order:
        return await self._orders.process(call.principal, request.name)

    async def HoldOrder(self, request: O.HoldOrderRequest, call: Call) -> O.Order:
        return await self._orders.hold(call.principal, request.name, request.reason)

    async def ApproveOrder(self, request: O.ApproveOrderRequest, call: Call) -> O.Order:
        return await self._orders.approve(call.principal, request.name)

    async def CompleteOrder(self, request: O.CompleteOrderRequest, call: Call) -> O.Order:
        return await self._orders.complete(call.principal, request.name)

    async def CancelOrder(self, request: O.CancelOrderRequest, call: Call) -> O.Order:
        return await self._orders.cancel(call.principal, request)

    async def GetOrderRisk(self, request: O.GetOrderRiskRequest, call: Call) -> O.OrderRisk:
        return await self._orders.get_risk(call.principal, request.name)

    async def AddOrderNote(self, request: O.AddOrderNoteRequest, call: Call) -> O.OrderNote:
        return await self._orders.add_note(call.principal, request.parent, request.note)

    async def ListOrderNotes(self, request: O.ListOrderNotesRequest, call: Call) -> O.ListOrderNotesResponse:
        return await self._orders.list_notes(call.principal, request)

    async def DeleteOrderNote(self, request: O.DeleteOrderNoteRequest, call: Call) -> empty_pb2.Empty:
        await self._orders.delete_note(call.principal, request.name)
        return empty_pb2.Empty()

    async def CreateDraftOrder(self, request: O.CreateDraftOrderRequest, call: Call) -> O.DraftOrder:
        return await self._drafts.create(request.draft_order)

    async def GetDraftOrder(self, request: O.GetDraftOrderRequest, call: Call) -> O.DraftOrder:
        return await self._drafts.get(request.name)

    async def UpdateDraftOrder(self, request: O.UpdateDraftOrderRequest, call: Call) -> O.DraftOrder:
        return await self._drafts.update(request.draft_order, request.update_mask)

    async def CompleteDraftOrder(self, request: O.CompleteDraftOrderRequest, call: Call) -> O.Order:
        return await self._drafts.complete(call.principal, request.name)
