"""Low-level stock operations shared by reservations (``stock.py``) and the ledger
(``ledger.py``). Every change of a level is one atomic conditional UPDATE, never a
read-modify-write: the row lock the UPDATE takes serialises concurrent writers of one
level, and the WHERE clause re-checked under that lock refuses a change that would
oversell (DECISIONS 11).

Lock order, to keep concurrent commands free of deadlocks: levels (in location id
order when several), then the variant's inventory item, then the catalog variant row.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import ColumnElement, Table, bindparam, case, func, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.db.capabilities import update_returning
from rcommerce.domain.catalog.errors import VARIANT_NOT_FOUND
from rcommerce.domain.catalog.models import VariantRow
from rcommerce.domain.inventory import convert, levels
from rcommerce.domain.inventory.errors import LOCATION_INACTIVE, LOCATION_NOT_FOUND, InventoryError
from rcommerce.domain.inventory.models import (
    InventoryItemRow,
    InventoryLevelRow,
    StockAlertRow,
    StockLocationRow,
    StockMovementRow,
)
from rcommerce.events import record_event
from rcommerce.gen.v1 import inventory_pb2
from rcommerce.ids import new_id
from rcommerce.names import variant_name

#: The default location, created by the migration. New stock lands here.
DEFAULT_LOCATION_ID = "sloc_00000000000000000000000000"
SYSTEM_ACTOR = "system"


@dataclass(frozen=True, slots=True)
class VariantInfo:
    """What inventory needs to know about a catalog variant."""

    id: str
    product_id: str
    sku: str
    managed: bool
    policy: str
    #: The catalog's inventory_quantity: seeds the default location's level the first
    #: time inventory touches a variant that has no levels yet.
    quantity: int


async def variant_infos(session: AsyncSession, variant_ids: Collection[str]) -> dict[str, VariantInfo]:
    if not variant_ids:
        return {}
    rows = await session.execute(
        select(
            VariantRow.id, VariantRow.product_id, VariantRow.sku, VariantRow.manage_inventory,
            VariantRow.inventory_policy, VariantRow.inventory_quantity,
        ).where(VariantRow.id.in_(list(variant_ids)))
    )  # fmt: skip
    return {r[0]: VariantInfo(r[0], r[1], r[2] or "", bool(r[3]), r[4], int(r[5])) for r in rows}


@dataclass(frozen=True, slots=True)
class StockTotals:
    """A variant's levels summed: over active locations, and whether it has any level."""

    on_hand: int
    reserved: int
    #: Levels at active locations; 0 with ``levels`` > 0: stock only at inactive ones.
    active_levels: int
    levels: int


_ACTIVE = StockLocationRow.is_active.is_(True)
#: Each variant with its levels summed, in one statement (variants without levels: zeros).
_VARIANTS_WITH_TOTALS = (
    select(
        VariantRow.id, VariantRow.product_id, VariantRow.sku, VariantRow.manage_inventory,
        VariantRow.inventory_policy, VariantRow.inventory_quantity,
        func.sum(case((_ACTIVE, InventoryLevelRow.on_hand), else_=0)),
        func.sum(case((_ACTIVE, InventoryLevelRow.reserved), else_=0)),
        func.sum(case((_ACTIVE, 1), else_=0)),
        func.count(InventoryLevelRow.location_id),
    )
    .select_from(VariantRow)
    .outerjoin(
        InventoryLevelRow.__table__.join(StockLocationRow, StockLocationRow.id == InventoryLevelRow.location_id),
        InventoryLevelRow.variant_id == VariantRow.id,
    )
    .where(VariantRow.id.in_(bindparam("variant_ids", expanding=True)))
    .group_by(
        VariantRow.id, VariantRow.product_id, VariantRow.sku, VariantRow.manage_inventory,
        VariantRow.inventory_policy, VariantRow.inventory_quantity,
    )
)  # fmt: skip


async def variant_totals(
    session: AsyncSession, variant_ids: Collection[str]
) -> dict[str, tuple[VariantInfo, StockTotals]]:
    """:func:`variant_infos` with each variant's levels summed, in one statement."""
    if not variant_ids:
        return {}
    rows = await session.execute(_VARIANTS_WITH_TOTALS, {"variant_ids": list(variant_ids)})
    return {
        r[0]: (
            VariantInfo(r[0], r[1], r[2] or "", bool(r[3]), r[4], int(r[5])),
            StockTotals(int(r[6] or 0), int(r[7] or 0), int(r[8] or 0), int(r[9] or 0)),
        )
        for r in rows
    }


