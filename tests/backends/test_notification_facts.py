"""The facts the template variables read in the notification transaction (the customer,
the order of a payment/refund/fulfilment, the refunded total, the latest tracking, a
product's title), on every database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest

from rcommerce.cache.memory import MemoryCache
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.catalog.service import CatalogService
from rcommerce.domain.customers.directory import new_customer_row
from rcommerce.domain.fulfillment.models import FulfillmentRow
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1.common_pb2 import Money
from rcommerce.notifications.variables import Links, build_variables, load_facts
from rcommerce.pagination import PageTokens
from rcommerce.plugins.providers import Event
from tests.unit.test_notification_variables import NOW, _line, _order_row, _payment

pytestmark = pytest.mark.backends

LINKS = Links("https://shop.example")


def _tag() -> str:
    return uuid.uuid4().hex[:12].upper()


def _event(type_: str, subject: str, obj: dict[str, object]) -> Event:
    return Event(f"evt_{_tag()}", type_, subject, {"object": obj}, NOW)


def _fulfillment(order_id: str, tracking: str, shipped_minutes: int | None) -> FulfillmentRow:
    shipped = NOW + timedelta(minutes=shipped_minutes) if shipped_minutes is not None else None
    return FulfillmentRow(
        id=f"ful_{_tag()}", order_id=order_id, location_id="sloc_default", status="shipped" if shipped else "pending",
        tracking_number=tracking, carrier="UPS", tracking_url=f"https://ups.example/{tracking}", cancel_reason="",
        shipped_at=shipped, delivered_at=None, cancelled_at=None, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


@dataclass
class Placed:
    order_id: str
    number: str
    customer_id: str
    email: str


async def _placed(db: Database) -> Placed:
    """A customer with a phone and their order of 2 + 1 units (125.03 USD), paid by two
    payments of which 30.00 and 20.00 were refunded, with three fulfilments: pending,
    shipped ("TRK-1") and shipped later ("TRK-2")."""
    t = _tag()
    customer = new_customer_row(f"grace-{t.lower()}@example.com", NOW, is_guest=False)
    customer.first_name, customer.last_name, customer.phone = "Grace", "Hopper", "+14155550111"
    order = _order_row(
        id=f"ord_{t}", number=f"N{t[:10]}", number_value=uuid.uuid4().int % 10**12, customer_id=customer.id,
        email=customer.email,
    )  # fmt: skip
    lines = [_line(2, f"oli_{t}A"), _line(1, f"oli_{t}B")]
    for line in lines:
        line.order_id = order.id
    payments = [
        _payment(id=f"pay_{t}A", target=f"orders/{order.id}", currency="USD", amount_refunded=3000),
        _payment(id=f"pay_{t}B", target=f"orders/{order.id}", currency="USD", amount_refunded=2000),
    ]
    async with db.transaction() as s:
        s.add_all([customer, order])
        await s.flush()
        s.add_all([*lines, *payments])
        s.add_all(
            [_fulfillment(order.id, "", None), _fulfillment(order.id, "TRK-1", 1), _fulfillment(order.id, "TRK-2", 5)]
        )
    return Placed(order.id, order.number, customer.id, customer.email)


async def test_order_events_read_the_customer_refunds_and_tracking(db: Database) -> None:
    placed = await _placed(db)
    obj = {"name": f"orders/{placed.order_id}", "number": placed.number, "currencyCode": "USD",
           "customer": f"customers/{placed.customer_id}", "email": placed.email, "itemCount": 3,
           "totals": {"total": "12503"}, "cancelReason": "customer_request"}  # fmt: skip
    event = _event("order.shipped", obj["name"], obj)  # type: ignore[arg-type]
    async with db.read() as s:
        facts = await load_facts(s, event, LINKS)
    variables = build_variables(event, facts)
    assert (variables["customer_name"], variables["phone"], variables["email"]) == (
        "Grace Hopper", "+14155550111", placed.email,
    )  # fmt: skip
    assert (variables["order_total"], variables["item_count"], variables["refund_amount"]) == (
        "125.03 USD", 3, "50.00 USD",
    )  # fmt: skip
    assert (variables["tracking_number"], variables["tracking_url"]) == ("TRK-2", "https://ups.example/TRK-2")


async def test_payment_refund_and_fulfillment_events_read_their_order(db: Database) -> None:
    placed = await _placed(db)
    payment = _event("payment.captured", f"payments/pay_{_tag()}",
                     {"target": f"orders/{placed.order_id}", "amount": "12503", "currencyCode": "USD"})  # fmt: skip
    refund = _event("refund.created", f"orders/{placed.order_id}/refunds/ref_1",
                    {"amount": "3000", "currencyCode": "USD", "reason": "damaged"})  # fmt: skip
    shipped = _event("fulfillment.shipped", f"orders/{placed.order_id}/fulfillments/ful_1",
                     {"trackingNumber": "TRK-9", "carrier": "DHL"})  # fmt: skip
    async with db.read() as s:
        found = {e.type: build_variables(e, await load_facts(s, e, LINKS)) for e in (payment, refund, shipped)}
    for variables in found.values():
        assert (variables["order_number"], variables["customer_name"], variables["item_count"]) == (
            placed.number, "Grace Hopper", 3,
        )  # fmt: skip
    assert (found["payment.captured"]["amount"], found["payment.captured"]["retry_url"]) == (
        "125.03 USD", f"https://shop.example/orders/{placed.number}/pay",
    )  # fmt: skip
    assert (found["refund.created"]["refund_amount"], found["refund.created"]["refund_method"]) == ("30.00 USD", "card")
    assert (found["fulfillment.shipped"]["tracking_number"], found["fulfillment.shipped"]["carrier"]) == (
        "TRK-9",
        "DHL",
    )


async def test_customer_and_stock_events(db: Database) -> None:
    placed = await _placed(db)
    customer = _event("customer.updated", f"customers/{placed.customer_id}", {"email": placed.email})
    catalog = CatalogService(db, MemoryCache(), FrozenClock(NOW), PageTokens(b"notify-test"))
    sku = f"NTF-{_tag()}"
    product = await catalog.create_product(
        C.Product(title="Merino Scarf", variants=[C.Variant(sku=sku, prices=[Money(currency_code="USD", amount=100)])]),
        "",
    )
    level = {"product": product.name, "sku": sku, "available": "5", "lowStockThreshold": "20",
             "stockStatus": "STOCK_STATUS_CRITICAL"}  # fmt: skip
    alert = _event("inventory.critical_stock", f"{product.variants[0].name}/inventory", level)
    unknown = _event("product.created", product.name, {"title": "Merino Scarf"})
    async with db.read() as s:
        about_customer = build_variables(customer, await load_facts(s, customer, LINKS))
        about_stock = build_variables(alert, await load_facts(s, alert, LINKS))
        facts = await load_facts(s, unknown, LINKS)
    assert (about_customer["phone"], about_customer["login_url"]) == (
        "+14155550111",
        "https://shop.example/account/login",
    )
    assert (about_stock["product_name"], about_stock["reorder_quantity"], about_stock["is_critical"]) == (
        f"Merino Scarf ({sku})", 95, True,
    )  # fmt: skip
    assert facts.order is None and facts.customer is None and build_variables(unknown, facts) == {}
