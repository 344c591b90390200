"""Carts and their lines read with prebuilt Core statements, as plain values, and a
cart's conversion written the same way (checkout's hot path).

The pricing read path (every cart command's answer, checkout) only reads the cart and
its lines; loading them as ORM objects costs several times what the statements do.
:class:`CartState` and :class:`LineState` hold what a Core read returns. Commands that
change a cart keep loading it as a ``CartRow`` and hand that to pricing: both are a
:data:`CartView`. A Core read does not see changes still pending in the session, so
callers flush before they read the lines here.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.carts.models import CONVERTED, CartLineRow, CartRow

__all__ = ["CartState", "CartView", "LineState", "load_cart", "load_lines", "mark_converted"]


@dataclass(frozen=True, slots=True)
class CartState:
    """A ``carts`` row as read (same attribute names as ``CartRow``)."""

    id: str
    region_id: str
    currency_code: str
    customer_id: str | None
    token_hash: str | None
    email: str
    shipping_address: dict[str, Any] | None
    billing_address: dict[str, Any] | None
    vat_id: str
    coupon_codes: list[str]
    shipping_quote_id: str | None
    status: str
    converted_to: str | None
    expires_at: datetime
    version: int
    created_at: datetime
    updated_at: datetime


#: What pricing, access checks and the cart message read of a cart.
CartView = CartRow | CartState


@dataclass(frozen=True, slots=True)
class LineState:
    """The columns of a ``cart_lines`` row that pricing and the cart message read."""

    id: str
    product_id: str
    variant_id: str
    title: str
    variant_title: str
    sku: str
    quantity: int
    unit_price: int
    original_unit_price: int
    price_list_id: str
    requires_shipping: bool


_CARTS = cast(Table, CartRow.__table__)
_LINES = cast(Table, CartLineRow.__table__)
_CART = select(*(_CARTS.c[f.name] for f in fields(CartState))).where(_CARTS.c.id == bindparam("cart_id"))
_CART_FOR_UPDATE = _CART.with_for_update()
_CART_LINES = (
    select(*(_LINES.c[f.name] for f in fields(LineState)))
    .where(_LINES.c.cart_id == bindparam("cart_id"))
    .order_by(_LINES.c.created_at, _LINES.c.id)
)
_CONVERT = (
    update(_CARTS)
    .where(_CARTS.c.id == bindparam("cart_id"))
    .values(
        status=CONVERTED,
        converted_to=bindparam("converted_to"),
        version=bindparam("version"),
        updated_at=bindparam("updated_at"),
    )
)


async def load_cart(session: AsyncSession, cart_id: str, *, lock: bool = False) -> CartState | None:
    """The cart, or None; ``lock``: SELECT ... FOR UPDATE."""
    row = (await session.execute(_CART_FOR_UPDATE if lock else _CART, {"cart_id": cart_id})).first()
    return None if row is None else CartState(*row)


async def load_lines(session: AsyncSession, cart_id: str) -> list[LineState]:
    """The cart's lines in the order they were added."""
    return [LineState(*row) for row in await session.execute(_CART_LINES, {"cart_id": cart_id})]


async def mark_converted(session: AsyncSession, cart: CartState, converted_to: str, now: datetime) -> None:
    """The cart (read locked in this transaction) became ``converted_to``: status
    converted, one version more."""
    await session.execute(
        _CONVERT, {"cart_id": cart.id, "converted_to": converted_to, "version": cart.version + 1, "updated_at": now}
    )
