"""Who may pay an order, and how much: the guard of "orders/..." payment targets
(``PaymentService.guard_targets``, registered by ``orders.wiring``).

The rules are those of reaching an order elsewhere (``OrderService``): secret keys reach
every order; a signed-in customer only their own, and another customer's order answers
ORDER_NOT_FOUND as GetOrder does, so order ids cannot be probed; a publishable key
reaches no order at all (the order RPCs refuse it with INSUFFICIENT_PERMISSIONS), so it
may not pay one either: a storefront pays its cart, which checkout turns into the order.

A payment may ask at most what the order still needs (:func:`unpaid`): a deposit or the
balance after an edit, never more than the total, so an order is not paid twice by two
payment attempts (a second card, a retry in another tab). The order's row is locked
while this is checked and the payment inserted, so two such payments are counted one
after the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal, customer_id_of
from rcommerce.domain.orders.errors import ORDER_ALREADY_CANCELLED, OrderError
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.orders.repository import not_found
from rcommerce.domain.payments.errors import PAYMENT_EXCEEDS_BALANCE, PaymentError
from rcommerce.domain.payments.models import PaymentRow
from rcommerce.errors import INSUFFICIENT_PERMISSIONS, invalid

__all__ = ["check_payable", "unpaid"]

_ORDER = (
    select(OrderRow.customer_id, OrderRow.status, OrderRow.currency, OrderRow.cancelled_at, OrderRow.total)
    .where(OrderRow.id == bindparam("order_id"))
    .with_for_update()
)
_PAYMENTS = select(
    PaymentRow.status,
    PaymentRow.amount,
    PaymentRow.amount_authorized,
    PaymentRow.amount_captured,
    PaymentRow.amount_refunded,
).where(PaymentRow.target == bindparam("target"))
#: Payments whose money may still arrive: counted against what the order needs.
_IN_FLIGHT = frozenset({"pending", "requires_action"})


def unpaid(total: int, payments: Iterable[tuple[str, int, int, int, int]]) -> int:
    """What an order of ``total`` still needs, given its payments' ``(status, amount,
    amount_authorized, amount_captured, amount_refunded)``: the total less what was
    captured and kept (net of refunds, as an order edit's balance counts it: a refund for
    a returned line, then an edit adding another, leaves the new line to pay), what is
    authorized and not yet captured, and what is still being paid (pending, or waiting
    for the customer's action until it expires)."""
    held = 0
    for status, amount, authorized, captured, refunded in payments:
        held += captured - refunded
        if status == "authorized":
            held += max(0, (authorized or amount) - captured)
        elif status in _IN_FLIGHT:
            held += amount
    return max(0, total - held)


async def check_payable(
    session: AsyncSession, order_id: str, principal: Principal, currency_code: str, amount: int
) -> None:
    """Raise unless ``principal`` may pay order ``order_id`` ``amount`` in
    ``currency_code``: permission first (without reading the order), then existence and
    ownership, then the order's state (a cancelled order is ORDER_ALREADY_CANCELLED),
    currency (the order's, else VALIDATION_FAILED: its payment status adds up amounts of
    one currency) and the amount (at most :func:`unpaid`, else PAYMENT_EXCEEDS_BALANCE);
    the order is read locked (until the caller's transaction ends), then its payments."""
    name = f"orders/{order_id}"
    caller = customer_id_of(principal)
    if not principal.is_staff and caller is None:
        raise OrderError(
            INSUFFICIENT_PERMISSIONS,
            f"Only secret keys and the order's customer may pay an order ({name}); a storefront pays its cart.",
            target=name,
        )
    # A missing order reads as None; a guest order's customer is "", nobody's id.
    order = (await session.execute(_ORDER, {"order_id": order_id})).first()
    if order is None or (not principal.is_staff and order.customer_id != caller):
        raise not_found(name)
    if order.status == "cancelled":
        cancelled = order.cancelled_at.isoformat() if order.cancelled_at else ""
        raise OrderError(
            ORDER_ALREADY_CANCELLED, f"Order {name} is cancelled; it takes no payment.", order=name,
            cancelTime=cancelled,
        )  # fmt: skip
    if currency_code != order.currency:
        raise invalid("currency_code", f"must be the currency of {name}, {order.currency}")
    payments = await session.execute(_PAYMENTS, {"target": name})
    left = unpaid(
        order.total,
        ((p.status, p.amount, p.amount_authorized, p.amount_captured, p.amount_refunded) for p in payments),
    )
    if amount > left:
        raise PaymentError(
            PAYMENT_EXCEEDS_BALANCE,
            f"Order {name} still needs {left} (minor units of {order.currency}); a payment of {amount} asks more.",
            order=name, amount=amount, total=order.total, unpaid=left,
        )  # fmt: skip
