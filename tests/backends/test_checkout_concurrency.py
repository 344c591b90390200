"""Checkout under concurrency, on every database (the must-show cases are about
PostgreSQL and MariaDB; SQLite serialises writers and passes the same assertions):

* 40 customers complete checkout at once for a variant with 10 in stock: exactly 10
  orders, 30 clear INSUFFICIENT_INVENTORY errors, every authorization of a failed
  checkout voided, stock never negative;
* the same checkout submitted 5 times at once: one order, one authorization, one capture.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from rcommerce.db import Database
from rcommerce.domain.inventory.models import InventoryLevelRow
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.payments.models import PaymentRow
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import checkout_pb2 as X
from tests.backends._checkout_world import World, as_customer, world

pytestmark = pytest.mark.backends

CUSTOMERS, STOCK = 40, 10


@pytest.fixture
async def w(db: Database) -> AsyncIterator[World]:
    async with world(db) as built:
        yield built


async def test_forty_customers_ten_in_stock(w: World, db: Database) -> None:
    variant = await w.variant(1500, stock=STOCK)
    variant_id = variant.rsplit("/", 1)[1]
    buyers = [as_customer(await w.customer()) for _ in range(CUSTOMERS)]
    carts = [(await w.cart(variant, principal=me, email=""))[0] for me in buyers]
    before = dict(w.gateway.calls)

    results = await asyncio.gather(
        *(w.complete(cart, principal=me, key=f"buy-{i}") for i, (cart, me) in enumerate(zip(carts, buyers, strict=True))),
        return_exceptions=True,
    )  # fmt: skip

    done = [r for r in results if isinstance(r, X.Checkout)]
    errors = [r for r in results if not isinstance(r, X.Checkout)]
    assert all(isinstance(e, DomainError) for e in errors), errors
    assert len(done) == STOCK and all(c.status == X.CHECKOUT_STATUS_COMPLETED for c in done)
    assert [e.reason.name for e in errors if isinstance(e, DomainError)] == ["INSUFFICIENT_INVENTORY"] * (
        CUSTOMERS - STOCK
    )
    assert all(e.reason.http_status == 422 and "available" in e.metadata for e in errors if isinstance(e, DomainError))
    async with db.read() as s:
        orders = await s.scalar(
            select(func.count())
            .select_from(OrderRow)
            .where(OrderRow.id.in_([c.order.removeprefix("orders/") for c in done]))
        )
        assert orders == STOCK
        failed_targets = [
            f"carts/{cart.removeprefix('carts/')}" for cart, r in zip(carts, results, strict=True) if r in errors
        ]
        left = list(await s.execute(select(PaymentRow.status).where(PaymentRow.target.in_(failed_targets))))
        paid = list(await s.scalars(select(PaymentRow.status).where(PaymentRow.target.in_([c.order for c in done]))))
        levels = list(await s.scalars(select(InventoryLevelRow).where(InventoryLevelRow.variant_id == variant_id)))
    # Every authorization of a failed checkout was voided; the rest never reached the gateway.
    assert all(status == "cancelled" for (status,) in left), left
    assert sorted(paid) == ["succeeded"] * STOCK
    assert sum(level.on_hand for level in levels) == STOCK
    assert sum(level.reserved for level in levels) == STOCK
    assert all(0 <= level.reserved <= level.on_hand for level in levels)
    async with db.read() as s:
        assert (await w.checkout._stock.availability(s, [variant_id]))[variant_id].available == 0
    calls = {k: w.gateway.calls[k] - before.get(k, 0) for k in ("initiate", "capture", "void")}
    assert calls["capture"] == STOCK
    assert calls["initiate"] == STOCK + len(left)
    assert calls["void"] == len(left)


async def test_double_submit_gives_one_order_and_one_capture(w: World, db: Database) -> None:
    variant = await w.variant(2000, stock=3)
    me = as_customer(await w.customer())
    cart, _ = await w.cart(variant, principal=me, email="")
    before = dict(w.gateway.calls)

    results = await asyncio.gather(
        *(w.complete(cart, principal=me, key="submit") for _ in range(5)), return_exceptions=True
    )

    orders = {r.order for r in results if isinstance(r, X.Checkout)}
    assert len(orders) == 1 and all(isinstance(r, X.Checkout) for r in results), results
    (order,) = orders
    async with db.read() as s:
        payments = list(await s.scalars(select(PaymentRow).where(PaymentRow.target.in_([cart, order]))))
        count = await s.scalar(
            select(func.count()).select_from(OrderRow).where(OrderRow.id == order.removeprefix("orders/"))
        )
    assert count == 1
    assert [(p.status, p.amount_captured) for p in payments] == [("succeeded", 3000)]
    assert w.gateway.calls["initiate"] - before.get("initiate", 0) == 1
    assert w.gateway.calls["capture"] - before.get("capture", 0) == 1
    # A sequential resubmit, even with another key, answers the same order.
    again = await w.complete(cart, principal=me, key="later")
    assert again.order == order
