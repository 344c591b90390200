"""What cancelling an order does to its open fulfilments (core-domain §3.11), in the
cancellation's transaction.

An order can be cancelled only while nothing has shipped (pending, confirmed,
processing, on_hold), so every fulfilment that is not already cancelled is still
*pending*: its units were taken from stock (the reservations were converted when the
fulfilment was created) but never left the building. Cancelling the order:

* cancels each pending fulfilment (``cancel_reason`` "order_cancelled"), rolls back the
  lines' ``quantity_fulfilled`` and appends ``fulfillment.cancelled``;
* with ``restock = true`` puts the converted units back on hand at the location they were
  taken from: one ``return`` adjustment per part in the inventory ledger (the *restocked*
  movement, noted "restocked: order … cancelled"), so they become available again;
* with ``restock = false`` leaves them off stock (picked goods a person will count or
  write off) and says so in a system note.

Reservations that were never converted are released by the order service either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.fulfillment.convert import fulfillment_message
from rcommerce.domain.fulfillment.models import FulfillmentLineRow, FulfillmentRow
from rcommerce.domain.fulfillment.stock_moves import StockMoves
from rcommerce.domain.orders.convert import order_name
from rcommerce.domain.orders.models import OrderLineRow, OrderRow
from rcommerce.events import record_event

__all__ = ["CancelledFulfilments", "cancel_open_fulfilments"]


@dataclass(frozen=True, slots=True)
class CancelledFulfilments:
    fulfillment_ids: tuple[str, ...]
    units: int  # units the cancelled fulfilments had taken from stock
    restocked: int  # of which put back on hand


async def cancel_open_fulfilments(
    session: AsyncSession,
    moves: StockMoves,
    order: OrderRow,
    lines: Sequence[OrderLineRow],
    *,
    restock: bool,
    now: datetime,
) -> CancelledFulfilments:
    rows = list(
        await session.scalars(
            select(FulfillmentRow)
            .where(FulfillmentRow.order_id == order.id, FulfillmentRow.status == "pending")
            .order_by(FulfillmentRow.created_at, FulfillmentRow.id)
            .with_for_update()
        )
    )
    by_id = {line.id: line for line in lines}
    name = order_name(order.id)
    units = restocked = 0
    for row in rows:
        parts = list(
            await session.scalars(
                select(FulfillmentLineRow)
                .where(FulfillmentLineRow.fulfillment_id == row.id)
                .order_by(FulfillmentLineRow.id)
            )
        )
        for part in parts:
            line = by_id.get(part.line_id)
            if line is not None:
                line.quantity_fulfilled = max(0, line.quantity_fulfilled - part.quantity)
            for taken in part.stock:
                location, quantity = str(taken["location_id"]), int(taken["quantity"])
                units += quantity
                if restock and quantity > 0:
                    done = await moves.restock(
                        session, order=name, variant_id=part.variant_id, quantity=quantity, location_id=location,
                        note=f"restocked: order {order.number} cancelled (fulfilment {row.id})",
                    )  # fmt: skip
                    restocked += quantity if done else 0
        row.status, row.cancel_reason, row.cancelled_at, row.updated_at = "cancelled", "order_cancelled", now, now
        await session.flush()
        message = fulfillment_message(row, parts)
        record_event(session, "fulfillment.cancelled", message.name, message, now)
    return CancelledFulfilments(tuple(r.id for r in rows), units, restocked)
