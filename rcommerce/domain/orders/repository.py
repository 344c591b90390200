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
- :meth:`~OrderRepository.refresh_from_payments` — the same for an order the transaction
  holds no mapped object of: read with Core, written with one ``UPDATE`` of the changed
  columns; :meth:`~OrderRepository.on_payment_changed` runs it in every transaction that
  moves one of the order's payments (the payments context's target observer);
- :meth:`~OrderRepository.add_system_note` — a note authored by "System";
- :meth:`~OrderRepository.attach_payments` — re-references payments to the order;
- :meth:`~OrderRepository.emit` — flushes and appends an event with the order message.

Payments are read from the payments context's table directly (read only): the
payments service has no session-level query, and the derived status must be computed
in the caller's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Row, Table, bindparam, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.db.base import Base
from rcommerce.db.capabilities import update_returning
from rcommerce.db.locked_read import LockedWithChildren
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
from rcommerce.domain.payments.records import PAYMENTS
from rcommerce.events import record_event
from rcommerce.gen.v1 import orders_pb2
from rcommerce.ids import new_id

log = logging.getLogger(__name__)

__all__ = ["COUNTER", "PAYMENT_FIGURES", "SYSTEM_ACTOR", "OrderRepository", "next_number", "payment_figures"]

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


# Reads of every order change, built once (their compiled form and cache key are reused)
# and executed with parameters.
_LOCKED_ORDER = (
    select(OrderRow)
    .where(OrderRow.id == bindparam("order_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_LINES = select(OrderLineRow).where(OrderLineRow.order_id == bindparam("order_id")).order_by(OrderLineRow.position)
_PAYMENTS = (
    select(PaymentRow)
    .where(PaymentRow.target.in_(bindparam("targets", expanding=True)))
    .order_by(PaymentRow.created_at, PaymentRow.id)
)

_Model = TypeVar("_Model", bound=Base)


@cache
def _attributes(model: type[Base]) -> tuple[Table, tuple[str, ...]]:
    """The model's table and its column attributes (named as their columns)."""
    mapper = inspect(model)
    table = mapper.local_table
    assert isinstance(table, Table)
    names = tuple(prop.key for prop in mapper.column_attrs)
    assert all(prop.columns[0].key == prop.key for prop in mapper.column_attrs)
    return table, names


def _transient(model: type[_Model], names: Sequence[str], values: Sequence[Any]) -> _Model:
    """A transient ``model`` object (no session) holding ``values`` read with Core, made
    as the ORM's loader makes them (its ``__init__`` would fire an event per attribute)."""
    obj = cast(_Model, inspect(model).class_manager.new_instance())
    obj.__dict__.update(zip(names, values, strict=True))
    return obj


ORDERS, ORDER_COLUMNS = _attributes(OrderRow)
LINES, LINE_COLUMNS = _attributes(OrderLineRow)
#: What ``payment_totals`` and the order message read of a payment, and its age (the
#: order lists its payments oldest first).
PAYMENT_FIGURES = (
    "id", "status", "amount", "amount_authorized", "amount_captured", "amount_refunded", "created_at",
)  # fmt: skip
_CORE_PAYMENTS = (
    select(*(PAYMENTS.c[name] for name in PAYMENT_FIGURES))
    .where(PAYMENTS.c.target == bindparam("target"))
    .order_by(PAYMENTS.c.created_at, PAYMENTS.c.id)
)
#: The order FOR UPDATE with its lines.
_LOCKED_ORDER_WITH_LINES = LockedWithChildren(ORDERS, ORDER_COLUMNS, "id", LINES, LINE_COLUMNS, "order_id", "position")
#: The columns to set come with the parameters.
_UPDATE_ORDER = update(ORDERS).where(ORDERS.c.id == bindparam("id_"))


def payment_figures(rows: Sequence[Row[Any]]) -> list[PaymentRow]:
    """Payments read with Core as the columns of ``PAYMENT_FIGURES``, as transient
    ``PaymentRow`` objects holding only those (for ``payment_totals`` and messages)."""
    return [_transient(PaymentRow, PAYMENT_FIGURES, row) for row in rows]


async def next_number(session: AsyncSession) -> int:
    """The next order number of the store, race-free on every database.

    ``UPDATE counters SET value = value + 1`` takes the counter row's write lock until
    the caller's transaction ends (SQLite: the database write lock of BEGIN IMMEDIATE),
    so concurrent placements queue on it and each reads its own increment; a rolled-back
    placement gives its number back, so numbers stay consecutive. Where the database
    answers UPDATE ... RETURNING (not MariaDB) the increment is read in the same statement.
    """
    bump = (
        update(OrderNumberCounterRow)
        .where(OrderNumberCounterRow.name == COUNTER)
        .values(value=OrderNumberCounterRow.value + 1)
        .execution_options(synchronize_session=False)
    )
    if update_returning(session):
        bumped = await session.scalar(bump.returning(OrderNumberCounterRow.value))
        if bumped is not None:
            return int(bumped)
    elif _rowcount(await session.execute(bump)) != 0:
        return await _counter_value(session)
    try:
        async with session.begin_nested():
            session.add(OrderNumberCounterRow(name=COUNTER, value=FIRST_NUMBER))
            await session.flush()
        return FIRST_NUMBER
    except IntegrityError:
        await session.execute(bump)
    return await _counter_value(session)


async def _counter_value(session: AsyncSession) -> int:
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
        if lock:
            row = await session.scalar(_LOCKED_ORDER, {"order_id": order_id})
        else:
            row = await session.scalar(select(OrderRow).where(OrderRow.id == order_id))
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
        return list(await session.scalars(_LINES, {"order_id": order_id}))

    @staticmethod
    async def payments(session: AsyncSession, order_ids: Collection[str]) -> dict[str, list[PaymentRow]]:
        """The payments of each order, oldest first (one query)."""
        out: dict[str, list[PaymentRow]] = {oid: [] for oid in order_ids}
        if not order_ids:
            return out
        rows = await session.scalars(_PAYMENTS, {"targets": [convert.order_name(oid) for oid in order_ids]})
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
        """Append ``event`` with the order's current message to the outbox (``lines``/
        ``payments``: as for :meth:`message`; flushed first when it reads them)."""
        if lines is None or payments is None:
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
        lines = await self.lines(session, row.id)
        await self._refresh(session, row, lines, payments, all_delivered=all_delivered, actor=actor)

    async def on_payment_changed(self, session: AsyncSession, target: str) -> None:
        """Observer of the payments context for "orders/..." targets: the order's
        statuses derived again in the transaction that captured, refunded, voided or
        disputed one of its payments, whoever did (the checkout, an RPC, a webhook)."""
        try:
            await self.refresh_from_payments(session, target.removeprefix("orders/"))
        except OrderError as exc:
            if exc.reason is not ORDER_NOT_FOUND:
                raise
            log.warning("payment target %s names no order; no order status to derive", target)

    async def refresh_from_payments(self, session: AsyncSession, order_id: str, *, actor: str = SYSTEM_ACTOR) -> None:
        """``refresh_statuses(session, await load(session, order_id, lock=True))`` for a
        transaction that holds no mapped object of the order, its lines or its payments
        (a payment operation, whose payment is written with Core): the same lock, rows
        and events, the order, lines and payment figures read with prebuilt Core
        statements and the order's changed columns written with one ``UPDATE``."""
        read = await _LOCKED_ORDER_WITH_LINES.read(session, order_id)
        if read is None:
            raise not_found(convert.order_name(order_id))
        found, line_values = read
        row = _transient(OrderRow, ORDER_COLUMNS, found)
        lines = [_transient(OrderLineRow, LINE_COLUMNS, values) for values in line_values]
        payments = payment_figures(
            (await session.execute(_CORE_PAYMENTS, {"target": convert.order_name(order_id)})).all()
        )
        await self._refresh(session, row, lines, payments, all_delivered=None, actor=actor)
        changed = {
            name: value
            for name, before in zip(ORDER_COLUMNS, found, strict=True)
            if (value := getattr(row, name)) != before
        }
        if changed:
            await session.execute(_UPDATE_ORDER, {"id_": order_id, **changed})

    async def _refresh(
        self,
        session: AsyncSession,
        row: OrderRow,
        lines: Sequence[OrderLineRow],
        payments: Sequence[PaymentRow],
        *,
        all_delivered: bool | None,
        actor: str,
    ) -> None:
        """The rules of :meth:`refresh_statuses` over the order's current lines and payments."""
        paid = derive_payment_status(payment_totals(row.total, payments))
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
