"""The checkout fast paths change no behaviour, on every database.

- Order placement settles a new order's statuses in memory (no read-back) and takes the
  order number last: its events, status history and stored order must be exactly what
  the repository's own path (``OrderRepository.emit`` + ``refresh_statuses``) produces.
- The checkout's capture derives the order's payment status with Core reads and one
  ``UPDATE`` (``OrderRepository.refresh_from_payments``): the stored order, its events and
  status history must be what ``refresh_statuses`` on the locked order produces, also when
  the order has to be confirmed on the way.
- Carts read the products of their lines through the catalog cache: a catalog write
  (new generation) is seen by the next pricing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.memory import MemoryCache
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.catalog import repository as catalog
from rcommerce.domain.catalog._base import GENERATION_KEY
from rcommerce.domain.orders.errors import ORDER_NOT_FOUND, OrderError
from rcommerce.domain.orders.models import OrderRow, OrderStatusChangeRow
from rcommerce.domain.orders.placement import OrderPlacement
from rcommerce.domain.orders.repository import SYSTEM_ACTOR, OrderRepository
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import checkout_pb2 as X
from tests.backends._checkout_world import World, world

pytestmark = pytest.mark.backends

#: Fields that differ between two orders by construction.
_VOLATILE = {"name", "id", "number", "cart", "createTime", "updateTime", "lineItems", "payments", "email", "metadata"}


@pytest.fixture
async def w(db: Database) -> AsyncIterator[World]:
    async with world(db) as built:
        yield built


async def _order_trace(db: Database, order_id: str) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, ...]]]:
    """The order's events (type, object without volatile fields, extras) and its status history."""
    async with db.read() as s:
        events = (
            await s.scalars(
                select(OutboxEvent).where(OutboxEvent.subject == f"orders/{order_id}").order_by(OutboxEvent.seq)
            )
        ).all()
        history = (
            await s.scalars(
                select(OrderStatusChangeRow)
                .where(OrderStatusChangeRow.order_id == order_id)
                .order_by(OrderStatusChangeRow.created_at, OrderStatusChangeRow.id)
            )
        ).all()
    trace = []
    for event in events:
        data = dict(event.data)
        obj = {k: v for k, v in data.pop("object").items() if k not in _VOLATILE}
        obj["shipping"] = {k: v for k, v in obj.get("shipping", {}).items() if k != "quoteId"}
        data.pop("orderNumber", None)
        trace.append((event.type, {"object": obj, **data}))
    return trace, [(h.from_status, h.to_status, h.actor, h.reason) for h in history]


async def _checkout(w: World, variant: str) -> str:
    cart, token = await w.cart(variant, 2)
    done = await w.complete(cart, token)
    assert done.status == X.CHECKOUT_STATUS_COMPLETED
    return done.order.removeprefix("orders/")


