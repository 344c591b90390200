"""Checkout rows to messages."""

from __future__ import annotations

from rcommerce.domain.checkout.attempts import AttemptState
from rcommerce.domain.checkout.models import CheckoutAttemptRow
from rcommerce.gen.v1 import checkout_pb2, payments_pb2
from rcommerce.timestamps import to_timestamp

__all__ = ["checkout_message", "checkout_name"]

_STATUS = {
    "authorizing": checkout_pb2.CHECKOUT_STATUS_AUTHORIZING,
    "requires_action": checkout_pb2.CHECKOUT_STATUS_REQUIRES_ACTION,
    "completed": checkout_pb2.CHECKOUT_STATUS_COMPLETED,
    "failed": checkout_pb2.CHECKOUT_STATUS_FAILED,
}


def checkout_name(cart_id: str) -> str:
    return f"carts/{cart_id}/checkout"


def checkout_message(
    row: CheckoutAttemptRow | AttemptState, payment: payments_pb2.Payment | None
) -> checkout_pb2.Checkout:
    """The checkout of ``row``; ``payment`` (when given and waiting for the customer)
    supplies the required action."""
    message = checkout_pb2.Checkout(
        name=checkout_name(row.cart_id),
        cart=f"carts/{row.cart_id}",
        status=_STATUS.get(row.status, checkout_pb2.CHECKOUT_STATUS_UNSPECIFIED),
        payment=f"payments/{row.payment_id}" if row.payment_id else "",
        order=f"orders/{row.order_id}" if row.order_id else "",
        order_number=row.order_number,
        total=row.amount,
        currency_code=row.currency_code,
        failure_reason=row.failure_reason,
        failure_message=row.failure_message,
        attempts=row.attempts,
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
    )
    if payment is not None and payment.status == payments_pb2.PAYMENT_STATUS_REQUIRES_ACTION:
        message.required_action.CopyFrom(payment.action)
    return message
