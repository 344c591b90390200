"""Availability and reservations: what carts, checkout and orders call, always inside
the caller's transaction (one command, one transaction).

* ``availability``: per variant, the units available over active locations
  (on_hand - reserved, reported >= 0), the policy and whether stock is tracked.
* ``reserve``: holds units for a reference with atomic conditional UPDATEs
  (``reserved = reserved + q WHERE on_hand - reserved >= q`` for policy deny), so no
  number of concurrent reservations can take available below zero. Policy continue
  (backorders) reserves unconditionally.
* ``release`` / ``convert`` / ``expire_due``: end a reservation (core-domain 2.6);
  converting is the sale: on_hand and reserved both drop (DECISIONS 11).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.db.rows import insert_rows
from rcommerce.domain.inventory import _store, convert, levels
from rcommerce.domain.inventory._store import DEFAULT_LOCATION_ID, SYSTEM_ACTOR, Level, VariantInfo
from rcommerce.domain.inventory.errors import (
    INSUFFICIENT_INVENTORY,
    INVALID_CONVERSION,
    RESERVATION_EXPIRED,
    RESERVATION_NOT_FOUND,
    InventoryError,
)
from rcommerce.domain.inventory.models import InventoryLevelRow, ReservationRow, StockLocationRow
from rcommerce.errors import invalid
from rcommerce.events import record_event
from rcommerce.ids import new_id

__all__ = ["RELEASE_REASONS", "Availability", "Stock"]

#: Reasons a reservation may be released for (core-domain 3.3).
RELEASE_REASONS = frozenset({"order_cancelled", "manual_release", "order_expired", "order_completed"})
ACTIVE, RELEASED, EXPIRED, CONVERTED = "active", "released", "expired", "converted"


@dataclass(frozen=True, slots=True)
class Availability:
    """How much of a variant can be sold now."""

    variant_id: str
    #: Sum over active locations of on_hand - reserved, never reported below zero.
    available: int
    #: "deny" or "continue".
    policy: str
    #: False: the variant's stock is not tracked; it is always available.
    managed: bool

    def can_sell(self, quantity: int) -> bool:
        """True when ``quantity`` units may be sold: untracked, backorders allowed, or enough available."""
        return not self.managed or self.policy == "continue" or quantity <= self.available


def _candidates(levels_now: list[tuple[Level, bool]]) -> list[str]:
    """Active locations holding the variant: the default first, then most available."""
    rows = [(level, active) for level, active in levels_now if active]
    rows.sort(
        key=lambda r: (r[0].location_id != DEFAULT_LOCATION_ID, -(r[0].on_hand - r[0].reserved), r[0].location_id)
    )
    return [level.location_id for level, _ in rows]


class Stock:
    """Availability and reservations. Every method takes the caller's session and never commits."""

    def __init__(self, clock: Clock, *, low_stock_threshold: int = 20, reservation_timeout_minutes: int = 30) -> None:
        self.clock = clock
        self.threshold = low_stock_threshold
        self.reservation_timeout = timedelta(minutes=reservation_timeout_minutes)

    # -- availability ---------------------------------------------------------------
    async def availability(self, session: AsyncSession, variant_ids: Collection[str]) -> dict[str, Availability]:
        """Availability per variant id; unknown variants are absent from the result.
        A tracked variant without levels yet counts its catalog inventory_quantity."""
        out: dict[str, Availability] = {}
        for vid, (info, totals) in (await _store.variant_totals(session, set(variant_ids))).items():
            if totals.active_levels:
                available = totals.on_hand - totals.reserved
            elif totals.levels:
                available = 0  # levels exist, but only at inactive locations
            else:
                available = info.quantity
            out[vid] = Availability(vid, max(0, available), info.policy, info.managed)
        return out

    # -- reservations ---------------------------------------------------------------
    async def reserve(
        self,
        session: AsyncSession,
        *,
        variant_id: str,
        quantity: int,
        reference: str,
        location_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> list[str]:
        """Hold ``quantity`` units of the variant for ``reference`` and return the ids of
        the reservations made ("rsv_..."): one, or one per location when no location is
        given and no single active location has enough (the default location first,
        then the others by most available). ``expires_at`` None means the hold never
        lapses by itself (orders release or convert it); pass a time to have the expiry
        sweep release it. A variant whose stock is not tracked needs no hold: ``[]``.

        Raises INSUFFICIENT_INVENTORY (requested, available, inventoryPolicy) and changes
        nothing when policy is deny and not enough is available. The reservation rows are
        inserted at once; their events may stay pending in the session until its next flush.
        """
        if quantity <= 0:
            raise invalid("quantity", "must be greater than 0", quantity=quantity)
        if not reference:
            raise invalid("reference", "is required")
        now = self.clock.now()
        if location_id is None:
            info, levels_now = await _store.variant_levels(session, variant_id)
        else:
            info, levels_now = await _store.variant_info(session, variant_id), []
        if not info.managed:
            return []
        guarded = info.policy != "continue"
        # The variant's available units after reserving, when the update told them exactly.
        available_after: int | None = None
        if location_id is not None:
            await _store.get_location(session, location_id, require_active=True)
            await _store.ensure_levels(session, info, self.threshold, now)
            await _store.ensure_level_at(session, info, location_id, now)
            if not await _store.add_reserved(session, info.id, location_id, quantity, guarded=guarded, now=now):
                await self._insufficient(session, info, quantity, location_id)
            parts = [(location_id, quantity)]
        else:
            if not levels_now:
                levels_now = await self._first_levels(session, info, now)
            if not guarded:
                candidates = _candidates(levels_now)
                target = candidates[0] if candidates else DEFAULT_LOCATION_ID
                await _store.ensure_level_at(session, info, target, now)
                await _store.add_reserved(session, info.id, target, quantity, guarded=False, now=now)
                parts = [(target, quantity)]
            else:
                parts, available_after = await self._reserve_anywhere(session, info, levels_now, quantity, now)
        rows = [
            ReservationRow(
                id=new_id("rsv", now), variant_id=info.id, product_id=info.product_id, location_id=loc, quantity=q,
                converted_quantity=0, reference=reference, status=ACTIVE, reason="", policy=info.policy,
                expires_at=expires_at, released_at=None, created_at=now, updated_at=now,
            )
            for loc, q in parts
        ]  # fmt: skip
        await insert_rows(session, rows)
        for row in rows:
            record_event(
                session, "inventory.reserved", convert.reservation_name(row.id), convert.reservation_to_proto(row), now
            )
        if available_after is None or levels.stock_status(
            available_after + quantity, self.threshold
        ) != levels.stock_status(available_after, self.threshold):
            await _store.refresh(session, info, self.threshold, now, on_hand_changed=False)
        # else no threshold was crossed: the variant's stock status (kept in step with its
        # levels by every change) stays as it is, with no alert and no event to write.
        return [row.id for row in rows]

    async def _first_levels(self, session: AsyncSession, info: VariantInfo, now: datetime) -> list[tuple[Level, bool]]:
        """The levels of a variant that had none, with their location's active flag, after
        giving it its first level (``_store.ensure_levels``)."""
        await _store.ensure_levels(session, info, self.threshold, now)
        return await _store.level_rows(session, [info.id])

    async def _reserve_anywhere(
        self,
        session: AsyncSession,
        info: VariantInfo,
        levels_now: list[tuple[Level, bool]],
        quantity: int,
        now: datetime,
    ) -> tuple[list[tuple[str, int]], int | None]:
        """The parts reserved, and the variant's available units after them when the
        database told them: the only active location's level, as the UPDATE left it."""
        candidates = _candidates(levels_now)
        if len(candidates) == 1:
            # One active location: its level as the UPDATE left it is the variant's availability.
            result = await _store.add_reserved_returning(
                session, info.id, candidates[0], quantity, guarded=True, now=now
            )
            if result.done:
                after = result.after
                return [(candidates[0], quantity)], (None if after is None else after[0] - after[1])
        elif candidates:
            for location in candidates:
                if await _store.add_reserved(session, info.id, location, quantity, guarded=True, now=now):
                    return [(location, quantity)], None
            # No single location has enough: split, all or nothing (savepoint).
            parts: list[tuple[str, int]] = []
            async with session.begin_nested() as savepoint:
                remaining = quantity
                for location in candidates:
                    on_hand, reserved = await self._level(session, info.id, location)
                    take = min(remaining, on_hand - reserved)
                    if take > 0 and await _store.add_reserved(session, info.id, location, take, guarded=True, now=now):
                        parts.append((location, take))
                        remaining -= take
                    if remaining == 0:
                        return parts, None
                await savepoint.rollback()
        await self._insufficient(session, info, quantity, None)
        raise AssertionError("unreachable")

    async def _level(self, session: AsyncSession, variant_id: str, location_id: str) -> tuple[int, int]:
        row = (
            await session.execute(
                select(InventoryLevelRow.on_hand, InventoryLevelRow.reserved).where(
                    InventoryLevelRow.variant_id == variant_id, InventoryLevelRow.location_id == location_id
                )
            )
        ).first()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def _insufficient(
        self, session: AsyncSession, info: VariantInfo, quantity: int, location_id: str | None
    ) -> None:
        if location_id is None:
            on_hand, reserved = (await _store.available_totals(session, [info.id])).get(info.id, (0, 0))
        else:
            on_hand, reserved = await self._level(session, info.id, location_id)
        available = max(0, on_hand - reserved)
        where = f" at {convert.location_name(location_id)}" if location_id else ""
        raise InventoryError(
            INSUFFICIENT_INVENTORY,
            f"Only {available} of {quantity} requested units of variant {info.id} are available{where}.",
            requested=quantity, available=available, inventoryPolicy=info.policy, variant=_store.variant_of(info),
        )  # fmt: skip

    async def _active(self, session: AsyncSession, reservation_id: str) -> ReservationRow:
        """The reservation, locked; RESERVATION_NOT_FOUND / RESERVATION_EXPIRED otherwise."""
        row = await session.scalar(select(ReservationRow).where(ReservationRow.id == reservation_id).with_for_update())
        if row is None:
            raise InventoryError(
                RESERVATION_NOT_FOUND,
                f"Reservation {convert.reservation_name(reservation_id)} does not exist.",
                reservation=convert.reservation_name(reservation_id),
            )
        if row.status != ACTIVE:
            raise InventoryError(
                RESERVATION_EXPIRED, f"Reservation {convert.reservation_name(reservation_id)} is {row.status}, not active.",
                reservation=convert.reservation_name(reservation_id), status=row.status,
            )  # fmt: skip
        return row

    async def release(self, session: AsyncSession, reservation_id: str, reason: str) -> None:
        """End an active reservation; its units become available again.
        ``reason``: order_cancelled, manual_release, order_expired or order_completed."""
        if reason not in RELEASE_REASONS:
            raise invalid("reason", f"must be one of {', '.join(sorted(RELEASE_REASONS))}", reason=reason)
        row = await self._active(session, reservation_id)
        await self._end(session, row, RELEASED, reason, "inventory.reservation_released")

    async def _end(self, session: AsyncSession, row: ReservationRow, status: str, reason: str, event: str) -> None:
        now = self.clock.now()
        if row.quantity:
            await _store.sub_reserved(
                session, row.variant_id, row.location_id, row.quantity, also_on_hand=False, now=now
            )
        row.status, row.reason, row.released_at, row.updated_at = status, reason, now, now
        record_event(
            session, event, convert.reservation_name(row.id), convert.reservation_to_proto(row), now, reason=reason
        )
        info = await _store.variant_info(session, row.variant_id)
        await _store.refresh(session, info, self.threshold, now, on_hand_changed=False)

    async def convert(
        self, session: AsyncSession, reservation_id: str, quantity: int | None = None, *, actor: str = SYSTEM_ACTOR
    ) -> None:
        """Turn ``quantity`` units (default: all) of an active reservation into a sale:
        on_hand and reserved drop by it and a "sale" movement is written. A partial
        conversion leaves the rest held; the reservation is converted when nothing is left."""
        row = await self._active(session, reservation_id)
        q = row.quantity if quantity is None else quantity
        if q <= 0 or q > row.quantity:
            raise InventoryError(
                INVALID_CONVERSION, f"Cannot convert {q} units of a reservation holding {row.quantity}.",
                requested=q, held=row.quantity, reservation=convert.reservation_name(row.id),
            )  # fmt: skip
        now = self.clock.now()
        info = await _store.variant_info(session, row.variant_id)
        await _store.sub_reserved(session, row.variant_id, row.location_id, q, also_on_hand=True, now=now)
        after = int(
            await session.scalar(
                select(InventoryLevelRow.on_hand).where(
                    InventoryLevelRow.variant_id == row.variant_id, InventoryLevelRow.location_id == row.location_id
                )
            )
            or 0
        )
        _store.add_movement(
            session, info, row.location_id, "sale", "fulfilled", -q, after + q, after, actor=actor, now=now,
            reference=row.reference,
        )  # fmt: skip
        row.quantity -= q
        row.converted_quantity += q
        row.updated_at = now
        if row.quantity == 0:
            row.status, row.reason, row.released_at = CONVERTED, "order_completed", now
        record_event(
            session,
            "inventory.reservation_converted",
            convert.reservation_name(row.id),
            convert.reservation_to_proto(row),
            now,
            quantity=q,
        )
        await _store.refresh(session, info, self.threshold, now, on_hand_changed=True)

    async def expire_due(self, session: AsyncSession, *, limit: int = 100) -> int:
        """Expire active reservations whose ``expires_at`` has passed (reason
        order_expired). Each is claimed with a conditional UPDATE, so two sweeps never
        expire one twice. Returns how many were expired."""
        now = self.clock.now()
        due = (
            await session.scalars(
                select(ReservationRow.id)
                .where(
                    ReservationRow.status == ACTIVE,
                    ReservationRow.expires_at.is_not(None),
                    ReservationRow.expires_at <= now,
                )
                .order_by(ReservationRow.expires_at)
                .limit(limit)
            )
        ).all()
        expired = 0
        for reservation_id in due:
            claimed = await session.execute(
                update(ReservationRow)
                .where(ReservationRow.id == reservation_id, ReservationRow.status == ACTIVE)
                .values(status=EXPIRED, reason="order_expired", released_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if int(claimed.rowcount) != 1:  # type: ignore[attr-defined]
                continue
            row = await session.get(ReservationRow, reservation_id, populate_existing=True)
            assert row is not None
            if row.quantity:
                await _store.sub_reserved(
                    session, row.variant_id, row.location_id, row.quantity, also_on_hand=False, now=now
                )
            record_event(
                session,
                "inventory.reservation_expired",
                convert.reservation_name(row.id),
                convert.reservation_to_proto(row),
                now,
                reason="order_expired",
            )
            info = await _store.variant_info(session, row.variant_id)
            await _store.refresh(session, info, self.threshold, now, on_hand_changed=False)
            expired += 1
        return expired

    async def default_location(self, session: AsyncSession) -> StockLocationRow:
        """The default stock location (created by the migration)."""
        return await _store.get_location(session, DEFAULT_LOCATION_ID)
