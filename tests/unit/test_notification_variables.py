"""Template variables per event (spec C §3.3) from real event payloads: each payload is
made by the owning context's convert function and recorded with ``record_event``, exactly
as the outbox stores it, then rendered with the built-in templates."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rcommerce.domain.customers.convert import customer_to_proto
from rcommerce.domain.customers.directory import new_customer_row
from rcommerce.domain.fulfillment.convert import fulfillment_message, refund_message
from rcommerce.domain.fulfillment.models import FulfillmentRow, OrderRefundRow
from rcommerce.domain.inventory.convert import level_to_proto
from rcommerce.domain.orders.convert import order_message
from rcommerce.domain.orders.models import OrderLineRow, OrderRow
from rcommerce.domain.payments.convert import payment_message
from rcommerce.domain.payments.models import PaymentRow
from rcommerce.events.outbox import record_event
from rcommerce.gen.v1 import inventory_pb2
from rcommerce.notifications.service import event_variables
from rcommerce.notifications.templates import Templates
from rcommerce.notifications.variables import (
    Contact,
    Facts,
    Links,
    OrderFacts,
    Tracking,
    build_variables,
    builder_for,
    format_date,
)
from rcommerce.plugins.providers import Event

NOW = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
TEMPLATES = Templates(globals={"company_name": "ACME", "support_email": "help@acme.test"})
LINKS = Links("https://shop.example")


class _Outbox:
    """What ``record_event`` needs of a session: ``info``."""

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}


def _event(type_: str, subject: str, message: Any, **extra: Any) -> Event:
    outbox = _Outbox()
    recorded = record_event(outbox, type_, subject, message, NOW, **extra)  # type: ignore[arg-type]
    return Event(recorded.id, recorded.type, recorded.subject, dict(recorded.data), NOW)


def _order_row(**overrides: Any) -> OrderRow:
    values: dict[str, Any] = dict(
        id="ord_1", number="1001", number_value=1001, source="checkout", status="pending", payment_status="authorized",
        fulfillment_status="unfulfilled", region_id="reg_1", currency="USD", customer_id="cus_1",
        email="ada@example.com", cart_id="", vat_id="", prices_include_tax=False, reverse_charge_applied=False,
        tax_exempt=False, subtotal=9998, discount_total=1000, shipping_total=2499, shipping_discount=0, item_tax=787,
        shipping_tax=219, tax_total=1006, total=12503, shipping_quote_id="", shipping_provider="",
        shipping_service="", shipping_method="", coupon_codes=[], promotions=[], tax_lines=[], tags=[], extra={},
        customer_note="", ip_address="", fraud_score=0, fraud_recommendation="approve", fraud_reasons=[],
        fraud_provider_score=None, hold_reason="", cancel_reason="", cancel_note="", cancelled_by="",
        confirmed_at=None, cancelled_at=None, completed_at=None, revision=1, created_at=NOW, updated_at=NOW,
        shipping_address={"first_name": "Ada", "last_name": "Lovelace", "phone": "+14155550100",
                          "address1": "1 Main St", "city": "New York", "country_code": "US"},
        billing_address=None,
    )  # fmt: skip
    values.update(overrides)
    return OrderRow(**values)


def _line(quantity: int, line_id: str = "oli_1") -> OrderLineRow:
    return OrderLineRow(
        id=line_id, order_id="ord_1", position=0, product_id="prod_1", variant_id="var_1", title="Tee",
        variant_title="M", sku="TEE-M", quantity=quantity, unit_price=4999, original_unit_price=4999,
        price_list_id="", subtotal=4999 * quantity, discount=0, tax=0, total=4999 * quantity, tax_components=[],
        tax_category="", requires_shipping=True, quantity_fulfilled=0, quantity_returned=0, reservation_ids=[],
        source_line_id="", created_at=NOW,
    )  # fmt: skip


def _order_event(type_: str = "order.created", row: OrderRow | None = None, **extra: Any) -> Event:
    message = order_message(row or _order_row(), [_line(2)], ["pay_1"])
    return _event(type_, message.name, message, **extra)


def _order_facts() -> OrderFacts:
    return OrderFacts(
        number="1001", currency="USD", total=12503, item_count=2, email="ada@example.com", created_at=NOW,
        recipient=Contact("Ada Lovelace", "", "+14155550100"),
    )  # fmt: skip


def _variables(event: Event, facts: Facts) -> dict[str, Any]:
    return {**event_variables(event), **build_variables(event, facts)}


def test_order_created_gives_the_confirmation_variables() -> None:
    event = _order_event(orderNumber="1001", source="checkout")
    facts = Facts(customer=Contact("Ada Byron", "ada@example.com", "+14155550199"), links=LINKS)
    variables = _variables(event, facts)
    assert {k: variables[k] for k in ("customer_name", "order_number", "order_total", "item_count", "order_date")} == {
        "customer_name": "Ada Byron", "order_number": "1001", "order_total": "125.03 USD", "item_count": 2,
        "order_date": "Jan 15, 2026",
    }  # fmt: skip
    assert (variables["email"], variables["phone"], variables["currency"]) == (
        "ada@example.com",
        "+14155550199",
        "USD",
    )
    # The payload's own fields stay (lowerCamelCase, as existing rules use them).
    assert variables["number"] == "1001" and variables["event"]["type"] == "order.created"
    rendered = TEMPLATES.render("order_confirmation", variables)
    assert rendered.subject == "Order Confirmed: 1001"
    assert "We received 2 item(s) for a total of 125.03 USD." in rendered.text
    assert rendered.text.startswith("Hi Ada Byron,") and "<strong>125.03 USD</strong>" in rendered.html


def test_a_guest_order_falls_back_to_the_shipping_recipient() -> None:
    event = _order_event()
    variables = _variables(event, Facts(customer=Contact("", "ada@example.com", ""), links=LINKS))
    assert (variables["customer_name"], variables["phone"]) == ("Ada Lovelace", "+14155550100")
    nameless = _order_event(row=_order_row(shipping_address=None))
    assert _variables(nameless, Facts())["customer_name"] == "ada@example.com"
    assert _variables(nameless, Facts())["phone"] == ""


def test_order_cancelled_gives_reason_and_refund() -> None:
    row = _order_row(status="cancelled", cancel_reason="customer_request", cancel_note="changed mind", cancelled_at=NOW)
    variables = _variables(_order_event("order.cancelled", row), Facts(refunded=12503))
    assert (variables["cancellation_reason"], variables["refund_amount"], variables["order_date"]) == (
        "customer request (changed mind)",
        "125.03 USD",
        "Jan 15, 2026",
    )
    rendered = TEMPLATES.render("order_cancelled", variables)
    assert rendered.subject == "Order Cancelled: 1001"
    assert "was cancelled: customer request (changed mind)." in rendered.text and "Refund: 125.03 USD" in rendered.text


def test_order_refunded_gives_the_refunded_total() -> None:
    row = _order_row(status="refunded", payment_status="refunded")
    variables = _variables(_order_event("order.refunded", row), Facts(refunded=5000))
    assert variables["refund_amount"] == "50.00 USD"


def test_order_shipped_reads_tracking_from_the_latest_fulfilment() -> None:
    tracking = Tracking("1Z999AA10123456784", "UPS", "https://ups.example/track/1Z999AA10123456784")
    variables = _variables(_order_event("order.shipped", _order_row(status="shipped")), Facts(tracking=tracking))
    assert (variables["tracking_number"], variables["carrier"], variables["tracking_url"]) == (
        "1Z999AA10123456784", "UPS", "https://ups.example/track/1Z999AA10123456784",
    )  # fmt: skip
    rendered = TEMPLATES.render("order_shipped", variables)
    assert rendered.subject == "Your Order Has Shipped: 1001"
    assert "has shipped with UPS." in rendered.text and "Tracking number: 1Z999AA10123456784" in rendered.text


def test_fulfillment_shipped_gives_the_order_and_its_own_tracking() -> None:
    row = FulfillmentRow(
        id="ful_1", order_id="ord_1", location_id="sloc_default", status="shipped", tracking_number="JD0146",
        carrier="DHL", tracking_url="https://dhl.example/JD0146", cancel_reason="", shipped_at=NOW, delivered_at=None,
        cancelled_at=None, created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    message = fulfillment_message(row, [], "fulfilled")
    event = _event("fulfillment.shipped", message.name, message)
    variables = _variables(event, Facts(order=_order_facts(), tracking=Tracking("OLD", "UPS", "")))
    assert (variables["order_number"], variables["tracking_number"], variables["carrier"]) == ("1001", "JD0146", "DHL")
    assert variables["customer_name"] == "Ada Lovelace"
    assert TEMPLATES.render("order_shipped", variables).subject == "Your Order Has Shipped: 1001"
    # Without the order (deleted meanwhile) only the tracking is known.
    assert build_variables(event, Facts())["tracking_url"] == "https://dhl.example/JD0146"


def _payment(**overrides: Any) -> PaymentRow:
    values: dict[str, Any] = dict(
        id="pay_1", target="orders/ord_1", gateway="test", method_type="card", capture_method="automatic",
        currency="EUR", amount=8328, amount_authorized=8328, amount_captured=8328, amount_refunded=0,
        status="succeeded", status_before_dispute="", gateway_ref="ch_1", customer_id="cus_1",
        customer_email="max@example.com", action_type="", action_data={}, action_expires_at=None, error_code="",
        error_message="", method_details={"type": "card", "brand": "visa", "last4": "4242"}, provider_data={},
        transaction_id="", receipt_url="", lock_key="", locked_at=None, revision=1, created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    values.update(overrides)
    return PaymentRow(**values)


def test_payment_captured_gives_amount_method_and_date() -> None:
    message = payment_message(_payment(), [])
    event = _event("payment.captured", message.name, message)
    variables = _variables(event, Facts(order=_order_facts(), links=LINKS))
    assert (variables["amount"], variables["payment_method"], variables["payment_date"]) == (
        "83.28 EUR",
        "visa ending in 4242",
        "Jan 15, 2026",
    )
    assert (variables["order_number"], variables["customer_name"]) == ("1001", "Ada Lovelace")
    rendered = TEMPLATES.render("payment_successful", variables)
    assert rendered.subject == "Payment Confirmed: 1001"


def test_payment_failed_gives_the_error_and_a_retry_link() -> None:
    failed = _payment(status="failed", amount_captured=0, error_code="card_declined", error_message="Card declined.")
    message = payment_message(failed, [])
    variables = _variables(_event("payment.failed", message.name, message), Facts(order=_order_facts(), links=LINKS))
    assert (variables["error_message"], variables["retry_url"]) == (
        "Card declined.",
        "https://shop.example/orders/1001/pay",
    )
    assert TEMPLATES.render("payment_failed", variables).subject == "Payment Failed: 1001"
    # A payment for a cart (no order yet): no number, the orders page.
    cart = payment_message(_payment(target="carts/cart_1", status="failed"), [])
    alone = build_variables(_event("payment.failed", cart.name, cart), Facts(links=LINKS))
    assert (alone["order_number"], alone["retry_url"]) == ("", "https://shop.example/account/orders")


def test_refund_created_gives_this_refunds_amount() -> None:
    row = OrderRefundRow(
        id="ref_1", order_id="ord_1", idempotency_key="k", request_hash="h", status="succeeded", amount=2500,
        currency="USD", reason="damaged", note="", payments={"pay_1": 2500}, restock=False, location_id="",
        change_id="", created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    message = refund_message(row, [])
    event = _event("refund.created", message.name, message)
    variables = _variables(event, Facts(order=_order_facts(), refunded=7500, payment_method="card"))
    assert (variables["refund_amount"], variables["refund_method"], variables["processing_time"]) == (
        "25.00 USD", "card", "5-10 business days",
    )  # fmt: skip
    rendered = TEMPLATES.render("refund_processed", variables)
    assert rendered.subject == "Refund Processed: 1001"


def test_customer_created_gives_the_welcome_variables() -> None:
    row = new_customer_row("grace@example.com", NOW, is_guest=False)
    row.first_name, row.last_name, row.phone = "Grace", "Hopper", "+14155550111"
    message = customer_to_proto(row, ())
    variables = _variables(_event("customer.created", message.name, message), Facts(links=LINKS))
    assert {k: variables[k] for k in ("customer_name", "email", "phone", "login_url", "shop_url", "help_center_url")} == {
        "customer_name": "Grace Hopper", "email": "grace@example.com", "phone": "+14155550111",
        "login_url": "https://shop.example/account/login", "shop_url": "https://shop.example",
        "help_center_url": "https://shop.example/help",
    }  # fmt: skip
    assert TEMPLATES.render("welcome", variables).subject == "Welcome to ACME!"


def test_password_reset_keeps_the_link_the_event_carries() -> None:
    row = new_customer_row("grace@example.com", NOW, is_guest=False)
    message = customer_to_proto(row, ())
    event = _event(
        "customer.password_reset_requested", message.name, message, expires_in="60 minutes", customer_name="Grace"
    )
    event = Event(event.id, event.type, event.subject, {**event.data, "reset_url": "https://shop.example/r?t=1"}, NOW)
    variables = _variables(event, Facts(links=LINKS))
    assert (variables["customer_name"], variables["reset_url"], variables["expires_in"]) == (
        "Grace", "https://shop.example/r?t=1", "60 minutes",
    )  # fmt: skip
    assert "https://shop.example/r?t=1" in TEMPLATES.render("password_reset", variables).text


@pytest.mark.parametrize(
    ("available", "status", "critical", "reorder"),
    [(5, "critical", True, 95), (15, "low", False, 85), (0, "out_of_stock", True, 100)],
)
def test_stock_alerts_give_the_low_stock_variables(available: int, status: str, critical: bool, reorder: int) -> None:
    location = inventory_pb2.LocationLevel(location="stockLocations/sloc_default", on_hand=available, active=True)
    message = level_to_proto(
        product_id="prod_1", variant_id="var_1", sku="TEE-M", managed=True, policy="deny", threshold=20,
        status=status, locations=[location],
    )  # fmt: skip
    event = _event(f"inventory.{status}" if status != "critical" else "inventory.critical_stock", message.name, message)
    if status == "low":
        event = Event(event.id, "inventory.low_stock", event.subject, event.data, NOW)
    variables = _variables(event, Facts(product_name="Tee"))
    assert {k: variables[k] for k in ("product_name", "current_stock", "threshold", "reorder_quantity", "is_critical")} == {
        "product_name": "Tee (TEE-M)", "current_stock": available, "threshold": 20, "reorder_quantity": reorder,
        "is_critical": critical,
    }  # fmt: skip
    assert TEMPLATES.render("low_stock", variables).subject == "Low Stock Alert: Tee (TEE-M)"


def test_events_without_a_builder_keep_their_payload_only() -> None:
    assert builder_for("product.created") is None and builder_for("order.note_created") is not None
    event = Event("evt_1", "product.created", "products/p", {"object": {"title": "Tee"}}, NOW)
    assert build_variables(event, Facts()) == {}
    assert format_date(None) == ""
