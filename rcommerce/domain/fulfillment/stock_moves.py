"""Stock effects of fulfilments and returns, through the inventory context's services
(DECISIONS 11), in the caller's transaction.

* fulfil: the order's active reservations of the variant (``reference`` = the order's
  name) are converted (on hand and reserved drop), the fulfilment's location first;
* cancel a fulfilment: what was converted is put back on hand (an "other" adjustment
  noting the fulfilment) and held for the order again at the same location;
* restock (a received return, a refund with restock): a "return" adjustment at the
  chosen location. Variants whose stock is not tracked are skipped.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.inventory import _store
from rcommerce.domain.inventory.ledger import Ledger
from rcommerce.domain.inventory.models import ReservationRow
from rcommerce.domain.inventory.stock import Stock

__all__ = ["StockMoves"]


class StockMoves:
    def __init__(self, stock: Stock, ledger: Ledger) -> None:
        self.stock = stock
        self.ledger = ledger

    async def take(
        self, session: AsyncSession, *, order: str, variant_id: str, quantity: int, location_id: str
    ) -> list[dict[str, Any]]:
        """Convert up to ``quantity`` reserved units; returns [{location_id, quantity}] taken.
        Units without a reservation (untracked variants, backorders) take nothing."""
        rows = list(
            await session.scalars(
                select(ReservationRow)
                .where(
                    ReservationRow.reference == order,
                    ReservationRow.variant_id == variant_id,
                    ReservationRow.status == "active",
                )
                .order_by(case((ReservationRow.location_id == location_id, 0), else_=1), ReservationRow.created_at)
            )
        )
        taken: list[dict[str, Any]] = []
        left = quantity
        for row in rows:
            if left == 0:
                break
            q = min(left, row.quantity)
            if q <= 0:
                continue
            location = row.location_id
            await self.stock.convert(session, row.id, q, actor=order)
            taken.append({"location_id": location, "quantity": q})
            left -= q
        return taken

    async def put_back(
        self, session: AsyncSession, *, order: str, variant_id: str, taken: list[dict[str, Any]], note: str
    ) -> None:
        """Undo :meth:`take`: on hand comes back and is held for the order again."""
        for part in taken:
            location, q = str(part["location_id"]), int(part["quantity"])
            await self.ledger.adjust(
                session, variant_id=variant_id, location_id=location, adjustment=q, reason="other", actor=order,
                notes=note, reference=order,
            )  # fmt: skip
            await self.stock.reserve(session, variant_id=variant_id, quantity=q, reference=order, location_id=location)

    async def restock(
        self, session: AsyncSession, *, order: str, variant_id: str, quantity: int, location_id: str, note: str
    ) -> bool:
        """A "return" adjustment of ``quantity``; False when the variant is not tracked."""
        info = (await _store.variant_infos(session, {variant_id})).get(variant_id)
        if info is None or not info.managed:
            return False
        await self.ledger.adjust(
            session, variant_id=variant_id, location_id=location_id, adjustment=quantity, reason="return", actor=order,
            notes=note, reference=order,
        )  # fmt: skip
        return True
