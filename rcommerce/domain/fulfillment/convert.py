"""Rows of the fulfilment context to their proto messages, and resource names."""

from __future__ import annotations

from collections.abc import Sequence

from rcommerce.domain.fulfillment.models import (
    FulfillmentLineRow,
    FulfillmentRow,
    OrderChangeLineRow,
    OrderChangeRow,
    OrderRefundLineRow,
    OrderRefundRow,
)
from rcommerce.domain.inventory.convert import location_name
from rcommerce.domain.orders.convert import order_name
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.names import variant_name
from rcommerce.timestamps import to_timestamp

__all__ = ["change_message", "change_name", "fulfillment_message", "fulfillment_name", "refund_message", "refund_name"]


def fulfillment_name(order_id: str, fulfillment_id: str) -> str:
    return f"{order_name(order_id)}/fulfillments/{fulfillment_id}"


def refund_name(order_id: str, refund_id: str) -> str:
    return f"{order_name(order_id)}/refunds/{refund_id}"


def change_name(order_id: str, change_id: str) -> str:
    return f"{order_name(order_id)}/changes/{change_id}"


def fulfillment_message(
    row: FulfillmentRow, lines: Sequence[FulfillmentLineRow], order_fulfillment_status: str = ""
) -> F.Fulfillment:
    return F.Fulfillment(
        name=fulfillment_name(row.order_id, row.id), location=location_name(row.location_id),
        lines=[F.FulfillmentLine(line_id=line.line_id, quantity=line.quantity) for line in lines],
        status=row.status, tracking_number=row.tracking_number, carrier=row.carrier, tracking_url=row.tracking_url,
        shipped_time=to_timestamp(row.shipped_at), delivered_time=to_timestamp(row.delivered_at),
        cancelled_time=to_timestamp(row.cancelled_at), create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at), order_fulfillment_status=order_fulfillment_status,
    )  # fmt: skip


def refund_message(
    row: OrderRefundRow, lines: Sequence[OrderRefundLineRow], summary: F.OrderPaymentSummary | None = None
) -> F.OrderRefund:
    return F.OrderRefund(
        name=refund_name(row.order_id, row.id), amount=row.amount, currency_code=row.currency, reason=row.reason,
        note=row.note,
        lines=[F.RefundLine(line_id=x.line_id, quantity=x.quantity, amount=x.amount, restocked=x.restocked) for x in lines],
        payments={f"payments/{pid}": int(amount) for pid, amount in row.payments.items()},
        change=change_name(row.order_id, row.change_id) if row.change_id else "",
        summary=summary, create_time=to_timestamp(row.created_at),
    )  # fmt: skip


def change_message(row: OrderChangeRow, lines: Sequence[OrderChangeLineRow]) -> F.OrderChange:
    return F.OrderChange(
        name=change_name(row.order_id, row.id), kind=row.kind, status=row.status,
        lines=[
            F.OrderChangeLine(line_id=x.line_id, quantity=x.quantity, reason=x.reason, note=x.note,
                              refund_amount=x.refund_amount)
            for x in lines
        ],
        replacements=[
            F.ReplacementItem(variant=variant_name(r["product_id"], r["variant_id"]), quantity=int(r["quantity"]))
            for r in row.replacements
        ],
        resolution=row.resolution, keep_items=not row.receive_items, reason=row.reason, note=row.note,
        refund_amount=row.refund_amount, refunded_amount=row.refunded_amount, restocked=row.restocked,
        received_time=to_timestamp(row.received_at), processed_time=to_timestamp(row.processed_at),
        create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
    )  # fmt: skip
