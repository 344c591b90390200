"""Returns, exchanges and claims on one order-change model (core-domain §2.4, §3.12, R20,
Ex5; DECISIONS 15).

A change lists fulfilled units coming back (at most fulfilled − returned per line:
INVALID_RETURN_QUANTITY) and settles either by a refund (returns; claims with resolution
"refund") or by replacement items (exchanges; claims with resolution "replace")::

    requested ──receive (restock or not)──▶ received ──process──▶ processed
        │  └──────────── process (keep_items: nothing comes back) ──────▲
        └──────── cancel ◀── (requested or received)

Requesting counts the units in the line's ``quantity_returned`` at once (so the order's
fulfilment status shows partially_returned / returned and the same units cannot be
returned twice); cancelling gives them back. Each line's refund is its R20 worth.
Processing a refund goes through :class:`OrderPayments` (its own transactions, the
caller's idempotency key); replacements become zero-priced order lines with their stock
reserved, ready to fulfil.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.catalog.models import ProductRow, VariantRow
from rcommerce.domain.fulfillment import facts
from rcommerce.domain.fulfillment.convert import change_message
from rcommerce.domain.fulfillment.errors import (
    INVALID_ORDER_CHANGE_STATUS,
    ORDER_CHANGE_NOT_FOUND,
    RETURN_WINDOW_CLOSED,
    FulfillmentError,
)
from rcommerce.domain.fulfillment.facts import check_owner
from rcommerce.domain.fulfillment.models import FulfillmentRow, OrderChangeLineRow, OrderChangeRow
from rcommerce.domain.fulfillment.payments import OrderPayments, check_refundable, line_paid
from rcommerce.domain.fulfillment.rules import (
    ChangeKind,
    ChangeStatus,
    check_change_transition,
    check_return_quantities,
    line_refund_amount,
    return_window_closes,
)
from rcommerce.domain.fulfillment.stock_moves import StockMoves
from rcommerce.domain.inventory import _store
from rcommerce.domain.inventory.service import parse_location
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.orders.convert import order_name
from rcommerce.domain.orders.models import OrderLineRow, OrderRow
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.errors import FieldViolation, invalid, raise_violations
from rcommerce.events import record_event
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.ids import id_prefix, new_id
from rcommerce.names import parse_child_name, parse_name

__all__ = ["OrderChangeService"]

CS = ChangeStatus
RESOLUTIONS = ("refund", "replace")


class OrderChangeService:
    def __init__(
        self, db: Database, clock: Clock, orders: OrderRepository, moves: StockMoves, stock: Stock,
        payments: OrderPayments, *, return_window_days: int = 30,
    ) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        #: Self-service returns (RequestReturn) close this many days after the last delivery.
        self.return_window_days = return_window_days
        self.orders = orders
        self.moves = moves
        self.stock = stock
        self.payments = payments

    # -- reads ----------------------------------------------------------------------------
    async def _lines(self, s: AsyncSession, change_id: str) -> list[OrderChangeLineRow]:
        return list(
            await s.scalars(
                select(OrderChangeLineRow)
                .where(OrderChangeLineRow.change_id == change_id)
                .order_by(OrderChangeLineRow.id)
            )
        )

    async def _message(self, s: AsyncSession, row: OrderChangeRow) -> F.OrderChange:
        return change_message(row, await self._lines(s, row.id))

    async def _row(
        self, s: AsyncSession, name: str, *, lock: bool = False, principal: Principal | None = None
    ) -> tuple[OrderRow, OrderChangeRow]:
        order_id, change_id = parse_child_name(name, "orders", "ord", "changes", "och")
        order = await self.orders.load(s, order_id, lock=lock)
        check_owner(order, principal)
        row = await s.get(OrderChangeRow, change_id, with_for_update=lock, populate_existing=lock)
        if row is None or row.order_id != order_id:
            raise FulfillmentError(ORDER_CHANGE_NOT_FOUND, f"Order change {name} does not exist.", change=name)
        return order, row

    async def get(self, name: str, principal: Principal | None = None) -> F.OrderChange:
        async with self.db.read() as s:
            _, row = await self._row(s, name, principal=principal)
            return await self._message(s, row)

    async def list_changes(self, parent: str, principal: Principal | None = None) -> F.ListOrderChangesResponse:
        order_id = parse_name(parent, "orders", "ord", "parent")
        async with self.db.read() as s:
            check_owner(await self.orders.load(s, order_id), principal)
            rows = list(
                await s.scalars(
                    select(OrderChangeRow)
                    .where(OrderChangeRow.order_id == order_id)
                    .order_by(OrderChangeRow.created_at, OrderChangeRow.id)
                )
            )
            return F.ListOrderChangesResponse(changes=[await self._message(s, r) for r in rows])

    # -- request ----------------------------------------------------------------------------
    def _validate(self, change: F.OrderChange) -> tuple[ChangeKind, str, list[tuple[str, str, int]]]:
        problems: list[FieldViolation] = []
        kind = change.kind or ChangeKind.RETURN.value
        if kind not in {k.value for k in ChangeKind}:
            problems.append(FieldViolation("change.kind", "must be return, exchange or claim"))
        resolution = {"return": "refund", "exchange": "replace"}.get(kind, change.resolution or "refund")
        if kind == ChangeKind.CLAIM.value and resolution not in RESOLUTIONS:
            problems.append(FieldViolation("change.resolution", "must be refund or replace"))
        if kind != ChangeKind.CLAIM.value and change.resolution and change.resolution != resolution:
            problems.append(FieldViolation("change.resolution", f"a {kind} always settles by {resolution}"))
        replacements: list[tuple[str, str, int]] = []
        for i, item in enumerate(change.replacements):
            parts = item.variant.split("/")
            if len(parts) != 4 or id_prefix(parts[1]) != "prod" or id_prefix(parts[3]) != "var":
                problems.append(
                    FieldViolation(f"change.replacements[{i}].variant", "expected products/prod_.../variants/var_...")
                )
            elif not 0 < item.quantity <= 9999:
                problems.append(FieldViolation(f"change.replacements[{i}].quantity", "must be 1 to 9999"))
            else:
                replacements.append((parts[1], parts[3], int(item.quantity)))
        if resolution == "replace" and not change.replacements:
            problems.append(
                FieldViolation("change.replacements", f"a {kind} settled by replacement needs replacement items")
            )
        if resolution == "refund" and change.replacements:
            problems.append(FieldViolation("change.replacements", "only exchanges and replacement claims send items"))
        for field, value, limit in (("change.reason", change.reason, 100), ("change.note", change.note, 5000)):
            if len(value) > limit:
                problems.append(FieldViolation(field, f"at most {limit} characters"))
        for i, line in enumerate(change.lines):
            if len(line.reason) > 100:
                problems.append(FieldViolation(f"change.lines[{i}].reason", "at most 100 characters"))
        raise_violations(problems)
        return ChangeKind(kind), resolution, replacements

    async def request_return(self, request: F.RequestReturnRequest, principal: Principal) -> F.OrderChange:
        """RequestReturn: a return the buyer asks for, within the return window."""
        change = F.OrderChange(kind="return", lines=request.lines, reason=request.reason, note=request.note)
        actor = principal.subject or "system"
        return await self.create(request.parent, change, actor=actor, principal=principal, in_window=True)

    async def _check_window(self, s: AsyncSession, order: OrderRow, now: datetime) -> None:
        delivered = await s.scalar(
            select(func.max(FulfillmentRow.delivered_at)).where(
                FulfillmentRow.order_id == order.id, FulfillmentRow.status == "delivered"
            )
        )
        if delivered is None:  # shipped, not delivered yet: the window has not started
            if self.return_window_days > 0:
                return
            delivered = now
        delivered = delivered if delivered.tzinfo else delivered.replace(tzinfo=UTC)
        closes = return_window_closes(delivered, self.return_window_days)
        if now >= closes:
            raise FulfillmentError(
                RETURN_WINDOW_CLOSED,
                f"Order {order.number} was delivered on {delivered.date().isoformat()}; returns closed after "
                f"{self.return_window_days} days. Contact the store.",
                order=order_name(order.id), deliverTime=delivered.isoformat(), closeTime=closes.isoformat(),
                windowDays=self.return_window_days,
            )  # fmt: skip

    async def create(
        self, parent: str, change: F.OrderChange, *, actor: str, principal: Principal | None = None,
        in_window: bool = False,
    ) -> F.OrderChange:  # fmt: skip
        order_id = parse_name(parent, "orders", "ord", "parent")
        kind, resolution, replacements = self._validate(change)
        now = self.clock.now()
        async with self.db.transaction() as s:
            order = await self.orders.load(s, order_id, lock=True)
            check_owner(order, principal)
            check_refundable(order)
            if in_window:
                await self._check_window(s, order, now)
            lines = {line.id: line for line in await self.orders.lines(s, order_id)}
            merged = check_return_quantities(
                facts.line_states(list(lines.values())), [(x.line_id, x.quantity) for x in change.lines], "change.lines"
            )
            stored = await self._replacements(s, replacements)
            row = OrderChangeRow(
                id=new_id("och", now), order_id=order_id, kind=kind.value, status=CS.REQUESTED.value,
                resolution=resolution, receive_items=not change.keep_items, reason=change.reason, note=change.note,
                replacements=stored, refund_amount=0, refunded_amount=0, restocked=False, location_id="",
                cancel_reason="", received_at=None, processed_at=None, cancelled_at=None, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(row)
            await s.flush()  # the parent row first: the lines reference it
            by_line = {x.line_id: x for x in change.lines}
            for line_id, q in merged.items():
                line = lines[line_id]
                worth = line_refund_amount(
                    line_paid(line, order.prices_include_tax), line.quantity, line.quantity_returned, q
                )
                s.add(OrderChangeLineRow(
                    id=new_id("ocl", now), change_id=row.id, line_id=line_id, variant_id=line.variant_id, quantity=q,
                    reason=by_line[line_id].reason, note=by_line[line_id].note, refund_amount=worth,
                ))  # fmt: skip
                row.refund_amount += worth
                line.quantity_returned += q
            await self.orders.refresh_statuses(
                s, order, all_delivered=await facts.all_delivered(s, order_id), actor=actor
            )
            units = sum(merged.values())
            await self.orders.add_system_note(
                s, order, f"{kind.value.capitalize()} {row.id} requested: {units} unit(s)."
            )
            return await self._event(s, row, f"{kind.value}.requested")

    async def _replacements(self, s: AsyncSession, items: list[tuple[str, str, int]]) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for i, (product_id, variant_id, q) in enumerate(items):
            found = await s.scalar(
                select(VariantRow.id).where(VariantRow.id == variant_id, VariantRow.product_id == product_id)
            )
            if found is None:
                raise invalid(
                    f"change.replacements[{i}].variant",
                    "no such variant",
                    variant=f"products/{product_id}/variants/{variant_id}",
                )
            out.append({"product_id": product_id, "variant_id": variant_id, "quantity": q})
        return out

    async def _event(self, s: AsyncSession, row: OrderChangeRow, event: str) -> F.OrderChange:
        await s.flush()
        message = await self._message(s, row)
        record_event(s, event, message.name, message, self.clock.now())
        return message

    # -- receive, process, cancel -----------------------------------------------------------
    async def receive(self, request: F.ReceiveOrderChangeRequest, *, actor: str) -> F.OrderChange:
        location_id = parse_location(request.location, "location") if request.location else _store.DEFAULT_LOCATION_ID
        now = self.clock.now()
        async with self.db.transaction() as s:
            order, row = await self._row(s, request.name, lock=True)
            check_change_transition(CS(row.status), CS.RECEIVED)
            if not row.receive_items:
                raise FulfillmentError(
                    INVALID_ORDER_CHANGE_STATUS, f"Order change {row.id} keeps its items; nothing is received.",
                    currentStatus=row.status, targetStatus=CS.RECEIVED.value, allowedStatuses="processed,cancelled",
                )  # fmt: skip
            if request.restock:
                await _store.get_location(s, location_id)
                for part in await self._lines(s, row.id):
                    done = await self.moves.restock(
                        s, order=order_name(order.id), variant_id=part.variant_id, quantity=part.quantity,
                        location_id=location_id, note=f"{row.kind} {row.id} received",
                    )  # fmt: skip
                    row.restocked = row.restocked or done
                row.location_id = location_id
            row.status, row.received_at, row.updated_at = CS.RECEIVED.value, now, now
            restocked = " and restocked" if row.restocked else ""
            await self.orders.add_system_note(s, order, f"{row.kind.capitalize()} {row.id} received{restocked}.")
            return await self._event(s, row, f"{row.kind}.received")

    async def process(self, request: F.ProcessOrderChangeRequest, *, actor: str) -> F.OrderChange:
        if request.refund_amount < 0:
            raise invalid("refund_amount", "must not be negative (minor units; 0 = the change's refund_amount)")
        async with self.db.read() as s:
            order, row = await self._row(s, request.name)
            if row.status == CS.PROCESSED.value:
                return await self._message(s, row)  # settled already: never refund twice
            self._check_processable(row)
            lines = await self._lines(s, row.id)
        if row.resolution == "refund":
            amount = request.refund_amount or row.refund_amount
            if amount > 0:
                await self.payments.refund(
                    F.RefundOrderRequest(
                        name=order_name(order.id), amount=amount,
                        lines=[F.OrderLineQuantity(line_id=x.line_id, quantity=x.quantity) for x in lines],
                        reason="requested_by_customer", note=f"{row.kind} {row.id}",
                        idempotency_key=request.idempotency_key,
                    ),
                    change_id=row.id,
                )  # fmt: skip
        now = self.clock.now()
        async with self.db.transaction() as s:
            order, row = await self._row(s, request.name, lock=True)
            if row.status == CS.PROCESSED.value:
                return await self._message(s, row)
            self._check_processable(row)
            if row.resolution == "replace":
                await self._add_replacements(s, order, row)
            row.status, row.processed_at, row.updated_at = CS.PROCESSED.value, now, now
            how = "refunded" if row.resolution == "refund" else "replacement lines added"
            await self.orders.add_system_note(s, order, f"{row.kind.capitalize()} {row.id} processed ({how}).")
            await self.orders.refresh_statuses(
                s, order, all_delivered=await facts.all_delivered(s, order.id), actor=actor
            )
            return await self._event(s, row, f"{row.kind}.processed")

    @staticmethod
    def _check_processable(row: OrderChangeRow) -> None:
        if row.status == CS.PROCESSED.value:
            return
        check_change_transition(CS(row.status), CS.PROCESSED)
        if row.status == CS.REQUESTED.value and row.receive_items:
            raise FulfillmentError(
                INVALID_ORDER_CHANGE_STATUS, f"Order change {row.id} waits for its items; receive them first.",
                currentStatus=row.status, targetStatus=CS.PROCESSED.value, allowedStatuses="received,cancelled",
            )  # fmt: skip

    async def _add_replacements(self, s: AsyncSession, order: OrderRow, row: OrderChangeRow) -> None:
        """Zero-priced order lines for the replacement items, their stock held for the order."""
        now = self.clock.now()
        position = int(
            await s.scalar(select(func.max(OrderLineRow.position)).where(OrderLineRow.order_id == order.id)) or 0
        )
        for item in row.replacements:
            variant = await s.get(VariantRow, str(item["variant_id"]))
            product = await s.get(ProductRow, str(item["product_id"]))
            if variant is None or product is None:
                raise invalid(
                    "change.replacements", "a replacement variant no longer exists", variant=str(item["variant_id"])
                )
            q = int(item["quantity"])
            reservations = await self.stock.reserve(
                s, variant_id=variant.id, quantity=q, reference=order_name(order.id)
            )
            position += 1
            s.add(OrderLineRow(
                id=new_id("oli", now), order_id=order.id, position=position, product_id=product.id, variant_id=variant.id,
                title=product.title, variant_title=variant.title, sku=variant.sku or "", quantity=q, unit_price=0,
                original_unit_price=0, price_list_id="", subtotal=0, discount=0, tax=0, total=0, tax_components=[],
                tax_category="", requires_shipping=variant.requires_shipping, quantity_fulfilled=0, quantity_returned=0,
                reservation_ids=reservations, source_line_id=f"{row.kind}:{row.id}", created_at=now,
            ))  # fmt: skip
        await s.flush()

    async def cancel(self, request: F.CancelOrderChangeRequest, *, actor: str) -> F.OrderChange:
        if len(request.reason) > 255:
            raise invalid("reason", "at most 255 characters")
        now = self.clock.now()
        async with self.db.transaction() as s:
            order, row = await self._row(s, request.name, lock=True)
            check_change_transition(CS(row.status), CS.CANCELLED)
            lines = {line.id: line for line in await self.orders.lines(s, order.id)}
            for part in await self._lines(s, row.id):
                line = lines.get(part.line_id)
                if line is not None:
                    line.quantity_returned = max(0, line.quantity_returned - part.quantity)
            row.status, row.cancelled_at, row.updated_at, row.cancel_reason = (
                CS.CANCELLED.value,
                now,
                now,
                request.reason,
            )
            await self.orders.refresh_statuses(
                s, order, all_delivered=await facts.all_delivered(s, order.id), actor=actor
            )
            await self.orders.add_system_note(s, order, f"{row.kind.capitalize()} {row.id} cancelled.")
            return await self._event(s, row, f"{row.kind}.cancelled")
