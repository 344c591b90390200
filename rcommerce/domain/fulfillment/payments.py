"""Money on orders: capture, void and refunds (core-domain §2.2, §3.12, R19, R20, Ex5).

Money moves only through :class:`~rcommerce.domain.payments.service.PaymentService`,
which talks to gateways outside any database transaction (claim, call, apply). An order
command therefore runs in three steps:

1. one transaction validates against the order and its payments ledger and, for a
   refund, records the refund as ``pending`` under the caller's idempotency key (so its
   amount already counts against R19 and a retry resumes it);
2. each payment is captured, voided or refunded with the key ``"<key>:<payment id>"``
   (a retry replays what already happened at the gateway);
3. one transaction marks the refund succeeded, restocks, recomputes the order's
   derived statuses (``OrderRepository.refresh_statuses``: ``order.paid``, the move to
   ``refunded`` ...), writes a system note and the ``refund.created`` event.

A failure in step 2 (gateway error, decline) answers that error; a refund stays
pending and the same request with the same key finishes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce import money
from rcommerce.clock import Clock
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.fulfillment import facts
from rcommerce.domain.fulfillment.convert import refund_message, refund_name
from rcommerce.domain.fulfillment.errors import NOTHING_TO_VOID, ORDER_NOT_REFUNDABLE, FulfillmentError
from rcommerce.domain.fulfillment.models import OrderChangeRow, OrderRefundLineRow, OrderRefundRow
from rcommerce.domain.fulfillment.rules import (
    allocate_capture,
    allocate_refund,
    check_refund_amount,
    check_refund_quantities,
    line_refund_amount,
)
from rcommerce.domain.fulfillment.stock_moves import StockMoves
from rcommerce.domain.inventory import _store
from rcommerce.domain.inventory.service import parse_location
from rcommerce.domain.orders.convert import order_name
from rcommerce.domain.orders.models import OrderLineRow, OrderRow
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.domain.orders.states import REFUNDABLE, OrderStatus
from rcommerce.domain.payments import idempotency
from rcommerce.domain.payments.errors import IDEMPOTENCY_KEY_REUSED
from rcommerce.domain.payments.models import IdempotencyKeyRow
from rcommerce.domain.payments.service import PaymentService
from rcommerce.errors import invalid
from rcommerce.events import record_event
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.ids import new_id
from rcommerce.names import parse_name
from rcommerce.plugins.providers import REFUND_REASONS

__all__ = ["MAX_KEY_LENGTH", "OrderPayments"]

#: The caller's key plus ":pay_..." must fit the payments context's 255 characters.
MAX_KEY_LENGTH = 200
PENDING, SUCCEEDED = "pending", "succeeded"


def _key(value: str) -> str:
    key = idempotency.check_key(value)
    if len(key) > MAX_KEY_LENGTH:
        raise invalid("idempotency_key", f"at most {MAX_KEY_LENGTH} characters")
    return key


def check_refundable(row: OrderRow) -> None:
    status = OrderStatus(row.status)
    if status not in REFUNDABLE:
        raise FulfillmentError(
            ORDER_NOT_REFUNDABLE, f"Order {row.number} is {status.value}; refunds and returns are not possible.",
            order=order_name(row.id), currentStatus=status.value,
            allowedStatuses=",".join(sorted(s.value for s in REFUNDABLE)),
        )  # fmt: skip


def line_paid(line: OrderLineRow, prices_include_tax: bool) -> int:
    """What the line cost the buyer: its total after discount, plus tax unless included."""
    return line.total + (0 if prices_include_tax else line.tax)


class OrderPayments:
    """Capture, void and refund on orders (see the module docstring)."""

    def __init__(
        self, db: Database, clock: Clock, payments: PaymentService, orders: OrderRepository, moves: StockMoves
    ) -> None:
        self.db = db
        self.clock = clock
        self.payments = payments
        self.orders = orders
        self.moves = moves

    # -- read ---------------------------------------------------------------------------
    async def get_summary(self, name: str) -> F.OrderPaymentSummary:
        order_id = parse_name(name, "orders", "ord")
        async with self.db.read() as s:
            row = await self.orders.load(s, order_id)
            return await facts.summary(s, self.orders, row)

    async def list_refunds(self, parent: str) -> F.ListOrderRefundsResponse:
        order_id = parse_name(parent, "orders", "ord", "parent")
        async with self.db.read() as s:
            await self.orders.load(s, order_id)
            rows = list(
                await s.scalars(
                    select(OrderRefundRow)
                    .where(OrderRefundRow.order_id == order_id)
                    .order_by(OrderRefundRow.created_at, OrderRefundRow.id)
                )
            )
            return F.ListOrderRefundsResponse(refunds=[await self._refund_message(s, r) for r in rows])

    async def _refund_message(
        self, s: AsyncSession, row: OrderRefundRow, summary: F.OrderPaymentSummary | None = None
    ) -> F.OrderRefund:
        lines = list(
            await s.scalars(
                select(OrderRefundLineRow).where(OrderRefundLineRow.refund_id == row.id).order_by(OrderRefundLineRow.id)
            )
        )
        return refund_message(row, lines, summary)

    # -- capture and void -----------------------------------------------------------------
    async def _done_before(self, key: str, operation: str) -> bool:
        async with self.db.read() as s:
            found = await s.scalar(
                select(IdempotencyKeyRow.key)
                .where(IdempotencyKeyRow.key.startswith(f"{key}:"), IdempotencyKeyRow.operation == operation)
                .limit(1)
            )
        return found is not None

    async def capture(self, request: F.CaptureOrderPaymentRequest) -> F.OrderPaymentSummary:
        order_id = parse_name(request.name, "orders", "ord")
        return await self.capture_order_payments(order_id, request.amount, request.idempotency_key)

    async def capture_order_payments(self, order_id: str, amount: int, idempotency_key: str) -> F.OrderPaymentSummary:
        """Capture ``amount`` (0 = everything authorized) of the order's payments, oldest
        first. The checkout calls this after placement in automatic-capture regions; it
        runs its own transactions (gateways are never called inside one). A replay of a
        finished key answers the current summary."""
        key = _key(idempotency_key)
        async with self.db.read() as s:
            row = await self.orders.load(s, order_id)
            payments = (await self.orders.payments(s, [order_id]))[order_id]
            slices = facts.payment_slices(payments)
            if not any(p.capturable for p in slices) and await self._done_before(key, "CapturePayment"):
                return await facts.summary(s, self.orders, row)
            plan = allocate_capture(slices, amount)
        try:
            for payment_id, part in plan:
                await self.payments.capture(
                    P.CapturePaymentRequest(
                        name=f"payments/{payment_id}", amount=part, idempotency_key=f"{key}:{payment_id}"
                    )
                )
        finally:
            await self._refresh(order_id, f"Captured {self._money(plan, row.currency)}.")
        return await self.get_summary(order_name(order_id))

    async def void(self, request: F.VoidOrderPaymentRequest) -> F.OrderPaymentSummary:
        order_id = parse_name(request.name, "orders", "ord")
        key = _key(request.idempotency_key)
        async with self.db.read() as s:
            row = await self.orders.load(s, order_id)
            payments = (await self.orders.payments(s, [order_id]))[order_id]
            open_ = [p.id for p in payments if p.status in ("authorized", "pending", "requires_action")]
            if not open_:
                if await self._done_before(key, "VoidPayment"):
                    return await facts.summary(s, self.orders, row)
                raise FulfillmentError(
                    NOTHING_TO_VOID,
                    f"Order {row.number} has no uncaptured payment to void.",
                    order=order_name(order_id),
                )
        try:
            for payment_id in open_:
                await self.payments.void(
                    P.VoidPaymentRequest(name=f"payments/{payment_id}", idempotency_key=f"{key}:{payment_id}")
                )
        finally:
            await self._refresh(order_id, f"Voided {len(open_)} payment(s).")
        return await self.get_summary(order_name(order_id))

    @staticmethod
    def _money(plan: list[tuple[str, int]], currency: str) -> str:
        return f"{money.format_amount(sum(a for _, a in plan), currency)} {currency}"

    async def _refresh(self, order_id: str, note: str) -> None:
        async with self.db.transaction() as s:
            row = await self.orders.load(s, order_id, lock=True)
            await self.orders.refresh_statuses(s, row, all_delivered=await facts.all_delivered(s, order_id))
            await self.orders.add_system_note(s, row, note)

    # -- refunds --------------------------------------------------------------------------
    async def refund(self, request: F.RefundOrderRequest, *, change_id: str = "") -> F.OrderRefund:
        """Refund an amount or lines (R19 cap, R20 line worth); see the module docstring."""
        order_id = parse_name(request.name, "orders", "ord")
        key = _key(request.idempotency_key)
        digest = idempotency.request_hash("RefundOrder", request)
        reason = request.reason or "requested_by_customer"
        if reason not in REFUND_REASONS:
            raise invalid("reason", f"must be one of {', '.join(REFUND_REASONS)}")
        location_id = parse_location(request.location, "location") if request.location else _store.DEFAULT_LOCATION_ID
        refund_id = await self._existing(key, digest)
        if refund_id is None:
            refund_id = await self._claim(order_id, key, digest, request, reason, location_id, change_id)
        async with self.db.read() as s:
            refund = await s.get(OrderRefundRow, refund_id)
            assert refund is not None
            if refund.status == SUCCEEDED:
                return await self._refund_message(
                    s, refund, await facts.summary(s, self.orders, await self.orders.load(s, order_id))
                )
            plan = [(str(pid), int(amount)) for pid, amount in refund.payments.items()]
        for payment_id, part in plan:
            await self.payments.refund(
                P.RefundPaymentRequest(
                    name=f"payments/{payment_id}", amount=part, reason=reason, idempotency_key=f"{key}:{payment_id}"
                )
            )
        return await self._finish(order_id, refund_id)

    async def _existing(self, key: str, digest: str) -> str | None:
        async with self.db.read() as s:
            row = await s.scalar(select(OrderRefundRow).where(OrderRefundRow.idempotency_key == key))
            if row is None:
                return None
            if row.request_hash != digest:
                raise FulfillmentError(
                    IDEMPOTENCY_KEY_REUSED,
                    f"The idempotency key {key!r} was already used with a different request; use a new key.",
                    idempotencyKey=key, operation="RefundOrder",
                )  # fmt: skip
            return row.id

    async def _claim(
        self, order_id: str, key: str, digest: str, request: F.RefundOrderRequest, reason: str, location_id: str,
        change_id: str,
    ) -> str:  # fmt: skip
        now = self.clock.now()
        try:
            async with self.db.transaction() as s:
                row = await self.orders.load(s, order_id, lock=True)
                if request.location:
                    await _store.get_location(s, location_id)
                lines = {line.id: line for line in await self.orders.lines(s, order_id)}
                refunded = await facts.refunded_units(s, order_id)
                states = facts.line_states(list(lines.values()), refunded)
                merged = (
                    check_refund_quantities(states, [(x.line_id, x.quantity) for x in request.lines])
                    if request.lines
                    else {}
                )
                parts = {
                    line_id: line_refund_amount(
                        line_paid(lines[line_id], row.prices_include_tax), lines[line_id].quantity, refunded.get(line_id, 0), q
                    )
                    for line_id, q in merged.items()
                }  # fmt: skip
                if request.amount < 0:
                    raise invalid("amount", "must not be negative (minor units)")
                if not merged and request.amount == 0:
                    raise invalid("amount", "required (minor units) when no lines are refunded")
                amount = request.amount or sum(parts.values())
                payments = (await self.orders.payments(s, [order_id]))[order_id]
                captured = sum(p.amount_captured for p in payments)
                refunded_money = sum(p.amount_refunded for p in payments) + await facts.pending_refunds(s, order_id)
                check_refund_amount(amount, captured=captured, refunded=refunded_money)  # Ex5 step 4 first
                check_refundable(row)
                plan = allocate_refund(facts.payment_slices(payments), amount)
                refund = OrderRefundRow(
                    id=new_id("rfd", now), order_id=order_id, idempotency_key=key, request_hash=digest, status=PENDING,
                    amount=amount, currency=row.currency, reason=reason, note=request.note, payments=dict(plan),
                    restock=request.restock, location_id=location_id, change_id=change_id, created_at=now, updated_at=now,
                )  # fmt: skip
                s.add(refund)
                await s.flush()  # the parent row first: the lines reference it
                for line_id, q in merged.items():
                    s.add(OrderRefundLineRow(
                        id=new_id("rfl", now), refund_id=refund.id, line_id=line_id, quantity=q, amount=parts[line_id],
                        restocked=False,
                    ))  # fmt: skip
                return refund.id
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            found = await self._existing(key, digest)
            if found is None:
                raise
            return found

    async def _finish(self, order_id: str, refund_id: str) -> F.OrderRefund:
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await self.orders.load(s, order_id, lock=True)
            refund = await s.get(OrderRefundRow, refund_id, with_for_update=True, populate_existing=True)
            assert refund is not None
            if refund.status != SUCCEEDED:
                refund.status, refund.updated_at = SUCCEEDED, now
                await self._restock(s, row, refund, now)
                if refund.change_id:
                    change = await s.get(OrderChangeRow, refund.change_id, with_for_update=True)
                    if change is not None:
                        change.refunded_amount += refund.amount
                        change.updated_at = now
                text = f"Refunded {money.format_amount(refund.amount, refund.currency)} {refund.currency}"
                await self.orders.add_system_note(s, row, f"{text} ({refund.reason}).")
                await self.orders.refresh_statuses(s, row, all_delivered=await facts.all_delivered(s, order_id))
                await s.flush()
                summary = await facts.summary(s, self.orders, row)
                message = await self._refund_message(s, refund, summary)
                record_event(s, "refund.created", refund_name(order_id, refund.id), message, now)
                return message
            return await self._refund_message(s, refund, await facts.summary(s, self.orders, row))

    async def _restock(self, s: AsyncSession, row: OrderRow, refund: OrderRefundRow, now: datetime) -> None:
        """Restock the refunded lines' units that had left the warehouse."""
        if not refund.restock:
            return
        lines = {line.id: line for line in await self.orders.lines(s, row.id)}
        refund_lines = list(
            await s.scalars(select(OrderRefundLineRow).where(OrderRefundLineRow.refund_id == refund.id))
        )
        for part in refund_lines:
            line = lines.get(part.line_id)
            units = min(part.quantity, line.quantity_fulfilled) if line is not None else 0
            if line is None or units <= 0:
                continue
            part.restocked = await self.moves.restock(
                s, order=order_name(row.id), variant_id=line.variant_id, quantity=units, location_id=refund.location_id,
                note=f"refund {refund.id}",
            )  # fmt: skip