class Level(NamedTuple):
    """One inventory level as read (a plain row: changing it changes nothing)."""

    variant_id: str
    location_id: str
    on_hand: int
    reserved: int


#: A level's columns, then its location's active flag.
_LEVEL_COLUMNS = (
    InventoryLevelRow.variant_id, InventoryLevelRow.location_id, InventoryLevelRow.on_hand, InventoryLevelRow.reserved,
    StockLocationRow.is_active,
)  # fmt: skip
_VARIANT = select(
    VariantRow.id, VariantRow.product_id, VariantRow.sku, VariantRow.manage_inventory, VariantRow.inventory_policy,
    VariantRow.inventory_quantity,
).where(VariantRow.id == bindparam("variant_id"))  # fmt: skip
#: The variant and its levels in one statement: one row per level, or one with NULL
#: level columns when the variant has none.
_VARIANT_LEVELS = (
    select(*_VARIANT.selected_columns, *_LEVEL_COLUMNS)
    .outerjoin(InventoryLevelRow, InventoryLevelRow.variant_id == VariantRow.id)
    .outerjoin(StockLocationRow, StockLocationRow.id == InventoryLevelRow.location_id)
    .where(VariantRow.id == bindparam("variant_id"))
    .order_by(StockLocationRow.is_default.desc(), InventoryLevelRow.location_id)
)


def _variant_not_found(variant_id: str) -> InventoryError:
    return InventoryError(VARIANT_NOT_FOUND, f"Variant {variant_id} does not exist.", variantId=variant_id)


async def variant_info(session: AsyncSession, variant_id: str) -> VariantInfo:
    r = (await session.execute(_VARIANT, {"variant_id": variant_id})).first()
    if r is None:
        raise _variant_not_found(variant_id)
    return VariantInfo(r[0], r[1], r[2] or "", bool(r[3]), r[4], int(r[5]))


async def variant_levels(session: AsyncSession, variant_id: str) -> tuple[VariantInfo, list[tuple[Level, bool]]]:
    """:func:`variant_info` and :func:`level_rows` of one variant, in one statement."""
    rows = (await session.execute(_VARIANT_LEVELS, {"variant_id": variant_id})).all()
    if not rows:
        raise _variant_not_found(variant_id)
    r = rows[0]
    info = VariantInfo(r[0], r[1], r[2] or "", bool(r[3]), r[4], int(r[5]))
    found = [(Level(r[6], r[7], int(r[8]), int(r[9])), bool(r[10])) for r in rows if r[6] is not None]
    return info, found


async def get_location(session: AsyncSession, location_id: str, *, require_active: bool = False) -> StockLocationRow:
    row = await session.get(StockLocationRow, location_id)
    if row is None:
        raise InventoryError(
            LOCATION_NOT_FOUND,
            f"Stock location {convert.location_name(location_id)} does not exist.",
            location=convert.location_name(location_id),
        )
    if require_active and not row.is_active:
        raise InventoryError(
            LOCATION_INACTIVE,
            f"Stock location {convert.location_name(location_id)} is inactive.",
            location=convert.location_name(location_id),
        )
    return row


async def _insert_ignore(
    session: AsyncSession, model: type[InventoryLevelRow] | type[InventoryItemRow], values: dict[str, object]
) -> None:
    """INSERT the row unless its primary key exists, waiting for a concurrent inserter.

    Dialect upserts rather than INSERT-and-catch: on MySQL a failed duplicate INSERT
    leaves a shared lock on the row, and two such transactions then deadlock when both
    UPDATE it. ON DUPLICATE KEY UPDATE takes the exclusive lock instead.
    """
    table = cast(Table, model.__table__)
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "mysql":
        statement: Any = mysql_insert(table).values(values)
        statement = statement.on_duplicate_key_update(variant_id=statement.inserted.variant_id)
    elif dialect == "postgresql":
        statement = pg_insert(table).values(values).on_conflict_do_nothing()
    else:
        statement = sqlite_insert(table).values(values).on_conflict_do_nothing()
    await session.execute(statement)


