"""Availability and reservations against every database, including the concurrency proof:
50 concurrent reservations of one unit against 10 on hand reserve exactly 10."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from rcommerce.clock import FrozenClock
from rcommerce.config import DatabaseSettings
from rcommerce.db import Database
from rcommerce.domain.catalog.models import VariantRow
from rcommerce.domain.inventory._store import DEFAULT_LOCATION_ID
from rcommerce.domain.inventory.errors import INSUFFICIENT_INVENTORY, RESERVATION_EXPIRED, RESERVATION_NOT_FOUND
from rcommerce.domain.inventory.models import InventoryLevelRow, ReservationRow, StockMovementRow
from rcommerce.domain.inventory.stock import Stock
from rcommerce.errors import DomainError
from rcommerce.events.outbox import OutboxEvent
from tests.backends._inventory_data import T0, make_variant


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def stock(clock: FrozenClock) -> Stock:
    return Stock(clock, low_stock_threshold=20, reservation_timeout_minutes=30)


async def _level(db: Database, vid: str, location: str = DEFAULT_LOCATION_ID) -> tuple[int, int]:
    async with db.read() as s:
        row = (await s.execute(select(InventoryLevelRow.on_hand, InventoryLevelRow.reserved).where(
            InventoryLevelRow.variant_id == vid, InventoryLevelRow.location_id == location))).one()  # fmt: skip
        return int(row[0]), int(row[1])


async def _events(db: Database, subject_part: str) -> list[str]:
    async with db.read() as s:
        rows = await s.execute(
            select(OutboxEvent.type).where(OutboxEvent.subject.contains(subject_part)).order_by(OutboxEvent.seq)
        )
        return [r[0] for r in rows]


async def test_availability_of_a_new_variant_is_its_catalog_quantity(db: Database, stock: Stock) -> None:
    _, vid = await make_variant(db, quantity=7)
    _, untracked = await make_variant(db, quantity=0, managed=False)
    async with db.read() as s:
        found = await stock.availability(s, [vid, untracked, "var_01JAAAAAAAAAAAAAAAAAAAAAAA"])
    assert found[vid].available == 7 and found[vid].managed and found[vid].policy == "deny"
    assert found[vid].can_sell(7) and not found[vid].can_sell(8)
    assert not found[untracked].managed and found[untracked].can_sell(1000)
    assert "var_01JAAAAAAAAAAAAAAAAAAAAAAA" not in found


async def test_reserve_holds_units_and_refuses_more_than_available(db: Database, stock: Stock) -> None:
    _, vid = await make_variant(db, quantity=10)
    async with db.transaction() as s:
        ids = await stock.reserve(s, variant_id=vid, quantity=4, reference="orders/ord_1")
    assert len(ids) == 1 and ids[0].startswith("rsv_")
    assert await _level(db, vid) == (10, 4)
    with pytest.raises(DomainError) as caught:
        async with db.transaction() as s:
            await stock.reserve(s, variant_id=vid, quantity=7, reference="orders/ord_2")
    assert caught.value.reason is INSUFFICIENT_INVENTORY
    assert caught.value.metadata["requested"] == "7"
    assert caught.value.metadata["available"] == "6"
    assert caught.value.metadata["inventoryPolicy"] == "deny"
    assert await _level(db, vid) == (10, 4)
    async with db.read() as s:
        assert (await stock.availability(s, [vid]))[vid].available == 6
        # The opening stock is in the ledger.
        moves = (await s.scalars(select(StockMovementRow).where(StockMovementRow.variant_id == vid))).all()
        assert [(m.movement_type, m.reason, m.quantity, m.quantity_before, m.quantity_after) for m in moves] == [
            ("set", "initial", 10, 0, 10)
        ]
    assert "inventory.reserved" in await _events(db, ids[0])


async def test_policy_continue_reserves_beyond_stock(db: Database, stock: Stock) -> None:
    _, vid = await make_variant(db, quantity=2, policy="continue")
    async with db.transaction() as s:
        await stock.reserve(s, variant_id=vid, quantity=5, reference="orders/ord_b")
    assert await _level(db, vid) == (2, 5)
    async with db.read() as s:
        found = (await stock.availability(s, [vid]))[vid]
    assert found.available == 0 and found.can_sell(100)


async def test_release_and_convert(db: Database, stock: Stock) -> None:
    _, vid = await make_variant(db, quantity=10)
    async with db.transaction() as s:
        [first] = await stock.reserve(s, variant_id=vid, quantity=3, reference="orders/ord_r")
        [second] = await stock.reserve(s, variant_id=vid, quantity=5, reference="orders/ord_c")
    async with db.transaction() as s:
        await stock.release(s, first, "order_cancelled")
    assert await _level(db, vid) == (10, 5)
    with pytest.raises(DomainError) as caught:
        async with db.transaction() as s:
            await stock.release(s, first, "manual_release")
    assert caught.value.reason is RESERVATION_EXPIRED and caught.value.metadata["status"] == "released"
    async with db.transaction() as s:
        await stock.convert(s, second, 2)
    assert await _level(db, vid) == (8, 3)
    async with db.transaction() as s:
        await stock.convert(s, second)
    assert await _level(db, vid) == (5, 0)
    async with db.read() as s:
        row = await s.get(ReservationRow, second)
        assert row is not None and (row.status, row.quantity, row.converted_quantity) == ("converted", 0, 5)
        assert await s.scalar(select(VariantRow.inventory_quantity).where(VariantRow.id == vid)) == 5
        sales = (
            await s.scalars(
                select(StockMovementRow)
                .where(StockMovementRow.variant_id == vid, StockMovementRow.movement_type == "sale")
                .order_by(StockMovementRow.quantity_before.desc())
            )
        ).all()
        assert [(m.quantity, m.quantity_before, m.quantity_after) for m in sales] == [(-2, 10, 8), (-3, 8, 5)]
    with pytest.raises(DomainError) as missing:
        async with db.transaction() as s:
            await stock.release(s, "rsv_01JAAAAAAAAAAAAAAAAAAAAAAA", "manual_release")
    assert missing.value.reason is RESERVATION_NOT_FOUND


async def test_expiry_sweep_frees_lapsed_reservations(db: Database, stock: Stock, clock: FrozenClock) -> None:
    _, vid = await make_variant(db, quantity=10)
    async with db.transaction() as s:
        [lapsing] = await stock.reserve(
            s, variant_id=vid, quantity=4, reference="carts/c1", expires_at=T0 + timedelta(minutes=30)
        )
        await stock.reserve(s, variant_id=vid, quantity=1, reference="orders/ord_keep")
    clock.advance(minutes=29)
    async with db.transaction() as s:
        assert await stock.expire_due(s) == 0
    clock.advance(minutes=1)
    async with db.transaction() as s:
        assert await stock.expire_due(s) >= 1
    assert await _level(db, vid) == (10, 1)
    async with db.read() as s:
        row = await s.get(ReservationRow, lapsing)
        assert row is not None and (row.status, row.reason) == ("expired", "order_expired")
    assert "inventory.reservation_expired" in await _events(db, lapsing)


async def test_low_stock_events_fire_on_level_changes_only(db: Database, stock: Stock) -> None:
    _, vid = await make_variant(db, quantity=20)
    async with db.transaction() as s:
        await stock.reserve(s, variant_id=vid, quantity=5, reference="orders/a")  # 15: low
        await stock.reserve(s, variant_id=vid, quantity=5, reference="orders/b")  # 10: still low
        await stock.reserve(s, variant_id=vid, quantity=1, reference="orders/c")  # 9: critical
        ids = await stock.reserve(s, variant_id=vid, quantity=9, reference="orders/d")  # 0: out
    async with db.transaction() as s:
        await stock.release(s, ids[0], "order_cancelled")  # 9: back in stock, critical
    assert await _events(db, f"{vid}/inventory") == [
        "inventory.low_stock", "inventory.critical_stock", "inventory.out_of_stock",
        "inventory.back_in_stock", "inventory.critical_stock",
    ]  # fmt: skip


@asynccontextmanager
async def _concurrent_db(db: Database) -> AsyncIterator[Database]:
    """A second engine with a pool wide enough for 50 connections at once."""
    settings = DatabaseSettings(url=db.settings.url, pool_size=25, max_overflow=25)
    wide = Database(settings)
    try:
        yield wide
    finally:
        await wide.dispose()


async def test_fifty_concurrent_reservations_against_ten_units_reserve_exactly_ten(db: Database, stock: Stock) -> None:
    _, vid = await make_variant(db, quantity=10)
    async with db.transaction() as s:  # materialise the level before the race
        await stock.reserve(s, variant_id=vid, quantity=1, reference="warmup")
    async with db.transaction() as s:
        [warm] = (await s.scalars(select(ReservationRow.id).where(ReservationRow.variant_id == vid))).all()
        await stock.release(s, warm, "manual_release")
    start = asyncio.Event()

    async def one(wide: Database, i: int) -> str:
        await start.wait()
        try:
            async with wide.transaction() as s:
                await stock.reserve(s, variant_id=vid, quantity=1, reference=f"orders/race-{i}")
        except DomainError as exc:
            return exc.reason.name
        return "ok"

    async with _concurrent_db(db) as wide:
        tasks = [asyncio.create_task(one(wide, i)) for i in range(50)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
    assert results.count("ok") == 10
    assert results.count(INSUFFICIENT_INVENTORY.name) == 40
    assert await _level(db, vid) == (10, 10)
    async with db.read() as s:
        active = await s.scalar(
            select(func.sum(ReservationRow.quantity)).where(
                ReservationRow.variant_id == vid, ReservationRow.status == "active"
            )
        )
        assert active == 10
        assert (await stock.availability(s, [vid]))[vid].available == 0


async def test_concurrent_first_reservations_materialise_the_level_once(db: Database, stock: Stock) -> None:
    _, vid = await make_variant(db, quantity=5)
    start = asyncio.Event()

    async def one(wide: Database, i: int) -> str:
        await start.wait()
        try:
            async with wide.transaction() as s:
                await stock.reserve(s, variant_id=vid, quantity=1, reference=f"orders/first-{i}")
        except DomainError as exc:
            return exc.reason.name
        return "ok"

    async with _concurrent_db(db) as wide:
        tasks = [asyncio.create_task(one(wide, i)) for i in range(20)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
    assert results.count("ok") == 5 and results.count(INSUFFICIENT_INVENTORY.name) == 15
    assert await _level(db, vid) == (5, 5)
    async with db.read() as s:
        opening = await s.scalar(
            select(func.count()).select_from(StockMovementRow).where(StockMovementRow.variant_id == vid)
        )
    assert opening == 1
