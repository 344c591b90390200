"""Who may pay an order: the guard of "orders/..." payment targets
(``PaymentService.guard_targets``, registered by ``orders.wiring``).

The rules are those of reaching an order elsewhere (``OrderService``): secret keys reach
every order; a signed-in customer only their own, and another customer's order answers
ORDER_NOT_FOUND as GetOrder does, so order ids cannot be probed; a publishable key
reaches no order at all (the order RPCs refuse it with INSUFFICIENT_PERMISSIONS), so it
may not pay one either: a storefront pays its cart, which checkout turns into the order.
"""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal, customer_id_of
from rcommerce.domain.orders.errors import ORDER_ALREADY_CANCELLED, OrderError
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.orders.repository import not_found
from rcommerce.errors import INSUFFICIENT_PERMISSIONS, invalid

__all__ = ["check_payable"]

_ORDER = select(OrderRow.customer_id, OrderRow.status, OrderRow.currency, OrderRow.cancelled_at).where(
    OrderRow.id == bindparam("order_id")
)


async def check_payable(session: AsyncSession, order_id: str, principal: Principal, currency_code: str) -> None:
    """Raise unless ``principal`` may pay order ``order_id`` in ``currency_code``:
    permission first (without reading the order), then existence and ownership, then the
    order's state (a cancelled order is ORDER_ALREADY_CANCELLED) and currency (the
    order's, else VALIDATION_FAILED: its payment status adds up amounts of one currency);
    one read of the order."""
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
