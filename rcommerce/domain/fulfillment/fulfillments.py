"""Fulfilments (core-domain §2.3, §3.13; DECISIONS 11), one transaction per command.

* create: the order must be confirmed, processing or shipped (ORDER_NOT_FULFILLABLE);
  each line at most ordered − fulfilled (INVALID_FULFILLMENT_QUANTITY, ORDER_FULFILLED);
  the order's reservations are converted (on hand drops), ``quantity_fulfilled`` grows,
  a confirmed order starts processing; events ``fulfillment.created`` and
  ``order.fulfillment_created``;
* ship: tracking number, carrier and URL; the order becomes shipped (``order.shipped``);
* deliver: when every unit is fulfilled and every fulfilment delivered the order's
  fulfilment status is delivered and the order completed (``order.delivered``);
* cancel (pending or shipped): quantities and stock roll back
  (``order.fulfillment_cancelled``).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.fulfillment import facts
from rcommerce.domain.fulfillment.convert import fulfillment_message, fulfillment_name
from rcommerce.domain.fulfillment.errors import FULFILLMENT_NOT_FOUND, ORDER_NOT_FULFILLABLE, FulfillmentError
from rcommerce.domain.fulfillment.facts import check_owner
from rcommerce.domain.fulfillment.models import FulfillmentLineRow, FulfillmentRow
from rcommerce.domain.fulfillment.rules import (
    FulfillmentState,
    check_fulfillment_quantities,
    check_fulfillment_transition,
    status_after_fulfillment,
)
from rcommerce.domain.fulfillment.stock_moves import StockMoves
from rcommerce.domain.inventory import _store
from rcommerce.domain.inventory.service import parse_location
from rcommerce.domain.orders.convert import order_name
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.domain.orders.states import SHIPPABLE, FulfillmentStatus, OrderStatus
from rcommerce.errors import invalid
from rcommerce.events import record_event
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.ids import new_id
from rcommerce.names import parse_child_name, parse_name

__all__ = ["FulfillmentService"]

FS = FulfillmentState
MAX_TRACKING = {"tracking_number": 255, "carrier": 100, "tracking_url": 2048}


class FulfillmentService:
    def __init__(self, db: Database, clock: Clock, orders: OrderRepository, moves: StockMoves) -> None:
        self.db = db
        self.clock = clock
        self.orders = orders
        self.moves = moves

    # -- reads ----------------------------------------------------------------------------
    async def _lines(self, s: AsyncSession, fulfillment_id: str) -> list[FulfillmentLineRow]:
        return list(
            await s.scalars(
                select(FulfillmentLineRow)
                .where(FulfillmentLineRow.fulfillment_id == fulfillment_id)
                .order_by(FulfillmentLineRow.id)
            )
        )

    async def _message(self, s: AsyncSession, row: FulfillmentRow, order: OrderRow | None = None) -> F.Fulfillment:
        return fulfillment_message(row, await self._lines(s, row.id), order.fulfillment_status if order else "")

    async def _row(
        self, s: AsyncSession, name: str, *, lock: bool = False, principal: Principal | None = None
    ) -> tuple[OrderRow, FulfillmentRow]:
        order_id, fulfillment_id = parse_child_name(name, "orders", "ord", "fulfillments", "ful")
        order = await self.orders.load(s, order_id, lock=lock)
        check_owner(order, principal)
        row = await s.get(FulfillmentRow, fulfillment_id, with_for_update=lock)
        if row is None or row.order_id != order_id:
            raise FulfillmentError(FULFILLMENT_NOT_FOUND, f"Fulfilment {name} does not exist.", fulfillment=name)
        return order, row

    async def get(self, name: str, principal: Principal | None = None) -> F.Fulfillment:
        async with self.db.read() as s:
            order, row = await self._row(s, name, principal=principal)
            return await self._message(s, row, order)

    async def list_fulfillments(self, parent: str, principal: Principal | None = None) -> F.ListFulfillmentsResponse:
        order_id = parse_name(parent, "orders", "ord", "parent")
        async with self.db.read() as s:
            order = await self.orders.load(s, order_id)
            check_owner(order, principal)
            rows = list(
                await s.scalars(
                    select(FulfillmentRow)
                    .where(FulfillmentRow.order_id == order_id)
                    .order_by(FulfillmentRow.created_at, FulfillmentRow.id)
                )
            )
            return F.ListFulfillmentsResponse(fulfillments=[await self._message(s, r, order) for r in rows])

    # -- create ---------------------------------------------------------------------------
    async def create(self, parent: str, request: F.Fulfillment, *, actor: str) -> F.Fulfillment:
        order_id = parse_name(parent, "orders", "ord", "parent")
        location_id = (
            parse_location(request.location, "fulfillment.location") if request.location else _store.DEFAULT_LOCATION_ID
        )
        _check_tracking(request.tracking_number, request.carrier, request.tracking_url, "fulfillment.")
        now = self.clock.now()
        async with self.db.transaction() as s:
            order = await self.orders.load(s, order_id, lock=True)
            status = OrderStatus(order.status)
            if status not in SHIPPABLE:
                raise FulfillmentError(
                    ORDER_NOT_FULFILLABLE, f"Order {order.number} is {status.value}; it cannot be fulfilled now.",
                    order=order_name(order_id), currentStatus=status.value,
                    allowedStatuses=",".join(sorted(s.value for s in SHIPPABLE)),
                )  # fmt: skip
            await _store.get_location(s, location_id)
            lines = {line.id: line for line in await self.orders.lines(s, order_id)}
            merged = check_fulfillment_quantities(
                facts.line_states(list(lines.values())),
                [(x.line_id, x.quantity) for x in request.lines],
                "fulfillment.lines",
            )
            row = FulfillmentRow(
                id=new_id("ful", now), order_id=order_id, location_id=location_id, status=FS.PENDING.value,
                tracking_number=request.tracking_number, carrier=request.carrier, tracking_url=request.tracking_url,
                cancel_reason="", shipped_at=None, delivered_at=None, cancelled_at=None, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(row)
            await s.flush()  # the parent row first: the lines reference it
            for line_id, q in merged.items():
                line = lines[line_id]
                taken = await self.moves.take(
                    s, order=order_name(order_id), variant_id=line.variant_id, quantity=q, location_id=location_id
                )
                s.add(FulfillmentLineRow(
                    id=new_id("fln", now), fulfillment_id=row.id, line_id=line_id, variant_id=line.variant_id,
                    quantity=q, stock=taken,
                ))  # fmt: skip
                line.quantity_fulfilled += q
            await self._settle(s, order, actor=actor, shipped=False, reason=f"fulfilment {row.id} created")
            summary = ", ".join(f"{lines[i].title or lines[i].sku or i} × {q}" for i, q in merged.items())
            await self.orders.add_system_note(s, order, f"Fulfilment created: {summary}.")
            await s.flush()
            message = await self._message(s, row, order)
            record_event(s, "fulfillment.created", message.name, message, now)
            await self.orders.emit(s, order, "order.fulfillment_created", fulfillment=message.name)
            return message

    async def _settle(self, s: AsyncSession, order: OrderRow, *, actor: str, shipped: bool, reason: str) -> None:
        """Recompute the derived statuses, then move the order status where it follows."""
        delivered = await facts.all_delivered(s, order.id)
        await self.orders.refresh_statuses(s, order, all_delivered=delivered, actor=actor)
        for _ in range(2):  # confirmed → shipped → completed at most
            target = status_after_fulfillment(
                OrderStatus(order.status), FulfillmentStatus(order.fulfillment_status), shipped=shipped
            )
            if target is None:
                return
            if target is OrderStatus.COMPLETED:
                await self.orders.emit(s, order, "order.delivered")
            await self.orders.transition(s, order, target, actor=actor, reason=reason)

    # -- ship, deliver, cancel ------------------------------------------------------------
    async def ship(self, request: F.ShipFulfillmentRequest, *, actor: str) -> F.Fulfillment:
        _check_tracking(request.tracking_number, request.carrier, request.tracking_url, "")
        now = self.clock.now()
        async with self.db.transaction() as s:
            order, row = await self._row(s, request.name, lock=True)
            check_fulfillment_transition(FS(row.status), FS.SHIPPED)
            row.status, row.shipped_at, row.updated_at = FS.SHIPPED.value, now, now
            row.tracking_number = request.tracking_number or row.tracking_number
            row.carrier = request.carrier or row.carrier
            row.tracking_url = request.tracking_url or row.tracking_url
            await self._settle(s, order, actor=actor, shipped=True, reason=f"fulfilment {row.id} shipped")
            tracking = f" ({row.carrier} {row.tracking_number})".rstrip() if row.tracking_number else ""
            await self.orders.add_system_note(s, order, f"Fulfilment {row.id} shipped{tracking}.")
            await s.flush()
            message = await self._message(s, row, order)
            record_event(s, "fulfillment.shipped", message.name, message, now)
            return message

    async def deliver(self, request: F.DeliverFulfillmentRequest, *, actor: str) -> F.Fulfillment:
        now = self.clock.now()
        async with self.db.transaction() as s:
            order, row = await self._row(s, request.name, lock=True)
            check_fulfillment_transition(FS(row.status), FS.DELIVERED)
            if row.shipped_at is None:
                row.shipped_at = now
            row.status, row.delivered_at, row.updated_at = FS.DELIVERED.value, now, now
            await self._settle(s, order, actor=actor, shipped=True, reason=f"fulfilment {row.id} delivered")
            await self.orders.add_system_note(s, order, f"Fulfilment {row.id} delivered.")
            await s.flush()
            message = await self._message(s, row, order)
            record_event(s, "fulfillment.delivered", message.name, message, now)
            return message

    async def cancel(self, request: F.CancelFulfillmentRequest, *, actor: str) -> F.Fulfillment:
        if len(request.reason) > 255:
            raise invalid("reason", "at most 255 characters")
        now = self.clock.now()
        async with self.db.transaction() as s:
            order, row = await self._row(s, request.name, lock=True)
            check_fulfillment_transition(FS(row.status), FS.CANCELLED)
            lines = {line.id: line for line in await self.orders.lines(s, order.id)}
            for part in await self._lines(s, row.id):
                line = lines.get(part.line_id)
                if line is not None:
                    line.quantity_fulfilled = max(0, line.quantity_fulfilled - part.quantity)
                await self.moves.put_back(
                    s, order=order_name(order.id), variant_id=part.variant_id, taken=list(part.stock),
                    note=f"fulfilment {row.id} cancelled",
                )  # fmt: skip
            row.status, row.cancelled_at, row.updated_at, row.cancel_reason = (
                FS.CANCELLED.value,
                now,
                now,
                request.reason,
            )
            await self.orders.refresh_statuses(
                s, order, all_delivered=await facts.all_delivered(s, order.id), actor=actor
            )
            await self.orders.add_system_note(
                s, order, f"Fulfilment {row.id} cancelled{': ' + request.reason if request.reason else ''}."
            )
            await s.flush()
            message = await self._message(s, row, order)
            record_event(s, "fulfillment.cancelled", message.name, message, now)
            await self.orders.emit(
                s, order, "order.fulfillment_cancelled", fulfillment=fulfillment_name(order.id, row.id)
            )
            return message


def _check_tracking(number: str, carrier: str, url: str, prefix: str) -> None:
    for field, value in (("tracking_number", number), ("carrier", carrier), ("tracking_url", url)):
        if len(value) > MAX_TRACKING[field]:
            raise invalid(f"{prefix}{field}", f"at most {MAX_TRACKING[field]} characters")
    if url and not url.startswith(("https://", "http://")):
        raise invalid(f"{prefix}tracking_url", "must be an http(s) URL")
