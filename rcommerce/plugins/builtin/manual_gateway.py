"""The ``manual`` payment gateway: bank transfer and cash on delivery.

Money moves outside the platform, so every call succeeds at once and nothing is sent
anywhere: a payment is AUTHORIZED when the order is placed (whatever capture mode was
asked), staff CAPTURE it when the transfer arrives or the courier hands over the cash
(partially if less came in), VOID it when nothing will come, and REFUND records money
paid back by hand. It has no saved methods, no off-session charges and no webhooks.
Stateless: its reference is derived from our payment id, so retries are naturally
idempotent.
"""

from __future__ import annotations

from rcommerce.plugins.providers import (
    BANK_TRANSFER,
    CASH_ON_DELIVERY,
    CaptureRequest,
    CompleteActionRequest,
    GatewayConfig,
    InitiateRequest,
    MethodDetails,
    OffSessionRequest,
    OperationResult,
    OperationStatus,
    PaymentMethodConfig,
    PaymentOutcome,
    PaymentRef,
    PaymentResult,
    RefundRequest,
    SaveMethodRequest,
    UnsupportedOperation,
    VoidRequest,
    WebhookEvent,
    WebhookRequest,
    WebhookSignatureError,
)

__all__ = ["ManualGateway"]


class ManualGateway:
    """Bank transfer / cash on delivery; see the module docstring."""

    code = "manual"
    display_name = "Manual (bank transfer, cash on delivery)"

    def config(self) -> GatewayConfig:
        return GatewayConfig(
            currencies=(),
            methods=(
                PaymentMethodConfig(BANK_TRANSFER, "Bank Transfer"),
                PaymentMethodConfig(CASH_ON_DELIVERY, "Cash on Delivery"),
            ),
            supports_manual_capture=True,
            supports_automatic_capture=False,  # nothing to capture until the money arrives
            supports_partial_capture=True,
            supports_refunds=True,
            supports_partial_refunds=True,
        )

    async def initiate(self, request: InitiateRequest) -> PaymentResult:
        return PaymentResult(
            PaymentOutcome.AUTHORIZED, f"manual_{request.payment_id}", amount_authorized=request.amount,
            method=MethodDetails(request.method_type),
        )  # fmt: skip

    async def complete_action(self, request: CompleteActionRequest) -> PaymentResult:
        return await self.status(request.payment)

    async def status(self, payment: PaymentRef) -> PaymentResult:
        # The core's record is the truth for money that moves by hand.
        return PaymentResult(PaymentOutcome.AUTHORIZED, payment.gateway_ref, amount_authorized=payment.amount)

    async def capture(self, request: CaptureRequest) -> OperationResult:
        if not 0 < request.amount <= request.payment.amount:
            return OperationResult(
                OperationStatus.FAILED,
                error_code="amount_too_large",
                error_message="Capture exceeds the authorization.",
            )
        return OperationResult(OperationStatus.SUCCEEDED, request.amount, f"{request.payment.gateway_ref}_capture")

    async def void(self, request: VoidRequest) -> OperationResult:
        return OperationResult(OperationStatus.SUCCEEDED, 0, f"{request.payment.gateway_ref}_void")

    async def refund(self, request: RefundRequest) -> OperationResult:
        left = request.payment.amount_captured - request.payment.amount_refunded
        if not 0 < request.amount <= left:
            return OperationResult(
                OperationStatus.FAILED, error_code="amount_too_large", error_message=f"Only {left} is left to refund."
            )
        return OperationResult(
            OperationStatus.SUCCEEDED, request.amount, f"{request.payment.gateway_ref}_{request.refund_id}"
        )

    async def save_method(self, request: SaveMethodRequest) -> MethodDetails:
        raise UnsupportedOperation("the manual gateway cannot save payment methods")

    async def list_methods(self, customer_id: str) -> list[MethodDetails]:
        return []

    async def delete_method(self, customer_id: str, token: str) -> None:
        raise UnsupportedOperation("the manual gateway has no saved payment methods")

    async def charge_off_session(self, request: OffSessionRequest) -> PaymentResult:
        raise UnsupportedOperation("the manual gateway cannot charge off-session")

    def parse_webhook(self, request: WebhookRequest) -> WebhookEvent:
        raise WebhookSignatureError("the manual gateway receives no webhooks")