async def ensure_levels(session: AsyncSession, info: VariantInfo, threshold: int, now: datetime) -> None:
    """Give a stock-tracked variant without levels its first level: the catalog's
    inventory_quantity at the default location, with an "initial" movement. Safe under
    concurrency: a second transaction waits for the first and inserts nothing."""
    if not info.managed:
        return
    found = await session.scalar(
        select(InventoryLevelRow.location_id).where(InventoryLevelRow.variant_id == info.id).limit(1)
    )
    if found is not None:
        return
    quantity = max(0, info.quantity)
    await _insert_ignore(session, InventoryLevelRow, {
        "variant_id": info.id, "location_id": DEFAULT_LOCATION_ID, "product_id": info.product_id, "on_hand": quantity,
        "reserved": 0, "created_at": now, "updated_at": now,
    })  # fmt: skip
    await _insert_ignore(session, InventoryItemRow, {
        "variant_id": info.id, "product_id": info.product_id, "stock_status": levels.stock_status(quantity, threshold), "updated_at": now,
    })  # fmt: skip
    if not quantity:
        return
    # Whoever inserted the level writes the opening movement; a transaction that found
    # the level inserted concurrently sees that writer's committed movement.
    opening = await session.scalar(
        select(StockMovementRow.id)
        .where(StockMovementRow.variant_id == info.id, StockMovementRow.reason == "initial")
        .limit(1)
    )
    if opening is None:
        add_movement(
            session, info, DEFAULT_LOCATION_ID, "set", "initial", quantity, 0, quantity, actor=SYSTEM_ACTOR, now=now,
            notes="Opening stock from the catalog's inventory_quantity",
        )  # fmt: skip


async def ensure_level_at(session: AsyncSession, info: VariantInfo, location_id: str, now: datetime) -> None:
    """Make sure the variant has a (possibly empty) level at ``location_id``."""
    found = await session.scalar(
        select(InventoryLevelRow.on_hand).where(
            InventoryLevelRow.variant_id == info.id, InventoryLevelRow.location_id == location_id
        )
    )
    if found is None:
        await _insert_ignore(session, InventoryLevelRow, {
            "variant_id": info.id, "location_id": location_id, "product_id": info.product_id, "on_hand": 0, "reserved": 0,
            "created_at": now, "updated_at": now,
        })  # fmt: skip


def _level(variant_id: str, location_id: str) -> list[ColumnElement[bool]]:
    return [InventoryLevelRow.variant_id == variant_id, InventoryLevelRow.location_id == location_id]


