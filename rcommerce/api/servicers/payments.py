"""Servicer of payments.proto: each method is one call into :class:`PaymentService`.

Mutating calls take the idempotency key from the request field or, when it is empty,
from the ``Idempotency-Key`` header (REST) / ``idempotency-key`` metadata (gRPC).
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf import empty_pb2
from google.protobuf.message import Message

from rcommerce.api.call import Call
from rcommerce.domain.payments.service import PaymentService
from rcommerce.gen.v1 import payments_pb2, payments_pb2_grpc

__all__ = ["PaymentServicer"]

P = payments_pb2


R = TypeVar("R", bound=Message)


def _keyed(request: R, call: Call) -> R:
    header = call.headers.get("idempotency-key", "").strip()
    if header and not getattr(request, "idempotency_key", ""):
        request.MergeFrom(type(request)(idempotency_key=header))
    return request


class PaymentServicer(payments_pb2_grpc.PaymentServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, payments: PaymentService) -> None:
        self._payments = payments

    async def ListAvailablePaymentMethods(
        self, request: P.ListAvailablePaymentMethodsRequest, call: Call
    ) -> P.ListAvailablePaymentMethodsResponse:
        return await self._payments.available_methods(request)

    async def CreatePayment(self, request: P.CreatePaymentRequest, call: Call) -> P.Payment:
        return await self._payments.create_payment(_keyed(request, call), call.principal)

    async def GetPayment(self, request: P.GetPaymentRequest, call: Call) -> P.Payment:
        return await self._payments.get_payment(request.name, call.principal)

    async def ListPayments(self, request: P.ListPaymentsRequest, call: Call) -> P.ListPaymentsResponse:
        return await self._payments.list_payments(request)

    async def CompletePaymentAction(self, request: P.CompletePaymentActionRequest, call: Call) -> P.Payment:
        return await self._payments.complete_action(_keyed(request, call), call.principal)

    async def CapturePayment(self, request: P.CapturePaymentRequest, call: Call) -> P.Payment:
        return await self._payments.capture(_keyed(request, call))

    async def VoidPayment(self, request: P.VoidPaymentRequest, call: Call) -> P.Payment:
        return await self._payments.void(_keyed(request, call))

    async def RefundPayment(self, request: P.RefundPaymentRequest, call: Call) -> P.Payment:
        return await self._payments.refund(_keyed(request, call))

    async def ListSavedPaymentMethods(
        self, request: P.ListSavedPaymentMethodsRequest, call: Call
    ) -> P.ListSavedPaymentMethodsResponse:
        return await self._payments.list_saved(request, call.principal)

    async def SavePaymentMethod(self, request: P.SavePaymentMethodRequest, call: Call) -> P.SavedPaymentMethod:
        return await self._payments.save_method(_keyed(request, call), call.principal)

    async def DeleteSavedPaymentMethod(self, request: P.DeleteSavedPaymentMethodRequest, call: Call) -> empty_pb2.Empty:
        await self._payments.delete_saved(_keyed(request, call), call.principal)
        return empty_pb2.Empty()
