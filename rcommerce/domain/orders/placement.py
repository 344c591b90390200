"""Order placement: turns a priced cart (or a priced draft) into an order, in the
CALLER's transaction (core-domain §3.8, DECISIONS 14).

:meth:`OrderPlacement.place`:

1. resolves the customer (``customer_id``, else the guest customer of ``email``);
2. runs the fraud rules (``fraud.assess``) and every fraud provider (before any lock is
   taken, so a slow provider holds none): *review* puts the order ``on_hold``
   (hold_reason ``fraud_review``); *block* also puts it ``on_hold`` (hold_reason
   ``payment_blocked_by_fraud``) and appends ``order.fraud_detected``: a person approves
   or cancels it; placement never calls a gateway, so it cannot void;
3. re-references the given payments to the order;
4. reserves stock for every line (``Stock.reserve(..., reference="orders/ord_...")``):
   INSUFFICIENT_INVENTORY propagates and rolls the whole transaction back;
5. records promotion usage atomically (usage limits: COUPON_USAGE_LIMIT /
   COUPON_CUSTOMER_LIMIT roll back too);
6. adds one to the customer's ``orders_count``;
7. takes the next order number (``repository.next_number``: race-free, consecutive) —
   last of the shared rows, because every row lock is held until the caller commits and
   concurrent placements queue only behind the work done after it;
8. snapshots lines (title, SKU, variant, quantity, unit and original price, discount,
   tax components, reservations), addresses, totals, promotions, shipping choice and
   region, and records the tax lines for reports;
9. appends ``order.created`` (+ ``order.on_hold``) to the outbox, then derives the
   payment status: authorized or paid payments confirm a pending order. The common path
   builds these events from the rows it just wrote (no read-back), inserts the order's
   rows with plain INSERTs (they do not change again in the transaction) and leaves its
   events to the caller's next flush (at the latest the commit).

It does not call gateways and does not convert the cart (checkout does both).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import bindparam, column, select, table, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.db.capabilities import update_returning
from rcommerce.db.rows import insert_rows
from rcommerce.domain.carts.service import PricedCart
from rcommerce.domain.customers.directory import CustomerDirectory, CustomerProfile
from rcommerce.domain.customers.errors import CUSTOMER_NOT_FOUND
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.orders import convert
from rcommerce.domain.orders.errors import ORDER_EMAIL_REQUIRED, ORDER_EMPTY, OrderError
from rcommerce.domain.orders.fraud import FraudInput, FraudResult, FraudSettings, Recommendation, RuleHit, assess
from rcommerce.domain.orders.models import OrderLineRow, OrderRow, OrderStatusChangeRow, OrderTagRow
from rcommerce.domain.orders.repository import _PAYMENT_EVENTS as PAYMENT_EVENTS
from rcommerce.domain.orders.repository import (
    PAYMENT_FIGURES,
    STATUS_EVENTS,
    SYSTEM_ACTOR,
    OrderRepository,
    next_number,
    payment_figures,
    payment_totals,
)
from rcommerce.domain.orders.states import (
    FulfillmentStatus,
    LineQuantities,
    OrderStatus,
    PaymentStatus,
    balance_due,
    derive_fulfillment_status,
    derive_payment_status,
)
from rcommerce.domain.orders.taxes import component_dicts, tax_summary
from rcommerce.domain.payments.errors import PAYMENT_NOT_FOUND
from rcommerce.domain.payments.models import PaymentRow
from rcommerce.domain.payments.records import PAYMENTS
from rcommerce.domain.promotions.evaluator import PromotionEvaluator
from rcommerce.domain.tax.transactions import tax_line_rows
from rcommerce.events import record_event
from rcommerce.ids import new_id
from rcommerce.plugins.providers import (
    FraudCheckRequest,
    FraudDecision,
    FraudProvider,
    TaxComponent,
    TaxResult,
)

__all__ = [
    "OrderPlacement",
    "OrderSnapshot",
    "PlacedOrder",
    "PlacementRequest",
    "SnapshotLine",
    "snapshot_from_cart",
]

log = logging.getLogger("rcommerce.orders")

_customers = table("customers", column("id"), column("orders_count"))
_COUNT_ORDER = (
    update(_customers)
    .where(_customers.c.id == bindparam("customer_id"))
    .values(orders_count=_customers.c.orders_count + 1)
    .execution_options(synchronize_session=False)
)
#: The given payments pointed at the order; where the database returns updated rows, with
#: the figures placement reads of them in the same statement.
_RETARGET = (
    update(PAYMENTS).where(PAYMENTS.c.id.in_(bindparam("ids", expanding=True))).values(target=bindparam("target"))
)
_PAYMENT_FIGURES = select(*(PAYMENTS.c[name] for name in PAYMENT_FIGURES)).where(
    PAYMENTS.c.id.in_(bindparam("ids", expanding=True))
)
_RETARGET_RETURNING = _RETARGET.returning(*(PAYMENTS.c[name] for name in PAYMENT_FIGURES))
_SEVERITY = {Recommendation.APPROVE: 0, Recommendation.MONITOR: 1, Recommendation.REVIEW: 2, Recommendation.BLOCK: 3}
_DECISION = {FraudDecision.ALLOW: Recommendation.APPROVE, FraudDecision.REVIEW: Recommendation.REVIEW,
             FraudDecision.DENY: Recommendation.BLOCK}  # fmt: skip


@dataclass(frozen=True, slots=True)
class SnapshotLine:
    """One line as it goes onto the order."""

    source_line_id: str
    product_id: str
    variant_id: str
    title: str
    variant_title: str
    sku: str
    quantity: int
    unit_price: int
    original_unit_price: int
    price_list_id: str
    subtotal: int
    discount: int
    tax: int
    total: int
    tax_components: tuple[TaxComponent, ...] = ()
    tax_category: str = ""
    requires_shipping: bool = True
    #: The line id the tax result uses; "" means ``source_line_id``.
    pricing_line_id: str = ""


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """Everything an order copies, already priced (from a cart or a draft)."""

    region_id: str
    currency: str
    lines: tuple[SnapshotLine, ...]
    subtotal: int
    discount_total: int
    shipping_total: int
    shipping_discount: int
    item_tax: int
    shipping_tax: int
    tax_total: int
    total: int
    tax: TaxResult
    prices_include_tax: bool
    customer: CustomerProfile | None = None
    email: str = ""
    cart_id: str = ""
    shipping_address: dict[str, object] | None = None
    billing_address: dict[str, object] | None = None
    vat_id: str = ""
    shipping_quote_id: str = ""
    shipping_provider: str = ""
    shipping_service: str = ""
    shipping_method: str = ""
    #: [{promotion_id, code, title, amount, free_shipping}].
    promotions: tuple[Mapping[str, object], ...] = ()
    coupon_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    source: str  # "checkout" | "admin" | "draft"
    #: From ``CartService.price(...)``; drafts pass an :class:`OrderSnapshot`.
    priced: PricedCart | OrderSnapshot
    email: str
    #: "" → guest: the customer of ``email``, created as a guest when there is none.
    customer_id: str
    payment_ids: tuple[str, ...] = ()
    ip_address: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    customer_note: str = ""
    #: Who placed it, for the status history ("apiKeys/...", "customers/...").
    actor: str = SYSTEM_ACTOR


@dataclass(frozen=True, slots=True)
class PlacedOrder:
    id: str  # "ord_..."
    name: str  # "orders/ord_..."
    number: str  # "1001"
    status: str
    total: int
    currency: str


def snapshot_from_cart(priced: PricedCart) -> OrderSnapshot:
    """The order snapshot of a priced cart."""
    cart = priced.cart
    breakdown = priced.pricing.breakdown
    items = {item.id: item for item in cart.line_items}
    by_line = {line.line_id: line for line in breakdown.lines}
    lines = []
    for line in priced.lines:
        item, p = items.get(line.line_id), by_line[line.line_id]
        lines.append(
            SnapshotLine(
                source_line_id=line.line_id, product_id=line.product_id, variant_id=line.variant_id,
                title=item.title if item else "", variant_title=item.variant_title if item else "", sku=line.sku,
                quantity=line.quantity, unit_price=p.unit_price, original_unit_price=p.original_unit_price,
                price_list_id=item.price_list.removeprefix("priceLists/") if item else "", subtotal=p.subtotal,
                discount=p.discount, tax=p.tax, total=p.total, tax_components=p.tax_components,
                tax_category=line.tax_category, requires_shipping=line.requires_shipping,
            )
        )  # fmt: skip
    t = breakdown.totals
    quote = priced.pricing.quote
    return OrderSnapshot(
        region_id=priced.region.id, currency=breakdown.currency, lines=tuple(lines), subtotal=t.subtotal,
        discount_total=t.discount_total, shipping_total=t.shipping_total, shipping_discount=t.shipping_discount,
        item_tax=t.item_tax, shipping_tax=t.shipping_tax, tax_total=t.tax_total, total=t.total, tax=breakdown.tax,
        prices_include_tax=breakdown.prices_include_tax, customer=priced.customer, email=cart.email,
        cart_id=priced.cart_id,
        shipping_address=convert.address_to_db(cart.shipping_address) if cart.HasField("shipping_address") else None,
        billing_address=convert.address_to_db(cart.billing_address) if cart.HasField("billing_address") else None,
        vat_id=cart.vat_id, shipping_quote_id=quote.id if quote else "", shipping_provider=quote.provider if quote else "",
        shipping_service=quote.service_code if quote else "", shipping_method=quote.display_name if quote else "",
        promotions=tuple(
            {"promotion_id": a.promotion_id, "code": a.code, "title": a.title, "amount": a.amount,
             "free_shipping": a.free_shipping}
            for a in priced.pricing.promotions.applied
        ),
        coupon_codes=tuple(cart.coupon_codes),
    )  # fmt: skip


class OrderPlacement:
    """Places orders in the caller's transaction (see the module docstring)."""

    def __init__(
        self,
        repository: OrderRepository,
        customers: CustomerDirectory,
        stock: Stock,
        promotions: PromotionEvaluator,
        *,
        fraud: FraudSettings | None = None,
        fraud_providers: Mapping[str, FraudProvider] | None = None,
    ) -> None:
        self.repository = repository
        self.customers = customers
        self.stock = stock
        self.promotions = promotions
        self.fraud = fraud or FraudSettings()
        self.fraud_providers = dict(fraud_providers or {})

    async def place(self, session: AsyncSession, request: PlacementRequest) -> PlacedOrder:
        snap = request.priced if isinstance(request.priced, OrderSnapshot) else snapshot_from_cart(request.priced)
        if not snap.lines:
            raise OrderError(ORDER_EMPTY, "An order needs at least one line.")
        customer = await self._customer(session, request, snap)
        email = request.email.strip() or snap.email or customer.email
        clock = self.repository.clock
        now = clock.now()
        order_id = new_id("ord", now)
        name = convert.order_name(order_id)
        risk = await self._assess(order_id, snap, email, request.ip_address, customer)
        # Rows nobody else writes first (this order's payments), then the rows other
        # placements wait for (stock levels, promotion usage, the customer's count), the
        # order number last: every lock is held until the caller commits, so the work
        # done after taking one is what concurrent placements queue behind.
        payments = await self._attach_payments(session, name, request.payment_ids)
        reservations: list[list[str]] = []
        for line in snap.lines:
            reservations.append(
                await self.stock.reserve(session, variant_id=line.variant_id, quantity=line.quantity, reference=name)
                if line.variant_id
                else []
            )
        if snap.promotions:
            await self.promotions.record_usage(
                session,
                promotion_ids=[str(p["promotion_id"]) for p in snap.promotions],
                customer_id=customer.id,
                order_id=order_id,
                amounts={str(p["promotion_id"]): int(p.get("amount", 0) or 0) for p in snap.promotions},  # type: ignore[call-overload]
                currency=snap.currency,
            )
        await session.execute(_COUNT_ORDER, {"customer_id": customer.id})
        number = await next_number(session)
        tags = list(dict.fromkeys(request.tags))
        row = OrderRow(
            id=order_id, number=str(number), number_value=number, source=request.source,
            status=OrderStatus.PENDING.value, payment_status=PaymentStatus.PENDING.value,
            fulfillment_status=FulfillmentStatus.UNFULFILLED.value, region_id=snap.region_id, currency=snap.currency,
            customer_id=customer.id, email=email, cart_id=snap.cart_id, shipping_address=snap.shipping_address,
            billing_address=snap.billing_address, vat_id=snap.vat_id, prices_include_tax=snap.prices_include_tax,
            reverse_charge_applied=snap.tax.reverse_charge_applied, tax_exempt=snap.tax.exempt,
            subtotal=snap.subtotal, discount_total=snap.discount_total, shipping_total=snap.shipping_total,
            shipping_discount=snap.shipping_discount, item_tax=snap.item_tax, shipping_tax=snap.shipping_tax,
            tax_total=snap.tax_total, total=snap.total, shipping_quote_id=snap.shipping_quote_id,
            shipping_provider=snap.shipping_provider, shipping_service=snap.shipping_service,
            shipping_method=snap.shipping_method[:255], coupon_codes=list(snap.coupon_codes),
            promotions=[dict(p) for p in snap.promotions], tax_lines=tax_summary([c for line in snap.lines for c in line.tax_components] + list(snap.tax.shipping)),
            tags=tags, extra=dict(request.metadata), customer_note=request.customer_note,
            ip_address=request.ip_address[:45], fraud_score=risk.score, fraud_recommendation=risk.recommendation.value,
            fraud_reasons=risk.reasons, fraud_provider_score=risk.provider_score, hold_reason="", cancel_reason="",
            cancel_note="", cancelled_by="", confirmed_at=None, cancelled_at=None, completed_at=None, revision=1,
            created_at=now, updated_at=now,
        )  # fmt: skip
        lines = [
            OrderLineRow(
                id=new_id("oli", now), order_id=row.id, position=i, product_id=line.product_id, variant_id=line.variant_id,
                title=line.title[:255], variant_title=line.variant_title[:255], sku=line.sku[:100], quantity=line.quantity,
                unit_price=line.unit_price, original_unit_price=line.original_unit_price,
                price_list_id=line.price_list_id, subtotal=line.subtotal, discount=line.discount, tax=line.tax,
                total=line.total, tax_components=component_dicts(line.tax_components), tax_category=line.tax_category[:64],
                requires_shipping=line.requires_shipping, quantity_fulfilled=0, quantity_returned=0,
                reservation_ids=reserved, source_line_id=line.source_line_id, created_at=now,
            )
            for i, (line, reserved) in enumerate(zip(snap.lines, reservations, strict=True))
        ]  # fmt: skip
        held = risk.recommendation in (Recommendation.REVIEW, Recommendation.BLOCK)
        # The common path settles the statuses in memory first, so the order is inserted
        # once in its final state (its events carry each intermediate state).
        after = None if held else self._settle(session, row, lines, payments, request)
        tag_rows = [OrderTagRow(order_id=row.id, tag=tag) for tag in tags]
        destination = convert.provider_address(snap.shipping_address)
        tax_rows = (
            tax_line_rows(
                row.id, {line.pricing_line_id or line.source_line_id: ol.id for line, ol in zip(snap.lines, lines, strict=True)},
                snap.tax, currency=snap.currency, destination=destination, now=now,
                shipping_amount=snap.shipping_total - snap.shipping_discount,
                prices_include_tax=snap.prices_include_tax,
            )
            if destination is not None and snap.tax.lines
            else []
        )  # fmt: skip
        if after is not None:
            # Settled: nothing changes these rows again in this transaction, so they go in
            # as plain INSERTs (the order before the rows that reference it); the events
            # stay in the session and are written with the caller's next flush.
            for rows in ([row], lines, tag_rows, after, tax_rows):
                await insert_rows(session, rows)
            return PlacedOrder(row.id, name, row.number, row.status, row.total, row.currency)
        session.add(row)
        await session.flush()  # the order before the rows that reference it
        session.add_all(lines)
        session.add_all(tag_rows)
        session.add_all(tax_rows)
        if held:
            await self._hold(session, row, risk, request)
        else:
            await self.repository.emit(session, row, "order.created", orderNumber=row.number, source=request.source)
            await self.repository.refresh_statuses(session, row, actor=request.actor)
        await session.flush()
        return PlacedOrder(row.id, name, row.number, row.status, row.total, row.currency)

    async def _attach_payments(self, session: AsyncSession, order: str, payment_ids: Sequence[str]) -> list[PaymentRow]:
        """Point the payments at ``order`` ("orders/ord_..."); PAYMENT_NOT_FOUND for an
        unknown id. Returns them oldest first, as ``OrderRepository.payments`` does, as
        transient rows holding only the figures placement reads (``payment_figures``)."""
        ids = list(dict.fromkeys(payment_ids))
        if not ids:
            return []
        params = {"ids": ids, "target": order}
        returning = update_returning(session)
        rows = payment_figures(
            (await session.execute(_RETARGET_RETURNING if returning else _PAYMENT_FIGURES, params)).all()
        )
        found = {p.id for p in rows}
        missing = [pid for pid in ids if pid not in found]
        if missing:
            raise OrderError(
                PAYMENT_NOT_FOUND, f"Payment payments/{missing[0]} does not exist.", payment=f"payments/{missing[0]}"
            )
        if not returning:
            await session.execute(_RETARGET, params)
        return sorted(rows, key=lambda p: (p.created_at, p.id))

    async def _hold(self, session: AsyncSession, row: OrderRow, risk: FraudResult, request: PlacementRequest) -> None:
        """The fraud path (rare): the repository's own steps, which read the order back."""
        await self.repository.emit(session, row, "order.created", orderNumber=row.number, source=request.source)
        blocked = risk.recommendation is Recommendation.BLOCK
        await self.repository.transition(
            session, row, OrderStatus.ON_HOLD, actor=SYSTEM_ACTOR,
            reason=f"fraud {risk.recommendation.value} (score {risk.score})",
        )  # fmt: skip
        row.hold_reason = "payment_blocked_by_fraud" if blocked else "fraud_review"
        await self.repository.add_system_note(
            session, row, f"Held for fraud {risk.recommendation.value}: score {risk.score}"
        )
        await self.repository.emit(
            session, row, "order.fraud_detected", score=risk.score, recommendation=risk.recommendation.value,
            reasons=risk.reasons,
        )  # fmt: skip
        await self.repository.refresh_statuses(session, row, actor=request.actor)

    def _settle(
        self,
        session: AsyncSession,
        row: OrderRow,
        lines: Sequence[OrderLineRow],
        payments: Sequence[PaymentRow],
        request: PlacementRequest,
    ) -> list[OrderStatusChangeRow] | None:
        """``order.created``, then what ``OrderRepository.refresh_statuses`` does for a new
        pending order (payment status from its payments; authorized or paid confirms it),
        with the same events and status history, from the rows just written instead of
        reading them back (placement knows every fact: no line is fulfilled yet), before
        the order is inserted. Returns the status history rows to add once the order is
        in; None, having done nothing, for any other payment status (the repository's path)."""
        paid = derive_payment_status(payment_totals(row.total, payments))
        if paid not in (PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, PaymentStatus.PAID):
            return None
        history: list[OrderStatusChangeRow] = []
        now = self.repository.clock.now()
        # As OrderRepository.emit / message: built once (the payments, hence the balance
        # due, stay as they are), then brought up to date with the row before each event.
        message = convert.order_message(
            row, lines, [p.id for p in payments], balance_due=balance_due(payment_totals(row.total, payments))
        )

        def emit(event: str, **extra: object) -> None:
            convert.restamp_order_message(message, row)
            record_event(session, event, message.name, message, now, **extra)

        emit("order.created", orderNumber=row.number, source=request.source)
        shipped = derive_fulfillment_status(
            (LineQuantities(line.quantity, 0, 0) for line in lines if line.requires_shipping), all_delivered=False
        )
        old_paid, old_shipped = row.payment_status, row.fulfillment_status
        row.payment_status, row.fulfillment_status = paid.value, shipped.value
        if paid.value != old_paid or shipped.value != old_shipped:
            self.repository.touch(row, now)
        if paid.value != old_paid and paid in PAYMENT_EVENTS:
            emit(PAYMENT_EVENTS[paid], previousPaymentStatus=old_paid)
        if shipped.value != old_shipped:
            emit("order.fulfillment_status_changed", previousFulfillmentStatus=old_shipped)
        if paid in (PaymentStatus.AUTHORIZED, PaymentStatus.PAID):
            reason = f"payment {paid.value}"
            row.status, row.confirmed_at = OrderStatus.CONFIRMED.value, now
            history.append(
                OrderStatusChangeRow(
                    id=new_id("osc", now), order_id=row.id, from_status=OrderStatus.PENDING.value,
                    to_status=OrderStatus.CONFIRMED.value, actor=request.actor[:100], reason=reason[:255], created_at=now,
                )
            )  # fmt: skip
            self.repository.touch(row, now)
            emit(
                STATUS_EVENTS[OrderStatus.CONFIRMED], previousStatus=OrderStatus.PENDING.value, actor=request.actor,
                reason=reason,
            )  # fmt: skip
        return history

    async def _customer(self, session: AsyncSession, request: PlacementRequest, snap: OrderSnapshot) -> CustomerProfile:
        if request.customer_id:
            if snap.customer is not None and snap.customer.id == request.customer_id:
                return snap.customer
            profile = await self.customers.get(session, request.customer_id)
            if profile is None:
                raise OrderError(
                    CUSTOMER_NOT_FOUND, f"Customer customers/{request.customer_id} does not exist.",
                    customer=f"customers/{request.customer_id}",
                )  # fmt: skip
            return profile
        email = request.email.strip() or snap.email
        if not email:
            raise OrderError(ORDER_EMAIL_REQUIRED, "A guest order needs an email address.")
        return await self.customers.find_or_create_guest(session, email)

    async def _assess(
        self, order_id: str, snap: OrderSnapshot, email: str, ip_address: str, customer: CustomerProfile
    ) -> FraudResult:
        """Built-in rules plus every fraud provider; the strictest provider decision wins.
        Runs before the order number is taken, so a slow provider holds no lock."""
        billing = convert.provider_address(snap.billing_address)
        shipping = convert.provider_address(snap.shipping_address)
        scores: list[int] = []
        floor = Recommendation.APPROVE
        extra: list[str] = []
        for code, provider in sorted(self.fraud_providers.items()):
            try:
                answer = await provider.assess(
                    FraudCheckRequest(
                        order=convert.order_name(order_id), amount=snap.total, currency=snap.currency,
                        customer_email=email, ip_address=ip_address, billing=billing, shipping=shipping,
                    )
                )  # fmt: skip
            except Exception:  # a provider that cannot answer sends the order to review
                log.warning("fraud provider %s failed for order %s", code, order_id, exc_info=True)
                floor = _stricter(floor, Recommendation.REVIEW)
                extra.append(f"provider_error:{code}")
                continue
            scores.append(max(0, min(100, answer.score)))
            floor = _stricter(floor, _DECISION[answer.decision])
            extra.extend(f"{code}:{r}" for r in answer.reasons)
        result = assess(
            FraudInput(snap.total, snap.currency, billing, shipping, customer.orders_count), self.fraud, scores
        )
        hits = result.hits + tuple(RuleHit(reason, 0) for reason in extra)
        return FraudResult(result.score, _stricter(result.recommendation, floor), hits, result.provider_score)


def _stricter(a: Recommendation, b: Recommendation) -> Recommendation:
    return a if _SEVERITY[a] >= _SEVERITY[b] else b
