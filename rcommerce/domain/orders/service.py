"""The order service: reads, updates, status commands, cancellation, notes and risk.

Every command is one transaction: lock the order, check access and the rules before
writing (a refused request changes nothing), write, append the event to the outbox.
Cancellation is the exception that must talk to gateways: it cancels, releases the
stock and commits first, then voids or refunds each payment through the payments
service (each its own idempotent operation), then derives the payment status in a
third transaction. A gateway failure leaves the order cancelled and answers
ORDER_PAYMENTS_UNSETTLED; calling CancelOrder again resumes the payments.

Customers (``CUSTOMER`` principals) read only their own orders (another customer's is
ORDER_NOT_FOUND, never PERMISSION_DENIED, so order ids cannot be probed) and only the
customer-visible notes; they never see risk figures.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal, customer_id_of
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.fulfillment.cancellation import cancel_open_fulfilments
from rcommerce.domain.fulfillment.stock_moves import StockMoves
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.orders import convert, listing
from rcommerce.domain.orders.errors import (
    INVALID_STATUS_TRANSITION,
    ORDER_ALREADY_CANCELLED,
    ORDER_NOT_EDITABLE,
    ORDER_NOTE_NOT_FOUND,
    ORDER_PAYMENTS_UNSETTLED,
    SYSTEM_NOTE_READ_ONLY,
    OrderError,
)
from rcommerce.domain.orders.models import OrderLineRow, OrderNoteRow, OrderRow, OrderTagRow
from rcommerce.domain.orders.repository import SYSTEM_ACTOR, OrderRepository, not_found
from rcommerce.domain.orders.states import EDITABLE, OrderStatus, PaymentStatus, allowed_targets
from rcommerce.domain.payments.models import PaymentRow
from rcommerce.domain.payments.service import PaymentService
from rcommerce.errors import DomainError, FieldViolation, invalid, raise_violations
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.gen.v1 import payments_pb2
from rcommerce.ids import id_prefix, new_id
from rcommerce.pagination import PageTokens, fingerprint, page_size

__all__ = ["CANCEL_REASONS", "UPDATABLE", "OrderService"]

CANCEL_REASONS = ("customer_request", "fraudulent", "inventory", "declined", "other")
UPDATABLE = ("tags", "metadata", "customer_note", "email", "shipping_address", "billing_address")
#: Fields that change only while the order is editable (core-domain §3.10).
_EDIT_ONLY = frozenset({"email", "shipping_address", "billing_address"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMBER = re.compile(r"^[0-9]{1,20}$")
MAX_TAGS, MAX_TAG_LENGTH, MAX_METADATA = 50, 100, 50


def actor_of(principal: Principal) -> str:
    return principal.subject or SYSTEM_ACTOR


class OrderService:
    """Orders for the API (see the module docstring)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        tokens: PageTokens,
        repository: OrderRepository,
        stock: Stock,
        payments: PaymentService | None = None,
        moves: StockMoves | None = None,
    ) -> None:
        self.db = db
        #: Puts back what open fulfilments took when an order is cancelled with restock.
        self.moves = moves
        self.clock = clock
        self.tokens = tokens
        self.repository = repository
        self.stock = stock
        self.payments = payments

    # -- access ---------------------------------------------------------------------------
    async def _find(self, s: AsyncSession, principal: Principal, name: str, *, lock: bool = False) -> OrderRow:
        """The order named ``name`` ("orders/ord_..." or "orders/1001") that the caller may see."""
        head, _, rest = name.partition("/")
        if head != "orders" or not (id_prefix(rest) == "ord" or _NUMBER.match(rest)):
            raise invalid("name", "expected orders/ord_... or orders/{number}", value=name)
        repo = self.repository
        row = await (
            repo.load(s, rest, lock=lock) if id_prefix(rest) == "ord" else repo.load_by_number(s, rest, lock=lock)
        )
        customer = customer_id_of(principal)
        if customer is not None and row.customer_id != customer:
            raise not_found(name)
        return row

    async def _command(
        self, principal: Principal, name: str, change: Callable[[AsyncSession, OrderRow], Awaitable[None]]
    ) -> O.Order:
        async with self.db.transaction() as s:
            row = await self._find(s, principal, name, lock=True)
            await change(s, row)
            await s.flush()
            return await self.repository.message(s, row)

    # -- reads ----------------------------------------------------------------------------
    async def get_order(self, principal: Principal, name: str) -> O.Order:
        async with self.db.read() as s:
            row = await self._find(s, principal, name)
            return await self.repository.message(s, row, staff=customer_id_of(principal) is None)

    async def list_orders(self, principal: Principal, request: O.ListOrdersRequest) -> O.ListOrdersResponse:
        size = page_size(request.page_size)
        offset = self.tokens.decode(request.page_token, fingerprint(request))
        customer = customer_id_of(principal)
        page, count = listing.query(request, customer)
        async with self.db.read() as s:
            rows = list(await s.scalars(page.offset(offset).limit(size + 1)))
            total = int(await s.scalar(count) or 0)
            shown = rows[:size]
            ids = [r.id for r in shown]
            lines: dict[str, list[OrderLineRow]] = {i: [] for i in ids}
            if ids:
                for line in await s.scalars(
                    select(OrderLineRow).where(OrderLineRow.order_id.in_(ids)).order_by(OrderLineRow.position)
                ):
                    lines[line.order_id].append(line)
            payments = await self.repository.payments(s, ids)
        response = O.ListOrdersResponse(total_size=total)
        response.orders.extend(
            convert.order_message(r, lines[r.id], [p.id for p in payments[r.id]], staff=customer is None) for r in shown
        )
        if len(rows) > size:
            response.next_page_token = self.tokens.encode(offset + size, fingerprint(request))
        return response

    async def get_risk(self, principal: Principal, name: str) -> O.OrderRisk:
        order_name = name.removesuffix("/risk")
        if order_name == name:
            raise invalid("name", "expected orders/{order}/risk", value=name)
        async with self.db.read() as s:
            return convert.risk_message(await self._find(s, principal, order_name))

    # -- update ---------------------------------------------------------------------------
    async def update_order(self, principal: Principal, order: O.Order, mask: FieldMask) -> O.Order:
        paths = resolve_mask(mask, order, UPDATABLE, require_some=True)
        _validate_update(order, paths)

        async def change(s: AsyncSession, row: OrderRow) -> None:
            status = OrderStatus(row.status)
            touched = [p for p in paths if p in _EDIT_ONLY]
            if touched and status not in EDITABLE:
                raise OrderError(
                    ORDER_NOT_EDITABLE,
                    f"Order {row.number} is {status.value}; {', '.join(touched)} can change only while it is "
                    f"{', '.join(sorted(EDITABLE))}.",
                    order=convert.order_name(row.id), currentStatus=status.value,
                    editableStatuses=",".join(sorted(EDITABLE)),
                )  # fmt: skip
            for path in paths:
                if path == "tags":
                    tags = list(dict.fromkeys(t.strip() for t in order.tags if t.strip()))
                    row.tags = tags
                    await s.execute(delete(OrderTagRow).where(OrderTagRow.order_id == row.id))
                    s.add_all(OrderTagRow(order_id=row.id, tag=t) for t in tags)
                elif path == "metadata":
                    row.extra = dict(order.metadata)
                elif path == "customer_note":
                    row.customer_note = order.customer_note
                elif path == "email":
                    row.email = order.email.strip().lower()
                elif path in ("shipping_address", "billing_address"):
                    value = getattr(order, path)
                    setattr(row, path, convert.address_to_db(value) if order.HasField(path) else None)
            self.repository.touch(row)
            await self.repository.emit(s, row, "order.updated", fields=list(paths))

        return await self._command(principal, order.name, change)

    # -- status commands ------------------------------------------------------------------
    async def _move(self, principal: Principal, name: str, target: OrderStatus, reason: str) -> O.Order:
        async def change(s: AsyncSession, row: OrderRow) -> None:
            await self.repository.transition(s, row, target, actor=actor_of(principal), reason=reason)

        return await self._command(principal, name, change)

    async def confirm(self, principal: Principal, name: str) -> O.Order:
        return await self._move(principal, name, OrderStatus.CONFIRMED, "confirmed")

    async def process(self, principal: Principal, name: str) -> O.Order:
        return await self._move(principal, name, OrderStatus.PROCESSING, "fulfilment started")

    async def complete(self, principal: Principal, name: str) -> O.Order:
        return await self._move(principal, name, OrderStatus.COMPLETED, "completed")

    async def hold(self, principal: Principal, name: str, reason: str) -> O.Order:
        why = reason.strip() or "manual"
        if len(why) > 50:
            raise invalid("reason", "at most 50 characters")

        async def change(s: AsyncSession, row: OrderRow) -> None:
            await self.repository.transition(s, row, OrderStatus.ON_HOLD, actor=actor_of(principal), reason=why)
            row.hold_reason = why

        return await self._command(principal, name, change)

    async def approve(self, principal: Principal, name: str) -> O.Order:
        """on_hold → confirmed when the payment is authorized or paid, else → pending."""

        async def change(s: AsyncSession, row: OrderRow) -> None:
            status = OrderStatus(row.status)
            if status is not OrderStatus.ON_HOLD:
                raise OrderError(
                    INVALID_STATUS_TRANSITION, f"Order {row.number} is {status.value}; only held orders are approved.",
                    order=convert.order_name(row.id), currentStatus=status.value, targetStatus="confirmed",
                    allowedStatuses=",".join(allowed_targets(status)),
                )  # fmt: skip
            paid = PaymentStatus(row.payment_status) in (PaymentStatus.AUTHORIZED, PaymentStatus.PAID)
            actor = actor_of(principal)
            held_for = row.hold_reason
            target = OrderStatus.CONFIRMED if paid else OrderStatus.PENDING
            await self.repository.transition(s, row, target, actor=actor, reason=f"approved ({held_for or 'hold'})")
            await self.repository.add_system_note(s, row, f"Approved by {actor} (held for {held_for or 'manual'}).")

        return await self._command(principal, name, change)

    # -- cancellation ---------------------------------------------------------------------
    async def cancel(self, principal: Principal, request: O.CancelOrderRequest) -> O.Order:
        reason = request.reason or "customer_request"
        if reason not in CANCEL_REASONS:
            raise invalid("reason", f"must be one of {', '.join(CANCEL_REASONS)}", value=reason)
        if len(request.note) > 2000:
            raise invalid("note", "at most 2000 characters")
        actor = actor_of(principal)
        async with self.db.transaction() as s:
            row = await self._find(s, principal, request.name, lock=True)
            order_id = row.id
            if row.status == OrderStatus.CANCELLED:
                if not _unsettled((await self.repository.payments(s, [row.id]))[row.id]):
                    raise OrderError(
                        ORDER_ALREADY_CANCELLED, f"Order {row.number} is already cancelled.",
                        order=convert.order_name(row.id), cancelTime=row.cancelled_at.isoformat() if row.cancelled_at else "",
                    )  # fmt: skip
            else:
                await self.repository.transition(s, row, OrderStatus.CANCELLED, actor=actor, reason=reason)
                row.cancel_reason, row.cancel_note, row.cancelled_by = reason, request.note, actor[:100]
                await self._release_stock(s, row)
                text = f"Order cancelled ({reason}) by {actor}." + (f" {request.note}" if request.note else "")
                text += await self._cancel_fulfilments(s, row, restock=request.restock)
                await self.repository.add_system_note(s, row, text)
                if request.notify_customer:
                    await self.repository.add_system_note(
                        s, row, "Your order was cancelled." + (f" {request.note}" if request.note else ""),
                        customer_visible=True,
                    )  # fmt: skip
            payments = _unsettled((await self.repository.payments(s, [order_id]))[order_id])
        failed = await self._settle(order_id, payments, reason)
        async with self.db.transaction() as s:
            row = await self.repository.load(s, order_id, lock=True)
            await self.repository.refresh_statuses(s, row, actor=actor)
            await s.flush()
            message = await self.repository.message(s, row)
        if failed:
            raise OrderError(
                ORDER_PAYMENTS_UNSETTLED,
                f"Order {message.number} is cancelled, but {len(failed)} payment(s) could not be voided or refunded "
                f"yet: {'; '.join(failed.values())}. Retry CancelOrder to resume.",
                order=message.name, payments=",".join(f"payments/{p}" for p in failed),
            )  # fmt: skip
        return message

    async def _release_stock(self, s: AsyncSession, row: OrderRow) -> None:
        """Release the order's active reservations (units of a cancellable order were
        never shipped, so releasing is the restock)."""
        for line in await self.repository.lines(s, row.id):
            for reservation_id in line.reservation_ids:
                try:
                    await self.stock.release(s, reservation_id, "order_cancelled")
                except DomainError as exc:
                    if exc.reason.name not in ("RESERVATION_EXPIRED", "RESERVATION_NOT_FOUND"):
                        raise  # an ended reservation needs nothing; anything else is a real failure

    async def _cancel_fulfilments(self, s: AsyncSession, row: OrderRow, *, restock: bool) -> str:
        """Cancel the order's pending fulfilments; restock their units when asked (see
        :mod:`rcommerce.domain.fulfillment.cancellation`). Returns text for the note."""
        if self.moves is None:
            return ""
        lines = await self.repository.lines(s, row.id)
        done = await cancel_open_fulfilments(s, self.moves, row, lines, restock=restock, now=self.clock.now())
        if not done.fulfillment_ids:
            return ""
        kept = done.units - done.restocked
        text = f" {len(done.fulfillment_ids)} open fulfilment(s) cancelled; {done.restocked} unit(s) restocked"
        return text + (f", {kept} unit(s) left off stock (restock not requested)." if kept else ".")

    async def _settle(self, order_id: str, payments: Sequence[PaymentRow], reason: str) -> dict[str, str]:
        """Void authorizations and refund captures; returns payment id → error for failures."""
        failed: dict[str, str] = {}
        if self.payments is None:
            return {p.id: "no payment service" for p in payments}
        for p in payments:
            key = f"order-cancel-{order_id}-{p.id}"
            try:
                if p.status in ("pending", "requires_action", "authorized"):
                    await self.payments.void(
                        payments_pb2.VoidPaymentRequest(name=f"payments/{p.id}", idempotency_key=f"{key}-void")
                    )
                else:
                    await self.payments.refund(
                        payments_pb2.RefundPaymentRequest(
                            name=f"payments/{p.id}", amount=0, idempotency_key=f"{key}-refund",
                            reason="fraudulent" if reason == "fraudulent" else "requested_by_customer",
                        )
                    )  # fmt: skip
            except DomainError as exc:
                failed[p.id] = exc.reason.name
        return failed

    # -- notes ----------------------------------------------------------------------------
    async def add_note(self, principal: Principal, parent: str, note: O.OrderNote) -> O.OrderNote:
        body = note.body.strip()
        if not body or len(body) > 5000:
            raise invalid("note.body", "must be 1 to 5000 characters")
        async with self.db.transaction() as s:
            row = await self._find(s, principal, parent, lock=True)
            now = self.clock.now()
            author = actor_of(principal)
            created = OrderNoteRow(
                id=new_id("onot", now), order_id=row.id, body=body, customer_visible=note.customer_visible,
                author_name=note.author_name.strip()[:255] or author, author=author, system=False, created_at=now,
            )  # fmt: skip
            s.add(created)
            self.repository.touch(row, now)
            message = convert.note_message(created)
            await self.repository.emit(
                s, row, "order.note_created", note=message.name, customerVisible=note.customer_visible
            )
            return message

    async def list_notes(self, principal: Principal, request: O.ListOrderNotesRequest) -> O.ListOrderNotesResponse:
        size = page_size(request.page_size)
        offset = self.tokens.decode(request.page_token, fingerprint(request))
        async with self.db.read() as s:
            row = await self._find(s, principal, request.parent)
            query = select(OrderNoteRow).where(OrderNoteRow.order_id == row.id)
            if customer_id_of(principal) is not None:
                query = query.where(OrderNoteRow.customer_visible.is_(True))
            query = query.order_by(OrderNoteRow.created_at.desc(), OrderNoteRow.id.desc())
            notes = list(await s.scalars(query.offset(offset).limit(size + 1)))
        response = O.ListOrderNotesResponse(notes=[convert.note_message(n) for n in notes[:size]])
        if len(notes) > size:
            response.next_page_token = self.tokens.encode(offset + size, fingerprint(request))
        return response

    async def delete_note(self, principal: Principal, name: str) -> None:
        parts = name.split("/")
        if len(parts) != 4 or parts[2] != "notes" or id_prefix(parts[3]) != "onot":
            raise invalid("name", "expected orders/{order}/notes/onot_...", value=name)
        async with self.db.transaction() as s:
            row = await self._find(s, principal, "/".join(parts[:2]), lock=True)
            note = await s.get(OrderNoteRow, parts[3])
            if note is None or note.order_id != row.id:
                raise OrderError(ORDER_NOTE_NOT_FOUND, f"Order note {name} does not exist.", note=name)
            if note.system:
                raise OrderError(SYSTEM_NOTE_READ_ONLY, f"{name} is a system note and cannot be deleted.", note=name)
            await s.delete(note)
            self.repository.touch(row)
            await self.repository.emit(s, row, "order.note_deleted", note=name)


