"""``restamp_order_message``: the message of an order built once and brought up to date
equals the message built again from the changed row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rcommerce.domain.orders.convert import order_message, restamp_order_message
from rcommerce.domain.orders.models import OrderLineRow, OrderRow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _row(**overrides: Any) -> OrderRow:
    values: dict[str, Any] = dict(
        id="ord_1", number="1001", number_value=1001, source="checkout", status="pending", payment_status="pending",
        fulfillment_status="unfulfilled", region_id="reg_1", currency="USD", customer_id="cus_1",
        email="ada@example.com", cart_id="cart_1", vat_id="", prices_include_tax=False, reverse_charge_applied=False,
        tax_exempt=False, subtotal=9998, discount_total=0, shipping_total=500, shipping_discount=0, item_tax=0,
        shipping_tax=0, tax_total=0, total=10498, shipping_quote_id="shq_1", shipping_provider="flat",
        shipping_service="std", shipping_method="Standard", coupon_codes=[], promotions=[], tax_lines=[], tags=["vip"],
        extra={"k": "v"}, customer_note="", ip_address="", fraud_score=7, fraud_recommendation="approve",
        fraud_reasons=[], fraud_provider_score=None, hold_reason="", cancel_reason="", cancel_note="",
        cancelled_by="", confirmed_at=None, cancelled_at=None, completed_at=None, revision=1, created_at=NOW,
        updated_at=NOW, shipping_address=None, billing_address=None,
    )  # fmt: skip
    values.update(overrides)
    return OrderRow(**values)


def _line() -> OrderLineRow:
    return OrderLineRow(
        id="oli_1", order_id="ord_1", position=0, product_id="prod_1", variant_id="var_1", title="Tee",
        variant_title="M", sku="TEE-M", quantity=2, unit_price=4999, original_unit_price=4999, price_list_id="",
        subtotal=9998, discount=0, tax=0, total=9998, tax_components=[], tax_category="", requires_shipping=True,
        quantity_fulfilled=0, quantity_returned=0, reservation_ids=[], source_line_id="", created_at=NOW,
    )  # fmt: skip


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"payment_status": "authorized", "revision": 2, "updated_at": NOW + timedelta(seconds=1)},
        {"payment_status": "paid", "status": "confirmed", "confirmed_at": NOW, "revision": 3},
    ],
)
def test_a_restamped_message_equals_one_built_from_the_changed_row(changes: dict[str, Any]) -> None:
    row, lines = _row(), [_line()]
    message = order_message(row, lines, ["pay_1"], balance_due=10498)
    for key, value in changes.items():
        setattr(row, key, value)
    restamp_order_message(message, row)
    assert message == order_message(row, lines, ["pay_1"], balance_due=10498)


def test_restamping_clears_a_confirm_time_the_row_no_longer_has() -> None:
    row, lines = _row(status="confirmed", confirmed_at=NOW), [_line()]
    message = order_message(row, lines)
    row.status, row.confirmed_at = "pending", None
    restamp_order_message(message, row)
    assert not message.HasField("confirm_time") and message == order_message(row, lines)
