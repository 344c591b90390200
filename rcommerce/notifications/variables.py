"""Template variables per event: the spec's snake_case names (spec C §3.3) built from an
event's payload, plus the few facts the payload does not carry (read in the rule
consumer's transaction).

:func:`~rcommerce.notifications.service.event_variables` gives a template the fields of
``data.object`` as-is (proto3 JSON, lowerCamelCase) and ``event``; the builders here add
the names the built-in templates use. A builder's name wins over a payload field of the
same name. Events without a builder keep the payload fields only.

- ``order.*``: customer_name, email, phone, order_number, order_total, item_count,
  order_date, currency, cancellation_reason, refund_amount, tracking_number, carrier,
  tracking_url, estimated_delivery.
- ``fulfillment.shipped`` / ``fulfillment.delivered``: the order's, with this
  fulfilment's tracking.
- ``payment.*``: amount, payment_method, payment_date, error_message, retry_url,
  update_payment_url (+ the order's when the payment is for one).
- ``refund.created``: refund_amount, refund_method, processing_time, refund_reason
  (+ the order's).
- ``customer.*``: customer_name, email, phone, login_url, shop_url, help_center_url (the
  reset link comes with the password-reset event itself).
- ``inventory.low_stock`` / ``critical_stock`` / ``out_of_stock``: product_name,
  current_stock, threshold, reorder_quantity, is_critical.

Amounts are formatted with :func:`rcommerce.money.format_amount` ("125.03 USD"); dates as
"Jan 15, 2026". The builders are pure functions of the event and :class:`Facts`;
:func:`load_facts` reads the facts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.inventory.levels import recommended_reorder_quantity
from rcommerce.money import format_amount
from rcommerce.plugins.providers import Event

__all__ = [
    "BUILDERS",
    "Contact",
    "Facts",
    "Links",
    "OrderFacts",
    "Tracking",
    "build_variables",
    "builder_for",
    "format_date",
    "load_facts",
]

#: How long a refund takes to reach the buyer, as the refund e-mail says it.
PROCESSING_TIME = "5-10 business days"


@dataclass(frozen=True, slots=True)
class Links:
    """Storefront links the templates point to (``[notifications] shop_url``)."""

    shop_url: str = "http://localhost:3000"

    def url(self, path: str) -> str:
        return f"{self.shop_url.rstrip('/')}{path}"


@dataclass(frozen=True, slots=True)
class Contact:
    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Tracking:
    number: str = ""
    carrier: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """The order an event is about (or belongs to), as the templates need it."""

    number: str
    currency: str
    total: int
    item_count: int
    email: str
    created_at: datetime | None
    #: The shipping address's recipient.
    recipient: Contact = Contact()
    cancel_reason: str = ""
    cancel_note: str = ""


@dataclass(frozen=True, slots=True)
class Facts:
    """What the payload does not carry, read in the notification transaction."""

    #: The customer account the event is about (``None``: unknown or no account).
    customer: Contact | None = None
    #: The order, for events whose object is not the order itself.
    order: OrderFacts | None = None
    #: Sum refunded over the order's payments (minor units).
    refunded: int = 0
    #: How the order was paid ("card"...), for the refund e-mail.
    payment_method: str = ""
    #: The order's latest shipped fulfilment.
    tracking: Tracking | None = None
    #: Product title, for stock alerts.
    product_name: str = ""
    links: Links = field(default_factory=Links)


Builder = Callable[[Event, Facts], dict[str, Any]]


# -- payload helpers ---------------------------------------------------------------------


def _obj(event: Event) -> Mapping[str, Any]:
    obj = event.data.get("object")
    return obj if isinstance(obj, Mapping) else {}


def _int(value: Any) -> int:
    """proto3 JSON carries int64 as a string and omits zeros."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_date(value: datetime | None) -> str:
    """ "Jan 15, 2026" (spec C §3.3 ``order_date``); "" when unknown."""
    return value.strftime("%b %d, %Y") if value is not None else ""


def _id_after(name: str, collection: str) -> str:
    """``ord_1`` from "orders/ord_1" or "orders/ord_1/refunds/x"; "" otherwise."""
    parts = name.split("/")
    return parts[1] if len(parts) >= 2 and parts[0] == collection else ""


def _person(address: Any) -> Contact:
    """The recipient of an address (proto3 JSON or its stored form, either key style)."""
    if not isinstance(address, Mapping):
        return Contact()

    def get(camel: str, snake: str) -> str:
        return _str(address.get(camel)) or _str(address.get(snake))

    name = f"{get('firstName', 'first_name')} {get('lastName', 'last_name')}".strip()
    return Contact(name=name, phone=get("phone", "phone"))


def order_facts_of(obj: Mapping[str, Any]) -> OrderFacts:
    """The order facts of an ``Order`` message in proto3 JSON."""
    totals = obj.get("totals")
    return OrderFacts(
        number=_str(obj.get("number")), currency=_str(obj.get("currencyCode")),
        total=_int(totals.get("total")) if isinstance(totals, Mapping) else 0, item_count=_int(obj.get("itemCount")),
        email=_str(obj.get("email")), created_at=_time(obj.get("createTime")),
        recipient=_person(obj.get("shippingAddress")), cancel_reason=_str(obj.get("cancelReason")),
        cancel_note=_str(obj.get("cancelNote")),
    )  # fmt: skip