async def test_fast_placement_matches_the_repository_path(
    w: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = await w.variant(2500, stock=10)
    fast = await _checkout(w, variant)
    monkeypatch.setattr(OrderPlacement, "_settle", lambda *args, **kwargs: None)
    slow = await _checkout(w, variant)
    fast_trace, slow_trace = await _order_trace(db, fast), await _order_trace(db, slow)
    assert [t for t, _ in fast_trace[0]] == [
        "order.created", "order.payment_authorized", "order.confirmed", "order.paid",
    ]  # fmt: skip
    assert fast_trace == slow_trace
    assert fast_trace[1] == [("pending", "confirmed", "system", "payment authorized")]
    async with db.read() as s:
        rows = {r.id: r for r in (await s.scalars(select(OrderRow).where(OrderRow.id.in_([fast, slow])))).all()}
    a, b = rows[fast], rows[slow]
    assert (a.status, a.payment_status, a.fulfillment_status, a.revision) == (
        b.status, b.payment_status, b.fulfillment_status, b.revision,
    ) == ("confirmed", "paid", "unfulfilled", 4)  # fmt: skip
    assert a.confirmed_at == b.confirmed_at is not None
    assert int(b.number) == int(a.number) + 1


async def _through_repository(
    self: OrderRepository, session: AsyncSession, order_id: str, *, actor: str = SYSTEM_ACTOR
) -> None:
    await self.refresh_statuses(session, await self.load(session, order_id, lock=True), actor=actor)


async def _stored(db: Database, *order_ids: str) -> list[tuple[Any, ...]]:
    async with db.read() as s:
        rows = {r.id: r for r in (await s.scalars(select(OrderRow).where(OrderRow.id.in_(order_ids)))).all()}
    return [
        (r.status, r.payment_status, r.fulfillment_status, r.revision, r.confirmed_at, r.updated_at, r.hold_reason)
        for r in (rows[oid] for oid in order_ids)
    ]


async def test_capture_refresh_matches_the_repository_path(
    w: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    variant = await w.variant(2500, stock=10)
    fast = await _checkout(w, variant)
    monkeypatch.setattr(OrderRepository, "refresh_from_payments", _through_repository)
    slow = await _checkout(w, variant)
    fast_trace, slow_trace = await _order_trace(db, fast), await _order_trace(db, slow)
    assert [t for t, _ in fast_trace[0]][-1] == "order.paid"
    assert fast_trace == slow_trace
    a, b = await _stored(db, fast, slow)
    assert a == b and a[:4] == ("confirmed", "paid", "unfulfilled", 4)


async def test_capture_refresh_confirms_a_pending_order_as_the_repository_does(w: World, db: Database) -> None:
    variant = await w.variant(2500, stock=10)
    fast, slow = await _checkout(w, variant), await _checkout(w, variant)
    async with db.transaction() as s:  # both back to pending, their payment status stale
        await s.execute(
            update(OrderRow)
            .where(OrderRow.id.in_([fast, slow]))
            .values(status="pending", payment_status="authorized", confirmed_at=None)
        )
    w.clock.advance(seconds=60)
    orders = OrderRepository(w.clock)
    async with db.transaction() as s:
        await orders.refresh_from_payments(s, fast, actor="staff")
    async with db.transaction() as s:
        await _through_repository(orders, s, slow, actor="staff")
    fast_trace, slow_trace = await _order_trace(db, fast), await _order_trace(db, slow)
    assert [t for t, _ in fast_trace[0]][-2:] == ["order.paid", "order.confirmed"]
    assert fast_trace == slow_trace
    assert fast_trace[1][-1] == ("pending", "confirmed", "staff", "payment paid")
    a, b = await _stored(db, fast, slow)
    assert a == b and a[:4] == ("confirmed", "paid", "unfulfilled", 6)
    assert a[5] == w.clock.now()


async def test_capture_refresh_of_a_missing_order_is_order_not_found(db: Database) -> None:
    async with db.transaction() as s:
        with pytest.raises(OrderError) as raised:
            await OrderRepository(FrozenClock(datetime(2026, 1, 1, tzinfo=UTC))).refresh_from_payments(s, "ord_missing")
    assert raised.value.reason is ORDER_NOT_FOUND


async def test_cart_pricing_sees_catalog_writes_through_the_cache(
    w: World, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = MemoryCache()
    w.carts._cache = cache  # as the application wires it
    loads: list[list[str]] = []
    real = catalog.load_products

    async def counting(session: Any, ids: Any) -> Any:
        loads.append(list(ids))
        return await real(session, ids)

    monkeypatch.setattr(catalog, "load_products", counting)
    variant = await w.variant(2500, stock=10)
    cart, _ = await w.cart(variant, 1)
    cart_id = cart.removeprefix("carts/")
    async with db.read() as s:
        first = await w.carts.price(s, cart_id)
        loads.clear()
        again = await w.carts.price(s, cart_id)
        assert loads == [] and again.lines == first.lines  # served from the cache
        await cache.incr(GENERATION_KEY)  # what every catalog write does after commit
        third = await w.carts.price(s, cart_id)
        assert len(loads) == 1 and third.lines == first.lines
