"""Order rows to ``orders_pb2`` messages, and the enum mappings of the three statuses."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rcommerce.addresses import address_from_db, address_to_db, provider_address
from rcommerce.domain.orders.models import OrderLineRow, OrderNoteRow, OrderRow
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.timestamps import to_timestamp

__all__ = [
    "address_from_db",
    "address_to_db",
    "fulfillment_status_value",
    "line_message",
    "note_message",
    "order_message",
    "order_name",
    "payment_status_value",
    "provider_address",
    "restamp_order_message",
    "risk_message",
    "status_from_value",
    "status_value",
    "tax_line_messages",
]


def order_name(order_id: str) -> str:
    return f"orders/{order_id}"


def status_value(status: str) -> int:
    return int(O.OrderStatus.Value(f"ORDER_STATUS_{status.upper()}"))


def status_from_value(value: int) -> str:
    return str(O.OrderStatus.Name(value).removeprefix("ORDER_STATUS_").lower())


def payment_status_value(status: str) -> int:
    return int(O.OrderPaymentStatus.Value(f"ORDER_PAYMENT_STATUS_{status.upper()}"))


def payment_status_from_value(value: int) -> str:
    return str(O.OrderPaymentStatus.Name(value).removeprefix("ORDER_PAYMENT_STATUS_").lower())


def fulfillment_status_value(status: str) -> int:
    return int(O.OrderFulfillmentStatus.Value(f"ORDER_FULFILLMENT_STATUS_{status.upper()}"))


def fulfillment_status_from_value(value: int) -> str:
    return str(O.OrderFulfillmentStatus.Name(value).removeprefix("ORDER_FULFILLMENT_STATUS_").lower())


def tax_line_messages(components: Sequence[dict[str, Any]]) -> list[O.OrderTaxLine]:
    return [
        O.OrderTaxLine(
            name=c.get("name", ""), rate=c.get("rate", "0"), amount=int(c.get("amount", 0)),
            jurisdiction=c.get("jurisdiction", ""),
        )
        for c in components
    ]  # fmt: skip


def line_message(order_id: str, row: OrderLineRow) -> O.OrderLineItem:
    return O.OrderLineItem(
        name=f"orders/{order_id}/lineItems/{row.id}", id=row.id, product=f"products/{row.product_id}" if row.product_id else "",
        variant=f"products/{row.product_id}/variants/{row.variant_id}" if row.variant_id else "", title=row.title,
        variant_title=row.variant_title, sku=row.sku, quantity=row.quantity, unit_price=row.unit_price,
        original_unit_price=row.original_unit_price,
        price_list=f"priceLists/{row.price_list_id}" if row.price_list_id else "", subtotal=row.subtotal,
        discount_total=row.discount, tax_total=row.tax, total=row.total,
        tax_lines=tax_line_messages(row.tax_components), requires_shipping=row.requires_shipping,
        quantity_fulfilled=row.quantity_fulfilled, quantity_returned=row.quantity_returned,
    )  # fmt: skip


def order_message(
    row: OrderRow, lines: Sequence[OrderLineRow], payment_ids: Sequence[str] = (), *, staff: bool = True,
    balance_due: int = 0,
) -> O.Order:  # fmt: skip
    """The API view of an order; customers (``staff=False``) do not see the risk figures."""
    msg = O.Order(
        name=order_name(row.id), id=row.id, number=row.number, status=status_value(row.status),  # type: ignore[arg-type]
        payment_status=payment_status_value(row.payment_status),  # type: ignore[arg-type]
        fulfillment_status=fulfillment_status_value(row.fulfillment_status),  # type: ignore[arg-type]
        source=row.source, region=f"regions/{row.region_id}", currency_code=row.currency,
        customer=f"customers/{row.customer_id}" if row.customer_id else "", email=row.email,
        cart=f"carts/{row.cart_id}" if row.cart_id else "", vat_id=row.vat_id, prices_include_tax=row.prices_include_tax,
        reverse_charge_applied=row.reverse_charge_applied,
        line_items=[line_message(row.id, line) for line in lines],
        totals=O.OrderTotals(
            subtotal=row.subtotal, discount_total=row.discount_total, shipping_total=row.shipping_total,
            shipping_discount=row.shipping_discount, item_tax=row.item_tax, shipping_tax=row.shipping_tax,
            tax_total=row.tax_total, total=row.total, balance_due=balance_due,
        ),
        promotions=[
            O.OrderPromotion(
                promotion=f"promotions/{p['promotion_id']}" if p.get("promotion_id") else "", code=p.get("code", ""),
                title=p.get("title", ""), amount=int(p.get("amount", 0)), free_shipping=bool(p.get("free_shipping")),
            )
            for p in row.promotions
        ],
        coupon_codes=list(row.coupon_codes), tax_lines=tax_line_messages(row.tax_lines), tags=list(row.tags),
        metadata={str(k): str(v) for k, v in row.extra.items()}, customer_note=row.customer_note,
        hold_reason=row.hold_reason, cancel_reason=row.cancel_reason, cancel_note=row.cancel_note,
        cancelled_by=row.cancelled_by if staff else "", payments=[f"payments/{p}" for p in payment_ids],
        item_count=sum(line.quantity for line in lines),
        risk_score=row.fraud_score if staff else 0, risk_recommendation=row.fraud_recommendation if staff else "",
        etag=str(row.revision), create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
        confirm_time=to_timestamp(row.confirmed_at), cancel_time=to_timestamp(row.cancelled_at),
        complete_time=to_timestamp(row.completed_at),
    )  # fmt: skip
    if row.shipping_quote_id or row.shipping_method or row.shipping_total:
        msg.shipping.CopyFrom(
            O.OrderShipping(
                quote_id=row.shipping_quote_id, provider=row.shipping_provider, service_code=row.shipping_service,
                display_name=row.shipping_method, amount=row.shipping_total,
            )
        )  # fmt: skip
    for field in ("shipping_address", "billing_address"):
        address = address_from_db(getattr(row, field))
        if address is not None:
            getattr(msg, field).CopyFrom(address)
    return msg


def restamp_order_message(msg: O.Order, row: OrderRow) -> None:
    """Bring ``msg``, the :func:`order_message` of ``row`` (staff view), up to date with
    what settling a new order changes on the row: the three statuses, the revision and
    the update and confirm times. Cheaper than building the message again."""
    msg.status = status_value(row.status)  # type: ignore[assignment]
    msg.payment_status = payment_status_value(row.payment_status)  # type: ignore[assignment]
    msg.fulfillment_status = fulfillment_status_value(row.fulfillment_status)  # type: ignore[assignment]
    msg.etag = str(row.revision)
    msg.update_time.FromDatetime(row.updated_at)
    if row.confirmed_at is None:
        msg.ClearField("confirm_time")
    else:
        msg.confirm_time.FromDatetime(row.confirmed_at)


def note_message(row: OrderNoteRow) -> O.OrderNote:
    return O.OrderNote(
        name=f"orders/{row.order_id}/notes/{row.id}", body=row.body, customer_visible=row.customer_visible,
        author_name=row.author_name, author=row.author, system=row.system, create_time=to_timestamp(row.created_at),
    )  # fmt: skip


def risk_message(row: OrderRow) -> O.OrderRisk:
    msg = O.OrderRisk(
        name=f"orders/{row.id}/risk", score=row.fraud_score, recommendation=row.fraud_recommendation,
        reasons=list(row.fraud_reasons),
    )  # fmt: skip
    if row.fraud_provider_score is not None:
        msg.provider_score = row.fraud_provider_score
    return msg
