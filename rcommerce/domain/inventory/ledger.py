"""Changes of on hand: adjust, set, receive, transfer. Each writes its movements (the
ledger: type, reason, signed quantity, before/after, actor) and its event in the caller's
transaction, with atomic conditional UPDATEs (see ``_store``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce import money
from rcommerce.clock import Clock
from rcommerce.domain.inventory import _store, convert
from rcommerce.domain.inventory._store import VariantInfo
from rcommerce.domain.inventory.errors import (
    INSUFFICIENT_STOCK,
    INVALID_ADJUSTMENT,
    INVALID_TRANSFER,
    INVENTORY_NOT_TRACKED,
    InventoryError,
)
from rcommerce.domain.inventory.models import InventoryLevelRow, StockMovementRow
from rcommerce.errors import invalid
from rcommerce.events import record_event
from rcommerce.ids import new_id

__all__ = ["ADJUSTMENT_REASONS", "Ledger"]

#: Reasons an adjustment may give (core-domain 3.3).
ADJUSTMENT_REASONS = frozenset({"damaged", "lost", "found", "count", "return", "other"})
#: Largest quantity one command may move: far beyond any stock, far below int64.
MAX_QUANTITY = 1_000_000_000


def _check_quantity(value: int, field: str, *, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero) or value > MAX_QUANTITY:
        raise invalid(field, f"must be {'0' if allow_zero else '1'} to {MAX_QUANTITY}", value=value)


class Ledger:
    """Stock changes that move on hand. Methods take the caller's session and never commit."""

    def __init__(self, clock: Clock, *, low_stock_threshold: int = 20) -> None:
        self.clock = clock
        self.threshold = low_stock_threshold

    async def _prepare(self, session: AsyncSession, variant_id: str, location_id: str) -> VariantInfo:
        info = await _store.variant_info(session, variant_id)
        if not info.managed:
            raise InventoryError(
                INVENTORY_NOT_TRACKED,
                f"Stock of variant {variant_id} is not tracked; set manage_inventory first.",
                variant=_store.variant_of(info),
            )
        await _store.get_location(session, location_id)
        now = self.clock.now()
        await _store.ensure_levels(session, info, self.threshold, now)
        await _store.ensure_level_at(session, info, location_id, now)
        return info

    async def _finish(
        self, session: AsyncSession, info: VariantInfo, event: str, moves: list[StockMovementRow]
    ) -> list[StockMovementRow]:
        now = self.clock.now()
        await _store.refresh(session, info, self.threshold, now, on_hand_changed=True)
        proto = await _store.level_proto(session, info, self.threshold)
        record_event(
            session,
            event,
            convert.inventory_name(info.product_id, info.id),
            proto,
            now,
            movements=[m.id for m in moves],
        )
        return moves

    async def adjust(
        self, session: AsyncSession, *, variant_id: str, location_id: str, adjustment: int, reason: str, actor: str,
        notes: str = "", reference: str = "",
    ) -> list[StockMovementRow]:  # fmt: skip
        """on_hand += adjustment (signed, not zero). INVALID_ADJUSTMENT when the result
        would be negative; reason is one of ADJUSTMENT_REASONS."""
        if adjustment == 0 or abs(adjustment) > MAX_QUANTITY:
            raise invalid("adjustment", f"must be non-zero and at most {MAX_QUANTITY} in size", adjustment=adjustment)
        if reason not in ADJUSTMENT_REASONS:
            raise invalid("reason", f"must be one of {', '.join(sorted(ADJUSTMENT_REASONS))}", reason=reason)
        info = await self._prepare(session, variant_id, location_id)
        now = self.clock.now()
        changed = await _store.add_on_hand(session, info.id, location_id, adjustment, keep_available=False, now=now)
        if changed is None:
            on_hand = await session.get(InventoryLevelRow, (info.id, location_id), populate_existing=True)
            current = on_hand.on_hand if on_hand is not None else 0
            raise InventoryError(
                INVALID_ADJUSTMENT, f"Adjusting by {adjustment} would leave {current + adjustment} on hand; on hand cannot go below zero.",
                onHand=current, adjustment=adjustment, location=convert.location_name(location_id),
            )  # fmt: skip
        before, after = changed
        move = _store.add_movement(
            session, info, location_id, "adjustment", reason, adjustment, before, after, actor=actor, now=now,
            reference=reference, notes=notes,
        )  # fmt: skip
        return await self._finish(session, info, "inventory.adjusted", [move])

    async def set(
        self,
        session: AsyncSession,
        *,
        variant_id: str,
        location_id: str,
        quantity: int,
        actor: str,
        notes: str = "",
        reference: str = "",
    ) -> list[StockMovementRow]:
        """on_hand := quantity (a count). The movement holds quantity - previous on hand."""
        _check_quantity(quantity, "quantity", allow_zero=True)
        info = await self._prepare(session, variant_id, location_id)
        now = self.clock.now()
        before, after = await _store.set_on_hand(session, info.id, location_id, quantity, now)
        move = _store.add_movement(
            session, info, location_id, "set", "count", after - before, before, after, actor=actor, now=now,
            reference=reference, notes=notes,
        )  # fmt: skip
        return await self._finish(session, info, "inventory.adjusted", [move])

    async def receive(
        self, session: AsyncSession, *, variant_id: str, location_id: str, quantity: int, actor: str,
        cost_per_unit: int = 0, currency_code: str = "", notes: str = "", reference: str = "",
    ) -> list[StockMovementRow]:  # fmt: skip
        """on_hand += quantity (> 0), a "receipt" movement with the optional unit cost."""
        _check_quantity(quantity, "quantity")
        if currency_code and (not money.is_currency(currency_code) or cost_per_unit < 0):
            raise invalid("cost_per_unit", "needs an active ISO 4217 currency code and a non-negative amount")
        info = await self._prepare(session, variant_id, location_id)
        now = self.clock.now()
        changed = await _store.add_on_hand(session, info.id, location_id, quantity, keep_available=False, now=now)
        assert changed is not None
        before, after = changed
        move = _store.add_movement(
            session, info, location_id, "receipt", "received", quantity, before, after, actor=actor, now=now,
            reference=reference, notes=notes, cost_per_unit=cost_per_unit if currency_code else 0, currency_code=currency_code,
        )  # fmt: skip
        return await self._finish(session, info, "inventory.received", [move])

    async def transfer(
        self, session: AsyncSession, *, variant_id: str, from_location_id: str, to_location_id: str, quantity: int,
        actor: str, notes: str = "", reference: str = "",
    ) -> list[StockMovementRow]:  # fmt: skip
        """Move ``quantity`` available units between two locations: a transfer_out and a
        transfer_in movement sharing one transfer id. INSUFFICIENT_STOCK when the source
        has fewer available (on hand - reserved) units."""
        if from_location_id == to_location_id:
            raise InventoryError(
                INVALID_TRANSFER,
                "A transfer needs two different locations.",
                location=convert.location_name(from_location_id),
            )
        _check_quantity(quantity, "quantity")
        info = await self._prepare(session, variant_id, from_location_id)
        await _store.get_location(session, to_location_id, require_active=True)
        now = self.clock.now()
        await _store.ensure_level_at(session, info, to_location_id, now)
        transfer_id = new_id("strf", now)
        moves: dict[str, StockMovementRow] = {}
        # Lock the two levels in location id order, so opposite transfers cannot deadlock.
        for location in sorted((from_location_id, to_location_id)):
            if location == from_location_id:
                changed = await _store.add_on_hand(session, info.id, location, -quantity, keep_available=True, now=now)
                if changed is None:
                    level = await session.get(InventoryLevelRow, (info.id, location), populate_existing=True)
                    available = max(0, level.on_hand - level.reserved) if level is not None else 0
                    raise InventoryError(
                        INSUFFICIENT_STOCK, f"Only {available} of {quantity} units are available at {convert.location_name(location)}.",
                        requested=quantity, available=available, location=convert.location_name(location),
                    )  # fmt: skip
                kind, delta = "transfer_out", -quantity
            else:
                changed = await _store.add_on_hand(session, info.id, location, quantity, keep_available=False, now=now)
                assert changed is not None
                kind, delta = "transfer_in", quantity
            before, after = changed
            moves[kind] = _store.add_movement(
                session, info, location, kind, "transfer", delta, before, after, actor=actor, now=now,
                reference=reference, notes=notes, transfer_id=transfer_id,
            )  # fmt: skip
        return await self._finish(session, info, "inventory.transferred", [moves["transfer_out"], moves["transfer_in"]])
