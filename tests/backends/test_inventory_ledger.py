"""Stock changes (adjust, set, receive, transfer), multi-location reservations and the
expiry job against every database, including concurrent writers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import select

from rcommerce.cache.memory import MemoryCache
from rcommerce.clock import FrozenClock
from rcommerce.config import DatabaseSettings
from rcommerce.db import Database
from rcommerce.domain.catalog.models import VariantRow
from rcommerce.domain.inventory._store import DEFAULT_LOCATION_ID
from rcommerce.domain.inventory.errors import (
    INSUFFICIENT_INVENTORY,
    INSUFFICIENT_STOCK,
    INVALID_ADJUSTMENT,
    INVALID_TRANSFER,
    INVENTORY_NOT_TRACKED,
    LOCATION_INACTIVE,
)
from rcommerce.domain.inventory.jobs import EXPIRE_KIND, register_inventory_jobs
from rcommerce.domain.inventory.ledger import Ledger
from rcommerce.domain.inventory.models import (
    InventoryItemRow,
    InventoryLevelRow,
    ReservationRow,
    StockLocationRow,
    StockMovementRow,
)
from rcommerce.domain.inventory.service import InventoryService
from rcommerce.domain.inventory.stock import Stock
from rcommerce.errors import DomainError
from rcommerce.events.outbox import OutboxEvent
from rcommerce.ids import new_id
from rcommerce.jobs.queue import Job, JobQueue
from rcommerce.pagination import PageTokens
from tests.backends._inventory_data import T0, make_variant


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


@pytest.fixture
def ledger(clock: FrozenClock) -> Ledger:
    return Ledger(clock, low_stock_threshold=20)


async def _location(db: Database, *, active: bool = True) -> str:
    lid = new_id("sloc", T0)
    async with db.transaction() as s:
        s.add(
            StockLocationRow(
                id=lid,
                name="Second",
                code=lid.lower(),
                address={},
                is_active=active,
                is_default=False,
                created_at=T0,
                updated_at=T0,
            )
        )
    return lid


async def _on_hand(db: Database, vid: str) -> dict[str, tuple[int, int]]:
    async with db.read() as s:
        rows = await s.execute(
            select(InventoryLevelRow.location_id, InventoryLevelRow.on_hand, InventoryLevelRow.reserved).where(
                InventoryLevelRow.variant_id == vid
            )
        )
        return {loc: (int(on_hand), int(reserved)) for loc, on_hand, reserved in rows}


async def _catalog_quantity(db: Database, vid: str) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(VariantRow.inventory_quantity).where(VariantRow.id == vid)) or 0)


async def test_adjust_set_receive_write_the_ledger_and_the_catalog_total(db: Database, ledger: Ledger) -> None:
    _, vid = await make_variant(db, quantity=10)
    async with db.transaction() as s:
        [received] = await ledger.receive(
            s,
            variant_id=vid,
            location_id=DEFAULT_LOCATION_ID,
            quantity=5,
            actor="apiKeys/k",
            cost_per_unit=250,
            currency_code="EUR",
            reference="PO-7",
        )
        [adjusted] = await ledger.adjust(
            s, variant_id=vid, location_id=DEFAULT_LOCATION_ID, adjustment=-4, reason="damaged", actor="apiKeys/k"
        )
        [counted] = await ledger.set(s, variant_id=vid, location_id=DEFAULT_LOCATION_ID, quantity=8, actor="apiKeys/k")
    assert (received.quantity_before, received.quantity_after, received.cost_per_unit, received.currency_code) == (
        10,
        15,
        250,
        "EUR",
    )
    assert (adjusted.quantity, adjusted.quantity_before, adjusted.quantity_after, adjusted.reason) == (
        -4,
        15,
        11,
        "damaged",
    )
    assert (counted.movement_type, counted.quantity, counted.quantity_before, counted.quantity_after) == (
        "set",
        -3,
        11,
        8,
    )
    assert await _on_hand(db, vid) == {DEFAULT_LOCATION_ID: (8, 0)}
    assert await _catalog_quantity(db, vid) == 8


async def test_bad_changes_change_nothing(db: Database, ledger: Ledger) -> None:
    _, vid = await make_variant(db, quantity=3)
    _, untracked = await make_variant(db, managed=False)
    cases = [
        (
            lambda s: ledger.adjust(
                s, variant_id=vid, location_id=DEFAULT_LOCATION_ID, adjustment=-4, reason="lost", actor="a"
            ),
            INVALID_ADJUSTMENT,
        ),
        (
            lambda s: ledger.transfer(
                s,
                variant_id=vid,
                from_location_id=DEFAULT_LOCATION_ID,
                to_location_id=DEFAULT_LOCATION_ID,
                quantity=1,
                actor="a",
            ),
            INVALID_TRANSFER,
        ),
        (
            lambda s: ledger.receive(s, variant_id=untracked, location_id=DEFAULT_LOCATION_ID, quantity=1, actor="a"),
            INVENTORY_NOT_TRACKED,
        ),
    ]
    for run, reason in cases:
        with pytest.raises(DomainError) as caught:
            async with db.transaction() as s:
                await run(s)
        assert caught.value.reason is reason
    with pytest.raises(DomainError) as invalid_reason:
        async with db.transaction() as s:
            await ledger.adjust(
                s, variant_id=vid, location_id=DEFAULT_LOCATION_ID, adjustment=1, reason="magic", actor="a"
            )
    assert invalid_reason.value.reason.name == "VALIDATION_FAILED"
    assert await _on_hand(db, vid) == {}  # nothing was even materialised
    assert await _catalog_quantity(db, vid) == 3


async def test_transfer_moves_available_units_only(db: Database, ledger: Ledger, clock: FrozenClock) -> None:
    _, vid = await make_variant(db, quantity=10)
    other = await _location(db)
    stock = Stock(clock)
    async with db.transaction() as s:
        await stock.reserve(s, variant_id=vid, quantity=4, reference="orders/o")
    with pytest.raises(DomainError) as caught:
        async with db.transaction() as s:
            await ledger.transfer(
                s, variant_id=vid, from_location_id=DEFAULT_LOCATION_ID, to_location_id=other, quantity=7, actor="a"
            )
    assert caught.value.reason is INSUFFICIENT_STOCK and caught.value.metadata["available"] == "6"
    async with db.transaction() as s:
        out, into = await ledger.transfer(
            s,
            variant_id=vid,
            from_location_id=DEFAULT_LOCATION_ID,
            to_location_id=other,
            quantity=6,
            actor="a",
            reference="T-1",
        )
    assert (out.location_id, out.quantity, out.quantity_before, out.quantity_after) == (DEFAULT_LOCATION_ID, -6, 10, 4)
    assert (into.location_id, into.quantity, into.quantity_before, into.quantity_after) == (other, 6, 0, 6)
    assert out.transfer_id == into.transfer_id
    assert await _on_hand(db, vid) == {DEFAULT_LOCATION_ID: (4, 4), other: (6, 0)}
    assert await _catalog_quantity(db, vid) == 10


async def test_availability_counts_active_locations_only(db: Database, ledger: Ledger, clock: FrozenClock) -> None:
    pid, only_closed = await make_variant(db, quantity=9)
    _, mixed = await make_variant(db, quantity=9)
    closed, other = await _location(db, active=False), await _location(db)
    stock = Stock(clock)
    async with db.transaction() as s:
        # A level written straight at the inactive location: the variant has no other.
        s.add(InventoryLevelRow(
            variant_id=only_closed, location_id=closed, product_id=pid, on_hand=4, reserved=0, created_at=T0,
            updated_at=T0,
        ))  # fmt: skip
        await ledger.receive(s, variant_id=mixed, location_id=closed, quantity=50, actor="a")
        await ledger.receive(s, variant_id=mixed, location_id=other, quantity=5, actor="a")
        await stock.reserve(s, variant_id=mixed, quantity=2, reference="orders/held", location_id=other)
    async with db.read() as s:
        found = await stock.availability(s, [only_closed, mixed])
    # Levels only at an inactive location: nothing to sell (not the catalog's 9).
    assert found[only_closed].available == 0 and not found[only_closed].can_sell(1)
    # 9 opened at the default location + 5 - 2 held; the 50 at the inactive one do not count.
    assert found[mixed].available == 12 and found[mixed].can_sell(12) and not found[mixed].can_sell(13)


async def test_reserve_splits_across_locations_and_skips_inactive_ones(
    db: Database, ledger: Ledger, clock: FrozenClock
) -> None:
    _, vid = await make_variant(db, quantity=3)
    other, closed = await _location(db), await _location(db, active=False)
    stock = Stock(clock)
    async with db.transaction() as s:
        await ledger.receive(s, variant_id=vid, location_id=other, quantity=5, actor="a")
        await ledger.receive(s, variant_id=vid, location_id=closed, quantity=50, actor="a")
    async with db.read() as s:
        assert (await stock.availability(s, [vid]))[vid].available == 8
    with pytest.raises(DomainError) as inactive:
        async with db.transaction() as s:
            await stock.reserve(s, variant_id=vid, quantity=1, reference="orders/x", location_id=closed)
    assert inactive.value.reason is LOCATION_INACTIVE
    async with db.transaction() as s:
        ids = await stock.reserve(s, variant_id=vid, quantity=6, reference="orders/split")
    async with db.read() as s:
        parts = {
            r.location_id: r.quantity
            for r in (await s.scalars(select(ReservationRow).where(ReservationRow.id.in_(ids)))).all()
        }
    assert parts == {DEFAULT_LOCATION_ID: 3, other: 3}
    with pytest.raises(DomainError) as short:
        async with db.transaction() as s:
            await stock.reserve(s, variant_id=vid, quantity=3, reference="orders/short")
    assert short.value.reason is INSUFFICIENT_INVENTORY and short.value.metadata["available"] == "2"
    assert await _on_hand(db, vid) == {DEFAULT_LOCATION_ID: (3, 3), other: (5, 3), closed: (50, 0)}


async def test_reserving_moves_the_stock_status_by_every_active_location(
    db: Database, ledger: Ledger, clock: FrozenClock
) -> None:
    _, vid = await make_variant(db, quantity=20)
    _, alone = await make_variant(db, quantity=25)
    other, closed = await _location(db), await _location(db, active=False)
    stock = Stock(clock, low_stock_threshold=20)
    async with db.transaction() as s:
        await ledger.receive(s, variant_id=vid, location_id=other, quantity=10, actor="a")
        await ledger.receive(s, variant_id=alone, location_id=closed, quantity=50, actor="a")
    async with db.transaction() as s:
        await stock.reserve(s, variant_id=vid, quantity=8, reference="orders/a")  # 22 of 30 left: in stock
        await stock.reserve(s, variant_id=vid, quantity=5, reference="orders/b")  # 17: low
        await stock.reserve(s, variant_id=alone, quantity=4, reference="orders/c")  # 21 (the closed 50 not counted)
        await stock.reserve(s, variant_id=alone, quantity=2, reference="orders/d")  # 19: low
        await stock.reserve(s, variant_id=alone, quantity=1, reference="orders/e")  # 18: still low
    async with db.read() as s:
        statuses = dict(
            (await s.execute(select(InventoryItemRow.variant_id, InventoryItemRow.stock_status).where(
                InventoryItemRow.variant_id.in_([vid, alone])))).all()
        )  # fmt: skip
        events = (
            await s.scalars(
                select(OutboxEvent.subject)
                .where(OutboxEvent.type == "inventory.low_stock", OutboxEvent.subject.contains("/variants/"))
                .order_by(OutboxEvent.seq)
            )
        ).all()
    assert statuses == {vid: "low", alone: "low"}
    assert [v for e in events for v in (vid, alone) if f"/variants/{v}/" in e] == [vid, alone]  # one each


@asynccontextmanager
async def _wide(db: Database) -> AsyncIterator[Database]:
    wide = Database(DatabaseSettings(url=db.settings.url, pool_size=20, max_overflow=20))
    try:
        yield wide
    finally:
        await wide.dispose()


async def test_concurrent_removals_never_take_on_hand_below_zero(db: Database, ledger: Ledger) -> None:
    _, vid = await make_variant(db, quantity=10)
    async with db.transaction() as s:
        await ledger.receive(s, variant_id=vid, location_id=DEFAULT_LOCATION_ID, quantity=1, actor="a")
    start = asyncio.Event()

    async def remove(wide: Database) -> str:
        await start.wait()
        try:
            async with wide.transaction() as s:
                await ledger.adjust(
                    s, variant_id=vid, location_id=DEFAULT_LOCATION_ID, adjustment=-1, reason="lost", actor="a"
                )
        except DomainError as exc:
            return exc.reason.name
        return "ok"

    async with _wide(db) as wide:
        tasks = [asyncio.create_task(remove(wide)) for _ in range(20)]
        await asyncio.sleep(0)
        start.set()
        results = await asyncio.gather(*tasks)
    assert results.count("ok") == 11 and results.count(INVALID_ADJUSTMENT.name) == 9
    assert await _on_hand(db, vid) == {DEFAULT_LOCATION_ID: (0, 0)}
    assert await _catalog_quantity(db, vid) == 0
    async with db.read() as s:
        moves = (
            await s.scalars(
                select(StockMovementRow).where(StockMovementRow.variant_id == vid, StockMovementRow.reason == "lost")
            )
        ).all()
    # Every ledger entry's before/after is consistent: 11 distinct steps from 11 down to 0.
    assert sorted((m.quantity_before, m.quantity_after) for m in moves) == [(n + 1, n) for n in range(11)]


async def test_opposite_transfers_at_once_do_not_deadlock(db: Database, ledger: Ledger) -> None:
    _, vid = await make_variant(db, quantity=10)
    other = await _location(db)
    async with db.transaction() as s:
        await ledger.receive(s, variant_id=vid, location_id=other, quantity=10, actor="a")
    start = asyncio.Event()

    async def move(wide: Database, source: str, target: str) -> None:
        await start.wait()
        async with wide.transaction() as s:
            await ledger.transfer(
                s, variant_id=vid, from_location_id=source, to_location_id=target, quantity=1, actor="a"
            )

    async with _wide(db) as wide:
        tasks = [
            asyncio.create_task(move(wide, *((DEFAULT_LOCATION_ID, other) if i % 2 else (other, DEFAULT_LOCATION_ID))))
            for i in range(16)
        ]
        await asyncio.sleep(0)
        start.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    assert await _on_hand(db, vid) == {DEFAULT_LOCATION_ID: (10, 0), other: (10, 0)}


async def test_expiry_job_is_registered_and_sweeps(db: Database, clock: FrozenClock) -> None:
    service = InventoryService(db, MemoryCache(), clock, PageTokens(b"k" * 32), reservation_timeout_minutes=30)
    queue = JobQueue(clock)
    register_inventory_jobs(queue, service)
    assert EXPIRE_KIND in queue.kinds
    assert [(sch.name, sch.kind) for sch in queue.schedules] == [("inventory-reservation-expiry", EXPIRE_KIND)]
    _, vid = await make_variant(db, quantity=4)
    async with db.transaction() as s:
        [rid] = await service.stock.reserve(s, variant_id=vid, quantity=4, reference="carts/x", expires_at=T0)
    clock.advance(seconds=1)
    await queue.kinds[EXPIRE_KIND].handler(Job("job_x", EXPIRE_KIND, {}, 1, 3))
    async with db.read() as s:
        row = await s.get(ReservationRow, rid)
        assert row is not None and row.status == "expired"
    assert await _on_hand(db, vid) == {DEFAULT_LOCATION_ID: (4, 0)}
