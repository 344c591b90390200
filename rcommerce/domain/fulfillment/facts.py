"""What the fulfilment context reads about an order, in the caller's session: its lines
as :class:`~rcommerce.domain.fulfillment.rules.LineState`, units refunded per line, its
payments as allocation slices, and the derived payment summary."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal, customer_id_of
from rcommerce.domain.fulfillment.models import FulfillmentRow, OrderRefundLineRow, OrderRefundRow
from rcommerce.domain.fulfillment.rules import FulfillmentState, LineState, PaymentSlice
from rcommerce.domain.orders.convert import order_name
from rcommerce.domain.orders.models import OrderLineRow, OrderRow
from rcommerce.domain.orders.repository import OrderRepository, not_found, payment_totals
from rcommerce.domain.orders.states import balance_due, derive_payment_status
from rcommerce.domain.payments.models import PaymentRow
from rcommerce.gen.v1 import fulfillment_pb2 as F

__all__ = [
    "all_delivered",
    "check_owner",
    "line_states",
    "payment_slices",
    "pending_refunds",
    "refunded_units",
    "summary",
]

CAPTURED = ("succeeded", "partially_refunded")


def check_owner(order: OrderRow, principal: Principal | None) -> None:
    """Customers reach only their own orders: another customer's is ORDER_NOT_FOUND."""
    customer = customer_id_of(principal) if principal is not None else None
    if customer is not None and order.customer_id != customer:
        raise not_found(order_name(order.id))


async def refunded_units(session: AsyncSession, order_id: str) -> dict[str, int]:
    """line id → units covered by refunds of the order (pending or succeeded)."""
    await session.flush()
    rows = await session.execute(
        select(OrderRefundLineRow.line_id, func.sum(OrderRefundLineRow.quantity))
        .join(OrderRefundRow, OrderRefundRow.id == OrderRefundLineRow.refund_id)
        .where(OrderRefundRow.order_id == order_id)
        .group_by(OrderRefundLineRow.line_id)
    )
    return {str(line_id): int(total or 0) for line_id, total in rows.all()}


def line_states(lines: Sequence[OrderLineRow], refunded: dict[str, int] | None = None) -> dict[str, LineState]:
    refunded = refunded or {}
    return {
        line.id: LineState(
            line.id, line.quantity, line.quantity_fulfilled, line.quantity_returned, refunded.get(line.id, 0)
        )
        for line in lines
    }


async def pending_refunds(session: AsyncSession, order_id: str, *, except_id: str = "") -> int:
    """Σ amounts of the order's refunds still talking to gateways (they count against R19)."""
    total = await session.scalar(
        select(func.sum(OrderRefundRow.amount)).where(
            OrderRefundRow.order_id == order_id, OrderRefundRow.status == "pending", OrderRefundRow.id != except_id
        )
    )
    return int(total or 0)


def payment_slices(payments: Sequence[PaymentRow]) -> list[PaymentSlice]:
    """Oldest first: what each payment can still capture and refund."""
    out = []
    for p in payments:
        capturable = max(0, (p.amount_authorized or p.amount) - p.amount_captured) if p.status == "authorized" else 0
        refundable = max(0, p.amount_captured - p.amount_refunded) if p.status in CAPTURED else 0
        out.append(PaymentSlice(p.id, capturable, refundable))
    return out


async def all_delivered(session: AsyncSession, order_id: str) -> bool:
    """Every fulfilment that is not cancelled is delivered (and there is one)."""
    await session.flush()
    statuses = list(
        await session.scalars(
            select(FulfillmentRow.status).where(
                FulfillmentRow.order_id == order_id, FulfillmentRow.status != FulfillmentState.CANCELLED.value
            )
        )
    )
    return bool(statuses) and all(s == FulfillmentState.DELIVERED.value for s in statuses)


async def summary(session: AsyncSession, orders: OrderRepository, row: OrderRow) -> F.OrderPaymentSummary:
    payments = (await orders.payments(session, [row.id]))[row.id]
    totals = payment_totals(row.total, payments)
    return F.OrderPaymentSummary(
        order=order_name(row.id), currency_code=row.currency, total=row.total, authorized=totals.authorized,
        captured=totals.captured, refunded=totals.refunded, refundable=max(0, totals.captured - totals.refunded),
        payment_status=derive_payment_status(totals).value, order_status=row.status,
        payments=[f"payments/{p.id}" for p in payments], balance_due=balance_due(totals),
    )  # fmt: skip