# -- builders ----------------------------------------------------------------------------


def _who(facts: Facts, order: OrderFacts | None, email: str = "") -> dict[str, Any]:
    """customer_name, email and phone: the account's, else the order's recipient's, else
    the e-mail address."""
    customer = facts.customer or Contact()
    recipient = order.recipient if order is not None else Contact()
    mail = (order.email if order is not None else "") or email or customer.email
    name = customer.name or recipient.name or mail
    return {"customer_name": name, "email": mail, "phone": customer.phone or recipient.phone}


def _order_core(order: OrderFacts, facts: Facts) -> dict[str, Any]:
    tracking = facts.tracking or Tracking()
    currency = order.currency
    reason = order.cancel_reason.replace("_", " ")
    return {
        **_who(facts, order),
        "order_number": order.number,
        "order_total": format_amount(order.total, currency) if currency else str(order.total),
        "item_count": order.item_count,
        "order_date": format_date(order.created_at),
        "currency": currency,
        "cancellation_reason": f"{reason} ({order.cancel_note})" if reason and order.cancel_note else reason,
        "refund_amount": format_amount(facts.refunded, currency) if currency else str(facts.refunded),
        "tracking_number": tracking.number,
        "carrier": tracking.carrier,
        "tracking_url": tracking.url,
        "estimated_delivery": "",
    }


def order_variables(event: Event, facts: Facts) -> dict[str, Any]:
    """``order.*``: the object is the order."""
    return _order_core(order_facts_of(_obj(event)), facts)


def fulfillment_variables(event: Event, facts: Facts) -> dict[str, Any]:
    """``fulfillment.shipped`` / ``.delivered``: the order's variables, tracking from the
    fulfilment itself."""
    obj = _obj(event)
    tracking = Tracking(_str(obj.get("trackingNumber")), _str(obj.get("carrier")), _str(obj.get("trackingUrl")))
    if facts.order is None:
        return {"tracking_number": tracking.number, "carrier": tracking.carrier, "tracking_url": tracking.url}
    return _order_core(facts.order, replace(facts, tracking=tracking))


def payment_variables(event: Event, facts: Facts) -> dict[str, Any]:
    """``payment.*``: amount, method, date, error; the order's variables when the payment
    is for an order."""
    obj = _obj(event)
    currency = _str(obj.get("currencyCode"))
    found = obj.get("method")
    method: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    kind, brand, last4 = _str(method.get("type")), _str(method.get("brand")), _str(method.get("last4"))
    described = f"{brand or kind} ending in {last4}" if last4 else (brand or kind or _str(obj.get("methodType")))
    out = _order_core(facts.order, facts) if facts.order is not None else _who(facts, None)
    number = facts.order.number if facts.order is not None else ""
    out.update(
        amount=format_amount(_int(obj.get("amount")), currency) if currency else str(_int(obj.get("amount"))),
        payment_method=described,
        payment_date=format_date(_time(obj.get("updateTime")) or event.created_at),
        error_message=_str(obj.get("errorMessage")),
        retry_url=facts.links.url(f"/orders/{number}/pay" if number else "/account/orders"),
        update_payment_url=facts.links.url("/account/payment-methods"),
    )
    out.setdefault("order_number", number)
    return out


def refund_variables(event: Event, facts: Facts) -> dict[str, Any]:
    """``refund.created``: this refund's amount (not the order's running total)."""
    obj = _obj(event)
    currency = _str(obj.get("currencyCode"))
    out = _order_core(facts.order, facts) if facts.order is not None else _who(facts, None)
    out.setdefault("order_number", "")
    out.update(
        refund_amount=format_amount(_int(obj.get("amount")), currency) if currency else str(_int(obj.get("amount"))),
        refund_method=facts.payment_method or "the original payment method",
        processing_time=PROCESSING_TIME,
        refund_reason=_str(obj.get("reason")),
    )
    return out


def customer_variables(event: Event, facts: Facts) -> dict[str, Any]:
    """``customer.*``: the customer's name and contacts and the storefront links. The
    password-reset event already carries customer_name, reset_url and expires_in."""
    obj = _obj(event)
    known = facts.customer or Contact()
    name = f"{_str(obj.get('firstName'))} {_str(obj.get('lastName'))}".strip() or known.name
    email = _str(obj.get("email")) or known.email
    out: dict[str, Any] = {
        "customer_name": name or email,
        "email": email,
        "phone": _str(obj.get("phone")) or known.phone,
        "login_url": facts.links.url("/account/login"),
        "shop_url": facts.links.shop_url,
        "help_center_url": facts.links.url("/help"),
    }
    if isinstance(event.data.get("customer_name"), str) and event.data["customer_name"]:
        out["customer_name"] = event.data["customer_name"]
    return out