def _unsettled(payments: Sequence[PaymentRow]) -> list[PaymentRow]:
    """Payments a cancellation must still void or refund."""
    return [
        p
        for p in payments
        if p.status in ("pending", "requires_action", "authorized")
        or (p.status in ("succeeded", "partially_refunded") and p.amount_captured > p.amount_refunded)
    ]


def _validate_update(order: O.Order, paths: Sequence[str]) -> None:
    problems: list[FieldViolation] = []
    if "tags" in paths:
        if len(order.tags) > MAX_TAGS:
            problems.append(FieldViolation("order.tags", f"at most {MAX_TAGS} tags"))
        if any(len(t.strip()) > MAX_TAG_LENGTH for t in order.tags):
            problems.append(FieldViolation("order.tags", f"each tag at most {MAX_TAG_LENGTH} characters"))
    if "metadata" in paths:
        if len(order.metadata) > MAX_METADATA:
            problems.append(FieldViolation("order.metadata", f"at most {MAX_METADATA} keys"))
        if any(not k or len(k) > 40 or len(v) > 500 for k, v in order.metadata.items()):
            problems.append(FieldViolation("order.metadata", "keys 1 to 40 characters, values at most 500"))
    if "customer_note" in paths and len(order.customer_note) > 5000:
        problems.append(FieldViolation("order.customer_note", "at most 5000 characters"))
    if "email" in paths and not _EMAIL.match(order.email.strip()):
        problems.append(FieldViolation("order.email", "must be an email address"))
    for path in ("shipping_address", "billing_address"):
        if path in paths and order.HasField(path):
            code = getattr(order, path).country_code
            if code and not re.fullmatch(r"[A-Z]{2}", code):
                problems.append(FieldViolation(f"order.{path}.country_code", "must be an ISO 3166-1 alpha-2 code"))
    raise_violations(problems)
