"""Servicers of fulfillment.proto: each method is one call into the fulfilment context."""

from __future__ import annotations

from rcommerce.api.call import Call
from rcommerce.domain.fulfillment.changes import OrderChangeService
from rcommerce.domain.fulfillment.edits import OrderEditService
from rcommerce.domain.fulfillment.fulfillments import FulfillmentService
from rcommerce.domain.fulfillment.payments import OrderPayments
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.gen.v1 import fulfillment_pb2_grpc

__all__ = ["FulfillmentServicer", "OrderChangeServicer", "OrderEditServicer", "OrderPaymentServicer"]


def _actor(call: Call) -> str:
    return call.principal.subject or "system"


class OrderPaymentServicer(fulfillment_pb2_grpc.OrderPaymentServiceServicer):
    def __init__(self, payments: OrderPayments) -> None:
        self._payments = payments

    async def CaptureOrderPayment(self, request: F.CaptureOrderPaymentRequest, call: Call) -> F.OrderPaymentSummary:
        return await self._payments.capture(request)

    async def VoidOrderPayment(self, request: F.VoidOrderPaymentRequest, call: Call) -> F.OrderPaymentSummary:
        return await self._payments.void(request)

    async def RefundOrder(self, request: F.RefundOrderRequest, call: Call) -> F.OrderRefund:
        return await self._payments.refund(request)

    async def GetOrderPaymentSummary(
        self, request: F.GetOrderPaymentSummaryRequest, call: Call
    ) -> F.OrderPaymentSummary:
        return await self._payments.get_summary(request.name)

    async def ListOrderRefunds(self, request: F.ListOrderRefundsRequest, call: Call) -> F.ListOrderRefundsResponse:
        return await self._payments.list_refunds(request.parent)


class FulfillmentServicer(fulfillment_pb2_grpc.FulfillmentServiceServicer):
    def __init__(self, fulfillments: FulfillmentService) -> None:
        self._f = fulfillments

    async def CreateFulfillment(self, request: F.CreateFulfillmentRequest, call: Call) -> F.Fulfillment:
        return await self._f.create(request.parent, request.fulfillment, actor=_actor(call))

    async def GetFulfillment(self, request: F.GetFulfillmentRequest, call: Call) -> F.Fulfillment:
        return await self._f.get(request.name, call.principal)

    async def ListFulfillments(self, request: F.ListFulfillmentsRequest, call: Call) -> F.ListFulfillmentsResponse:
        return await self._f.list_fulfillments(request.parent, call.principal)

    async def ShipFulfillment(self, request: F.ShipFulfillmentRequest, call: Call) -> F.Fulfillment:
        return await self._f.ship(request, actor=_actor(call))

    async def DeliverFulfillment(self, request: F.DeliverFulfillmentRequest, call: Call) -> F.Fulfillment:
        return await self._f.deliver(request, actor=_actor(call))

    async def CancelFulfillment(self, request: F.CancelFulfillmentRequest, call: Call) -> F.Fulfillment:
        return await self._f.cancel(request, actor=_actor(call))


class OrderChangeServicer(fulfillment_pb2_grpc.OrderChangeServiceServicer):
    def __init__(self, changes: OrderChangeService) -> None:
        self._c = changes

    async def CreateOrderChange(self, request: F.CreateOrderChangeRequest, call: Call) -> F.OrderChange:
        return await self._c.create(request.parent, request.change, actor=_actor(call))

    async def RequestReturn(self, request: F.RequestReturnRequest, call: Call) -> F.OrderChange:
        return await self._c.request_return(request, call.principal)

    async def GetOrderChange(self, request: F.GetOrderChangeRequest, call: Call) -> F.OrderChange:
        return await self._c.get(request.name, call.principal)

    async def ListOrderChanges(self, request: F.ListOrderChangesRequest, call: Call) -> F.ListOrderChangesResponse:
        return await self._c.list_changes(request.parent, call.principal)

    async def ReceiveOrderChange(self, request: F.ReceiveOrderChangeRequest, call: Call) -> F.OrderChange:
        return await self._c.receive(request, actor=_actor(call))

    async def ProcessOrderChange(self, request: F.ProcessOrderChangeRequest, call: Call) -> F.OrderChange:
        return await self._c.process(request, actor=_actor(call))

    async def CancelOrderChange(self, request: F.CancelOrderChangeRequest, call: Call) -> F.OrderChange:
        return await self._c.cancel(request, actor=_actor(call))


class OrderEditServicer(fulfillment_pb2_grpc.OrderEditServiceServicer):
    def __init__(self, edits: OrderEditService) -> None:
        self._e = edits

    async def EditOrder(self, request: F.EditOrderRequest, call: Call) -> F.OrderEdit:
        return await self._e.edit(request, actor=_actor(call))
