"""Servicer of checkout.proto: each method is one call into :class:`CheckoutService`.

CompleteCheckout takes the idempotency key from the request field or, when it is empty,
from the ``Idempotency-Key`` header (REST) / ``idempotency-key`` metadata (gRPC).
"""

from __future__ import annotations

from rcommerce.api.call import Call
from rcommerce.domain.checkout.reconciler import CheckoutReconciler
from rcommerce.domain.checkout.service import CheckoutService
from rcommerce.errors import invalid
from rcommerce.gen.v1 import checkout_pb2, checkout_pb2_grpc

__all__ = ["CheckoutServicer"]

K = checkout_pb2


class CheckoutServicer(checkout_pb2_grpc.CheckoutServiceServicer):
    """Thin adapter; the pipeline authenticates, authorises and maps DomainError."""

    def __init__(self, checkout: CheckoutService, reconciler: CheckoutReconciler) -> None:
        self._checkout = checkout
        self._reconciler = reconciler

    async def CompleteCheckout(self, request: K.CompleteCheckoutRequest, call: Call) -> K.Checkout:
        header = call.headers.get("idempotency-key", "").strip()
        if header and not request.idempotency_key:
            request.idempotency_key = header
        return await self._checkout.complete(call.principal, request, ip_address=call.peer[:45])

    async def GetCheckout(self, request: K.GetCheckoutRequest, call: Call) -> K.Checkout:
        return await self._checkout.get(call.principal, request.name, request.cart_token)

    async def ReconcileCheckouts(
        self, request: K.ReconcileCheckoutsRequest, call: Call
    ) -> K.ReconcileCheckoutsResponse:
        if not 0 <= request.limit <= 1000:
            raise invalid("limit", "must be between 0 (the default, 100) and 1000")
        limit = request.limit or 100
        voided = await self._reconciler.reconcile(limit)
        captured = await self._reconciler.resume_captures(limit)
        return K.ReconcileCheckoutsResponse(voided_payments=voided, captured_payments=captured)