async def _update_level(
    session: AsyncSession,
    variant_id: str,
    location_id: str,
    guard: ColumnElement[bool] | None,
    now: datetime,
    **values: object,
) -> bool:
    where = _level(variant_id, location_id) + ([guard] if guard is not None else [])
    result = await session.execute(
        update(InventoryLevelRow)
        .where(*where)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def add_reserved(
    session: AsyncSession, variant_id: str, location_id: str, quantity: int, *, guarded: bool, now: datetime
) -> bool:
    """reserved += quantity; when ``guarded`` only if on_hand - reserved >= quantity."""
    guard = (InventoryLevelRow.on_hand - InventoryLevelRow.reserved) >= quantity if guarded else None
    return await _update_level(
        session, variant_id, location_id, guard, now, reserved=InventoryLevelRow.reserved + quantity
    )


@dataclass(frozen=True, slots=True)
class LevelUpdate:
    """The outcome of one conditional level UPDATE."""

    done: bool
    #: (on_hand, reserved) of the level after the update, read under the UPDATE's row
    #: lock; None when refused.
    after: tuple[int, int] | None = None


async def add_reserved_returning(
    session: AsyncSession, variant_id: str, location_id: str, quantity: int, *, guarded: bool, now: datetime
) -> LevelUpdate:
    """:func:`add_reserved` that also tells the level after it: in the same statement
    where the database can, else read back under the row lock the UPDATE took."""
    if not update_returning(session):
        if not await add_reserved(session, variant_id, location_id, quantity, guarded=guarded, now=now):
            return LevelUpdate(False)
        found = (
            await session.execute(
                select(InventoryLevelRow.on_hand, InventoryLevelRow.reserved).where(*_level(variant_id, location_id))
            )
        ).first()
        return LevelUpdate(True, None if found is None else (int(found[0]), int(found[1])))
    where = _level(variant_id, location_id)
    if guarded:
        where.append((InventoryLevelRow.on_hand - InventoryLevelRow.reserved) >= quantity)
    found = (
        await session.execute(
            update(InventoryLevelRow)
            .where(*where)
            .values(updated_at=now, reserved=InventoryLevelRow.reserved + quantity)
            .returning(InventoryLevelRow.on_hand, InventoryLevelRow.reserved)
            .execution_options(synchronize_session=False)
        )
    ).first()
    return LevelUpdate(False) if found is None else LevelUpdate(True, (int(found[0]), int(found[1])))


async def sub_reserved(
    session: AsyncSession, variant_id: str, location_id: str, quantity: int, *, also_on_hand: bool, now: datetime
) -> bool:
    """reserved -= quantity (and on_hand -= quantity for a sale)."""
    values: dict[str, object] = {"reserved": InventoryLevelRow.reserved - quantity}
    if also_on_hand:
        values["on_hand"] = InventoryLevelRow.on_hand - quantity
    return await _update_level(session, variant_id, location_id, InventoryLevelRow.reserved >= quantity, now, **values)


async def add_on_hand(
    session: AsyncSession, variant_id: str, location_id: str, delta: int, *, keep_available: bool, now: datetime
) -> tuple[int, int] | None:
    """on_hand += delta unless the result would be negative (or, with ``keep_available``,
    below reserved). Returns (before, after), or None when refused."""
    if keep_available:
        guard = (InventoryLevelRow.on_hand - InventoryLevelRow.reserved + delta) >= 0
    else:
        guard = (InventoryLevelRow.on_hand + delta) >= 0
    if not await _update_level(session, variant_id, location_id, guard, now, on_hand=InventoryLevelRow.on_hand + delta):
        return None
    after = int(await session.scalar(select(InventoryLevelRow.on_hand).where(*_level(variant_id, location_id))) or 0)
    return after - delta, after


async def set_on_hand(
    session: AsyncSession, variant_id: str, location_id: str, quantity: int, now: datetime
) -> tuple[int, int]:
    """on_hand := quantity under a row lock. Returns (before, after)."""
    before = await session.scalar(
        select(InventoryLevelRow.on_hand).where(*_level(variant_id, location_id)).with_for_update()
    )
    await _update_level(session, variant_id, location_id, None, now, on_hand=quantity)
    return int(before or 0), quantity


async def level_rows(session: AsyncSession, variant_ids: Collection[str]) -> list[tuple[Level, bool]]:
    """Levels of the variants with their location's active flag."""
    if not variant_ids:
        return []
    rows = await session.execute(
        select(*_LEVEL_COLUMNS)
        .join(StockLocationRow, StockLocationRow.id == InventoryLevelRow.location_id)
        .where(InventoryLevelRow.variant_id.in_(list(variant_ids)))
        .order_by(StockLocationRow.is_default.desc(), InventoryLevelRow.location_id)
    )
    return [(Level(v, loc, int(on_hand), int(reserved)), bool(active)) for v, loc, on_hand, reserved, active in rows]


async def available_totals(session: AsyncSession, variant_ids: Collection[str]) -> dict[str, tuple[int, int]]:
    """(on_hand, reserved) summed over active locations, per variant with levels."""
    if not variant_ids:
        return {}
    rows = await session.execute(
        select(InventoryLevelRow.variant_id, func.sum(InventoryLevelRow.on_hand), func.sum(InventoryLevelRow.reserved))
        .join(StockLocationRow, StockLocationRow.id == InventoryLevelRow.location_id)
        .where(InventoryLevelRow.variant_id.in_(list(variant_ids)), StockLocationRow.is_active.is_(True))
        .group_by(InventoryLevelRow.variant_id)
    )
    return {v: (int(on_hand or 0), int(reserved or 0)) for v, on_hand, reserved in rows}


async def level_proto(
    session: AsyncSession, info: VariantInfo, threshold: int, *, location_id: str | None = None
) -> inventory_pb2.InventoryLevel:
    """The variant's stock as the API shows it (one location's only, when given)."""
    rows = [r for r in await level_rows(session, [info.id]) if location_id is None or r[0].location_id == location_id]
    locations = [
        inventory_pb2.LocationLevel(
            location=convert.location_name(level.location_id), on_hand=level.on_hand, reserved=level.reserved,
            available=level.on_hand - level.reserved, active=active,
        )
        for level, active in rows
    ]  # fmt: skip
    if not rows and info.managed and location_id in (None, DEFAULT_LOCATION_ID):
        # Not yet materialised: the catalog's quantity at the default location.
        locations = [
            inventory_pb2.LocationLevel(
                location=convert.location_name(DEFAULT_LOCATION_ID),
                on_hand=info.quantity,
                available=info.quantity,
                active=True,
            )
        ]
    available = sum(loc.on_hand - loc.reserved for loc in locations if loc.active)
    return convert.level_to_proto(
        product_id=info.product_id, variant_id=info.id, sku=info.sku, managed=info.managed, policy=info.policy,
        threshold=threshold, status=levels.stock_status(available, threshold), locations=locations,
    )  # fmt: skip


def add_movement(
    session: AsyncSession,
    info: VariantInfo,
    location_id: str,
    movement_type: str,
    reason: str,
    quantity: int,
    before: int,
    after: int,
    *,
    actor: str,
    now: datetime,
    reference: str = "",
    notes: str = "",
    cost_per_unit: int = 0,
    currency_code: str = "",
    transfer_id: str = "",
) -> StockMovementRow:
    """Append one ledger entry in the caller's transaction."""
    row = StockMovementRow(
        id=new_id("smov", now), variant_id=info.id, product_id=info.product_id, location_id=location_id,
        movement_type=movement_type, reason=reason, quantity=quantity, quantity_before=before, quantity_after=after,
        cost_per_unit=cost_per_unit, currency_code=currency_code, reference=reference, notes=notes, actor=actor,
        transfer_id=transfer_id, created_at=now,
    )  # fmt: skip
    session.add(row)
    return row


async def refresh(
    session: AsyncSession, info: VariantInfo, threshold: int, now: datetime, *, on_hand_changed: bool
) -> None:
    """After a level change: move the variant's stock status (raising alerts and their
    events on a change of level only) and, when on hand changed, copy the total on hand
    to the catalog's ``variants.inventory_quantity``."""
    if not info.managed:
        return
    await session.flush()
    on_hand, reserved = (await available_totals(session, [info.id])).get(info.id, (0, 0))
    available = on_hand - reserved
    new_status = levels.stock_status(available, threshold)
    item = await session.scalar(
        select(InventoryItemRow).where(InventoryItemRow.variant_id == info.id).with_for_update()
    )
    if item is None:
        item = InventoryItemRow(
            variant_id=info.id, product_id=info.product_id, stock_status=levels.IN_STOCK, updated_at=now
        )
        session.add(item)
    before = item.stock_status
    if before != new_status:
        item.stock_status = new_status
        item.updated_at = now
        proto = await level_proto(session, info, threshold)
        subject = convert.inventory_name(info.product_id, info.id)
        for event in levels.alert_events(before, new_status):
            record_event(session, event, subject, proto, now, previousStatus=before)
        if new_status in levels.ALERT_LEVELS:
            alert = StockAlertRow(
                id=new_id("salrt", now), variant_id=info.id, product_id=info.product_id, alert_level=new_status,
                current_stock=max(0, available), threshold=threshold,
                recommended_reorder_quantity=levels.recommended_reorder_quantity(available, threshold),
                acknowledged=False, acknowledged_by="", acknowledged_at=None, notes="", created_at=now,
            )  # fmt: skip
            session.add(alert)
    if on_hand_changed:
        total = (
            select(func.coalesce(func.sum(InventoryLevelRow.on_hand), 0))
            .where(InventoryLevelRow.variant_id == info.id)
            .scalar_subquery()
        )
        await session.execute(
            update(VariantRow)
            .where(VariantRow.id == info.id)
            .values(inventory_quantity=total)
            .execution_options(synchronize_session=False)
        )


def variant_of(info: VariantInfo) -> str:
    return variant_name(info.product_id, info.id)
