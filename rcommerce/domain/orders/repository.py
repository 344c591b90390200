"""The order aggregate's helpers, shared by every context that changes orders.

All of them work in the caller's ``AsyncSession`` (one command, one transaction):

- :meth:`OrderRepository.load` / :meth:`~OrderRepository.load_by_number` — the order row
  (``lock=True``: ``SELECT ... FOR UPDATE``), else ORDER_NOT_FOUND;
- :meth:`~OrderRepository.lines` — its lines in position order;
- :meth:`~OrderRepository.transition` — moves ``status`` along ``states.ORDER_TRANSITIONS``
  (else INVALID_STATUS_TRANSITION with ``currentStatus``, ``targetStatus``,
  ``allowedStatuses``), stamps confirmed/cancelled/completed times, writes the status
  history (actor, reason) and appends ``order.<status>`` to the outbox;
- :meth:`~OrderRepository.refresh_statuses` — recomputes ``payment_status`` from the
  order's payments and ``fulfillment_status`` from the line quantities via
  ``states.derive_*``; a pending order whose payment is authorized or paid becomes
  confirmed, and one whose refunds reach what was captured becomes refunded; appends
  ``order.paid`` / ``order.payment_failed`` / ``order.payment_voided`` /
  ``order.fulfillment_status_changed`` when those change;
- :meth:`~OrderRepository.add_system_note` — a note authored by "System";
- :meth:`~OrderRepository.attach_payments` — re-references payments to the order;
- :meth:`~OrderRepository.emit` — flushes and appends an event with the order message.

Payments are read from the payments context's table directly (read only): the
payments service has no session-level query, and the derived status must be computed
in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.domain.orders import convert
from rcommerce.domain.orders.errors import INVALID_STATUS_TRANSITION, ORDER_NOT_FOUND, OrderError
from rcommerce.domain.orders.models import (
    OrderLineRow,
    OrderNoteRow,
    OrderNumberCounterRow,
    OrderRow,
    OrderStatusChangeRow,
)
from rcommerce.domain.orders.states import (
    FulfillmentStatus,
    LineQuantities,
    OrderStatus,
    PaymentStatus,
    PaymentTotals,
    allowed_targets,
    balance_due,
    can_transition,
    derive_fulfillment_status,
    derive_payment_status,
)
from rcommerce.domain.payments.errors import PAYMENT_NOT_FOUND
from rcommerce.domain.payments.models import PaymentRow
from rcommerce.events import record_event
from rcommerce.gen.v1 import orders_pb2
from rcommerce.ids import new_id

__all__ = ["COUNTER", "SYSTEM_ACTOR", "OrderRepository", "next_number"]

COUNTER = "default"
SYSTEM_ACTOR = "system"
FIRST_NUMBER = 1001

#: Outbox event per target status.
STATUS_EVENTS = {
    OrderStatus.PENDING: "order.released",
    OrderStatus.CONFIRMED: "order.confirmed",
    OrderStatus.PROCESSING: "order.processing_started",
    OrderStatus.ON_HOLD: "order.on_hold",
    OrderStatus.SHIPPED: "order.shipped",
    OrderStatus.COMPLETED: "order.completed",
    OrderStatus.CANCELLED: "order.cancelled",
    OrderStatus.REFUNDED: "order.refunded",
}
_PAYMENT_EVENTS = {
    PaymentStatus.PAID: "order.paid",
    PaymentStatus.FAILED: "order.payment_failed",
    PaymentStatus.VOIDED: "order.payment_voided",
    PaymentStatus.AUTHORIZED: "order.payment_authorized",
    PaymentStatus.PARTIALLY_REFUNDED: "order.partially_refunded",
}


async def next_number(session: AsyncSession) -> int:
    """The next order number of the store, race-free on every database.

    ``UPDATE counters SET value = value + 1`` takes the counter row's write lock until
    the caller's transaction ends (SQLite: the database write lock of BEGIN IMMEDIATE),
    so concurrent placements queue on it and each reads its own increment; a rolled-back
    placement gives its number back, so numbers stay consecutive.
    """
    bump = (
        update(OrderNumberCounterRow)
        .where(OrderNumberCounterRow.name == COUNTER)
        .values(value=OrderNumberCounterRow.value + 1)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(await session.execute(bump)) == 0:
        try:
            async with session.begin_nested():
                session.add(OrderNumberCounterRow(name=COUNTER, value=FIRST_NUMBER))
                await session.flush()
            return FIRST_NUMBER
        except IntegrityError:
            await session.execute(bump)
    value = await session.scalar(
        select(OrderNumberCounterRow.value)
        .where(OrderNumberCounterRow.name == COUNTER)
        .execution_options(populate_existing=True)
    )
    return int(value or FIRST_NUMBER)


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def not_found(name: str) -> OrderError:
    return OrderError(ORDER_NOT_FOUND, f"Order {name} does not exist.", order=name)


class OrderRepository:
    """Loads and changes orders in the caller's session (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    # -- reads ----------------------------------------------------------------------------
    async def load(self, session: AsyncSession, order_id: str, *, lock: bool = False) -> OrderRow:
        query = select(OrderRow).where(OrderRow.id == order_id)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        row = await session.scalar(query)
        if row is None:
            raise not_found(convert.order_name(order_id))
        return row

    async def load_by_number(self, session: AsyncSession, number: str, *, lock: bool = False) -> OrderRow:
        query = select(OrderRow).where(OrderRow.number == number)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        row = await session.scalar(query)
        if row is None:
            raise not_found(f"orders/{number}")
        return row

    @staticmethod
    async def lines(session: AsyncSession, order_id: str) -> list[OrderLineRow]:
        rows = await session.scalars(
            select(OrderLineRow).where(OrderLineRow.order_id == order_id).order_by(OrderLineRow.position)
        )
        return list(rows)

    @staticmethod
    async def payments(session: AsyncSession, order_ids: Collection[str]) -> dict[str, list[PaymentRow]]:
        """The payments of each order, oldest first (one query)."""
        out: dict[str, list[PaymentRow]] = {oid: [] for oid in order_ids}
        if not order_ids:
            return out
        rows = await session.scalars(
            select(PaymentRow)
            .where(PaymentRow.target.in_([convert.order_name(oid) for oid in order_ids]))
            .order_by(PaymentRow.created_at, PaymentRow.id)
        )
        for row in rows:
            out[row.target.removeprefix("orders/")].append(row)
        return out

    async def message(
        self,
        session: AsyncSession,
        row: OrderRow,
        *,
        staff: bool = True,
        lines: Sequence[OrderLineRow] | None = None,
        payments: Sequence[PaymentRow] | None = None,
    ) -> orders_pb2.Order:
        """The order's message; ``lines``/``payments`` just read in this transaction are
        used as they are instead of being read again."""
        if lines is None:
            lines = await self.lines(session, row.id)
        if payments is None:
            payments = (await self.payments(session, [row.id]))[row.id]
        due = balance_due(payment_totals(row.total, payments))
        return convert.order_message(row, lines, [p.id for p in payments], staff=staff, balance_due=due)

    # -- writes ---------------------------------------------------------------------------
    def touch(self, row: OrderRow, now: datetime | None = None) -> None:
        row.revision += 1
        row.updated_at = now or self.clock.now()

    async def emit(
        self,
        session: AsyncSession,
        row: OrderRow,
        event: str,
        *,
        lines: Sequence[OrderLineRow] | None = None,
        payments: Sequence[PaymentRow] | None = None,
        **extra: Any,
    ) -> orders_pb2.Order:
        """Flush and append ``event`` with the order's current message to the outbox
        (``lines``/``payments``: as for :meth:`message`)."""
        await session.flush()
        message = await self.message(session, row, lines=lines, payments=payments)
        record_event(session, event, message.name, message, self.clock.now(), **extra)
        return message

    async def transition(
        self, session: AsyncSession, row: OrderRow, target: OrderStatus | str, *, actor: str, reason: str
    ) -> None:
        """Move ``row`` to ``target`` or raise INVALID_STATUS_TRANSITION (nothing changes)."""
        current, goal = OrderStatus(row.status), OrderStatus(target)
        if not can_transition(current, goal):
            allowed = allowed_targets(current)
            raise OrderError(
                INVALID_STATUS_TRANSITION,
                f"Order {row.number} is {current.value} and cannot become {goal.value}; "
                f"allowed: {', '.join(allowed) or 'none'}.",
                order=convert.order_name(row.id), currentStatus=current.value, targetStatus=goal.value,
                allowedStatuses=",".join(allowed),
            )  # fmt: skip
        now = self.clock.now()
        row.status = goal.value
        if goal is OrderStatus.CONFIRMED and row.confirmed_at is None:
            row.confirmed_at = now
        elif goal is OrderStatus.CANCELLED:
            row.cancelled_at = now
        elif goal is OrderStatus.COMPLETED:
            row.completed_at = now
        if goal is not OrderStatus.ON_HOLD:
            row.hold_reason = ""
        session.add(
            OrderStatusChangeRow(
                id=new_id("osc", now), order_id=row.id, from_status=current.value, to_status=goal.value,
                actor=actor[:100], reason=reason[:255], created_at=now,
            )
        )  # fmt: skip
        self.touch(row, now)
        await self.emit(session, row, STATUS_EVENTS[goal], previousStatus=current.value, actor=actor, reason=reason)

    async def refresh_statuses(
        self, session: AsyncSession, row: OrderRow, *, all_delivered: bool | None = None, actor: str = SYSTEM_ACTOR
    ) -> None:
        """Recompute payment_status and fulfillment_status from the facts.

        ``all_delivered``: whether every fulfilment of the order is delivered (the
        fulfilment context knows); None keeps what the order already says.
        """
        payments = (await self.payments(session, [row.id]))[row.id]
        paid = derive_payment_status(payment_totals(row.total, payments))
        lines = await self.lines(session, row.id)
        delivered = row.fulfillment_status == FulfillmentStatus.DELIVERED if all_delivered is None else all_delivered
        shipped = derive_fulfillment_status(
            (LineQuantities(line.quantity, line.quantity_fulfilled, line.quantity_returned) for line in lines
             if line.requires_shipping),
            all_delivered=delivered,
        )  # fmt: skip
        old_paid, old_shipped = row.payment_status, row.fulfillment_status
        changed = paid.value != old_paid or shipped.value != old_shipped
        row.payment_status, row.fulfillment_status = paid.value, shipped.value
        if changed:
            self.touch(row)
        if paid.value != old_paid and paid in _PAYMENT_EVENTS:
            await self.emit(
                session, row, _PAYMENT_EVENTS[paid], lines=lines, payments=payments, previousPaymentStatus=old_paid
            )
        if shipped.value != old_shipped:
            await self.emit(
                session, row, "order.fulfillment_status_changed", lines=lines, payments=payments,
                previousFulfillmentStatus=old_shipped,
            )  # fmt: skip
        status = OrderStatus(row.status)
        if status is OrderStatus.PENDING and paid in (PaymentStatus.AUTHORIZED, PaymentStatus.PAID):
            await self.transition(session, row, OrderStatus.CONFIRMED, actor=actor, reason=f"payment {paid.value}")
        elif paid is PaymentStatus.REFUNDED and can_transition(status, OrderStatus.REFUNDED):
            await self.transition(session, row, OrderStatus.REFUNDED, actor=actor, reason="refunds reached the total")

    async def add_system_note(
        self, session: AsyncSession, row: OrderRow, text: str, *, customer_visible: bool = False
    ) -> OrderNoteRow:
        now = self.clock.now()
        note = OrderNoteRow(
            id=new_id("onot", now), order_id=row.id, body=text, customer_visible=customer_visible,
            author_name="System", author="", system=True, created_at=now,
        )  # fmt: skip
        session.add(note)
        return note

    @staticmethod
    async def attach_payments(session: AsyncSession, order_id: str, payment_ids: Sequence[str]) -> None:
        """Point the payments at the order ("orders/ord_..."); PAYMENT_NOT_FOUND for an unknown id."""
        ids = list(dict.fromkeys(payment_ids))
        if not ids:
            return
        found = set((await session.scalars(select(PaymentRow.id).where(PaymentRow.id.in_(ids)))).all())
        missing = [pid for pid in ids if pid not in found]
        if missing:
            raise OrderError(
                PAYMENT_NOT_FOUND, f"Payment payments/{missing[0]} does not exist.", payment=f"payments/{missing[0]}"
            )
        await session.execute(
            update(PaymentRow)
            .where(PaymentRow.id.in_(ids))
            .values(target=convert.order_name(order_id))
            .execution_options(synchronize_session=False)
        )


def payment_totals(total: int, payments: Sequence[PaymentRow]) -> PaymentTotals:
    """Sums over the order's payments for ``states.derive_payment_status``."""
    authorized = captured = refunded = voided = failed = 0
    for p in payments:
        if p.status == "authorized":
            authorized += p.amount_authorized or p.amount
        elif p.status == "cancelled" and p.amount_authorized:
            voided += p.amount_authorized
        elif p.status == "failed":
            failed += 1
        captured += p.amount_captured
        refunded += p.amount_refunded
    return PaymentTotals(total, authorized, captured, refunded, voided, failed)