def stock_variables(event: Event, facts: Facts) -> dict[str, Any]:
    """``inventory.low_stock`` / ``critical_stock`` / ``out_of_stock``: the variant's
    level (an ``InventoryLevel``)."""
    obj = _obj(event)
    available, threshold = max(0, _int(obj.get("available"))), _int(obj.get("lowStockThreshold"))
    status = _str(obj.get("stockStatus"))
    sku = _str(obj.get("sku"))
    name = facts.product_name or sku or _str(obj.get("variant"))
    return {
        "product_name": f"{facts.product_name} ({sku})" if facts.product_name and sku else name,
        "current_stock": available,
        "threshold": threshold,
        "reorder_quantity": recommended_reorder_quantity(available, threshold),
        "is_critical": status in ("STOCK_STATUS_CRITICAL", "STOCK_STATUS_OUT_OF_STOCK"),
    }


#: Event type (exact) or resource ("order" for every ``order.*``) -> builder.
BUILDERS: dict[str, Builder] = {
    "order": order_variables,
    "fulfillment.shipped": fulfillment_variables,
    "fulfillment.delivered": fulfillment_variables,
    "payment": payment_variables,
    "refund.created": refund_variables,
    "customer": customer_variables,
    "inventory.low_stock": stock_variables,
    "inventory.critical_stock": stock_variables,
    "inventory.out_of_stock": stock_variables,
}


def builder_for(event_type: str) -> Builder | None:
    """The builder of an exact type first, then of its resource."""
    return BUILDERS.get(event_type) or BUILDERS.get(event_type.partition(".")[0])


def build_variables(event: Event, facts: Facts) -> dict[str, Any]:
    """The spec variables of ``event`` ({} for events without a builder)."""
    builder = builder_for(event.type)
    return builder(event, facts) if builder is not None else {}


# -- facts -------------------------------------------------------------------------------


def _order_id_of(event: Event) -> str:
    """The order an event belongs to: its subject, or a payment's target."""
    if found := _id_after(event.subject, "orders"):
        return found
    return _id_after(_str(_obj(event).get("target")), "orders")


def _customer_id_of(event: Event) -> str:
    if found := _id_after(event.subject, "customers"):
        return found
    obj = _obj(event)
    return _id_after(_str(obj.get("customer")), "customers") or _str(obj.get("customerId"))


async def load_facts(session: AsyncSession, event: Event, links: Links | None = None) -> Facts:
    """Read what :data:`BUILDERS` need for ``event`` in ``session`` (nothing for events
    without a builder)."""
    # Imported here: the notification layer must not import every context at load time.
    from rcommerce.domain.catalog.models import ProductRow
    from rcommerce.domain.customers.models import CustomerRow
    from rcommerce.domain.fulfillment.models import FulfillmentRow
    from rcommerce.domain.orders.models import OrderLineRow, OrderRow
    from rcommerce.domain.payments.models import PaymentRow

    links = links or Links()
    if builder_for(event.type) is None:
        return Facts(links=links)
    if event.type.startswith("inventory."):
        product_id = _id_after(_str(_obj(event).get("product")), "products")
        product = await session.get(ProductRow, product_id) if product_id else None
        return Facts(product_name=product.title if product is not None else "", links=links)

    order_id, customer_id = _order_id_of(event), _customer_id_of(event)
    order_row = await session.get(OrderRow, order_id) if order_id else None
    order: OrderFacts | None = None
    refunded, method, tracking = 0, "", None
    if order_row is not None:
        customer_id = customer_id or order_row.customer_id
        count = await session.scalar(
            select(func.coalesce(func.sum(OrderLineRow.quantity), 0)).where(OrderLineRow.order_id == order_row.id)
        )
        recipient = _person(order_row.shipping_address)
        order = OrderFacts(
            number=order_row.number, currency=order_row.currency, total=order_row.total, item_count=int(count or 0),
            email=order_row.email, created_at=order_row.created_at, recipient=recipient,
            cancel_reason=order_row.cancel_reason, cancel_note=order_row.cancel_note,
        )  # fmt: skip
        payments = (
            await session.scalars(select(PaymentRow).where(PaymentRow.target == f"orders/{order_row.id}"))
        ).all()
        refunded = sum(p.amount_refunded for p in payments)
        method = next((p.method_type for p in payments if p.method_type), "")
        shipped = await session.scalars(
            select(FulfillmentRow)
            .where(FulfillmentRow.order_id == order_row.id, FulfillmentRow.shipped_at.is_not(None))
            .order_by(FulfillmentRow.shipped_at.desc(), FulfillmentRow.id.desc())
            .limit(1)
        )
        latest = shipped.first()
        if latest is not None:
            tracking = Tracking(latest.tracking_number, latest.carrier, latest.tracking_url)
    customer: Contact | None = None
    if customer_id:
        row = await session.get(CustomerRow, customer_id)
        if row is not None:
            customer = Contact(f"{row.first_name} {row.last_name}".strip(), row.email, row.phone)
    return Facts(
        customer=customer, order=order, refunded=refunded, payment_method=method.replace("_", " "),
        tracking=tracking, links=links,
    )  # fmt: skip
