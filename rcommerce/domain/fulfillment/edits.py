"""Order edits (core-domain §3.10; DECISIONS 15): one ``EditOrder`` command applies any
mix of line additions, quantity changes, removals, address changes and coupon codes to
an editable order (pending, confirmed, on_hold; else ORDER_NOT_EDITABLE), in one
transaction:

1. the order's lines become pricing lines: existing lines keep their snapshot unit
   price, new lines take today's price (price lists included) — R1;
2. the same :class:`~rcommerce.domain.pricing.assembly.PricingEngine` as carts prices
   them (promotions, allocation, tax on the discounted base, shipping tax, totals). The
   shipping charge is not re-quoted (core-domain §3.10): the engine is handed the
   order's shipping as charged in place of a stored quote;
3. stock follows the quantities (reservations of changed or removed lines are released,
   the new quantities reserved — INSUFFICIENT_INVENTORY rolls everything back);
4. lines and totals are rewritten, a system note lists the changes and ``order.edited``
   is appended; derived statuses are recomputed.

The balance (new total − captured + refunded) is reported, never moved: collect it
with a new payment on the order or refund it with ``RefundOrder``. ``validate_only``
runs everything and rolls back.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.carts.errors import SHIPPING_COUNTRY_NOT_IN_REGION, VARIANT_NOT_PRICED
from rcommerce.domain.carts.sellable import sellable_variant
from rcommerce.domain.catalog import repository as catalog
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.fulfillment import facts
from rcommerce.domain.fulfillment.edit_records import sync_promotion_usage, sync_tax_transactions
from rcommerce.domain.fulfillment.errors import COUPON_NOT_ON_ORDER, ORDER_LINE_NOT_FOUND, FulfillmentError
from rcommerce.domain.inventory.models import ReservationRow
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.orders.convert import address_to_db, order_name, provider_address
from rcommerce.domain.orders.errors import ORDER_NOT_EDITABLE
from rcommerce.domain.orders.models import OrderLineRow, OrderRow
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.domain.orders.states import EDITABLE, OrderStatus
from rcommerce.domain.orders.taxes import component_dicts, tax_summary
from rcommerce.domain.pricing.assembly import CartLine, PricingContext, PricingEngine
from rcommerce.domain.pricing.pipeline import PricedLine
from rcommerce.domain.promotions.engine import normalize_code
from rcommerce.domain.promotions.evaluator import PromotionEvaluator
from rcommerce.domain.regions.directory import RegionDirectory
from rcommerce.domain.regions.errors import REGION_NOT_FOUND
from rcommerce.domain.shipping.quoting import ShippingQuoter, StoredQuote
from rcommerce.errors import FieldViolation, invalid, raise_violations
from rcommerce.gen.v1 import catalog_pb2
from rcommerce.gen.v1 import fulfillment_pb2 as F
from rcommerce.ids import id_prefix, new_id
from rcommerce.names import parse_name

__all__ = ["OrderEditService"]

MAX_QUANTITY = 9999
_ORDER_SHIPPING = "order-shipping"


class _Preview(Exception):
    """Raised to roll back a validate_only edit, carrying its answer."""

    def __init__(self, answer: F.OrderEdit) -> None:
        super().__init__("preview")
        self.answer = answer


class _OrderShipping:
    """Stands in for the shipping quoter inside the pricing engine: the order's shipping
    as charged at placement (edits do not re-quote shipping, core-domain §3.10)."""

    def __init__(self, order: OrderRow, now: datetime) -> None:
        self.order = order
        self.now = now

    async def get_quote(self, session: AsyncSession, quote_id: str, *, cart_id: str) -> StoredQuote:
        o = self.order
        return StoredQuote(
            id=quote_id, cart_id=cart_id, provider=o.shipping_provider, service_code=o.shipping_service,
            display_name=o.shipping_method, amount=o.shipping_total, currency=o.currency, expires_at=self.now,
        )  # fmt: skip


def _product_facts(product: catalog_pb2.Product | None) -> dict[str, Any]:
    if product is None:
        return {}
    return {
        "category_ids": frozenset(c.removeprefix("categories/") for c in product.categories),
        "collection_ids": frozenset(c.removeprefix("collections/") for c in product.collections),
        "tags": frozenset(product.tags),
    }


def _validate(request: F.EditOrderRequest) -> list[tuple[str, str, int]]:
    problems: list[FieldViolation] = []
    adds: list[tuple[str, str, int]] = []
    for i, item in enumerate(request.add_lines):
        parts = item.variant.split("/")
        if len(parts) != 4 or id_prefix(parts[1]) != "prod" or id_prefix(parts[3]) != "var":
            problems.append(FieldViolation(f"add_lines[{i}].variant", "expected products/prod_.../variants/var_..."))
        elif not 0 < item.quantity <= MAX_QUANTITY:
            problems.append(FieldViolation(f"add_lines[{i}].quantity", f"must be 1 to {MAX_QUANTITY}"))
        else:
            adds.append((parts[1], parts[3], int(item.quantity)))
    for i, line in enumerate(request.update_lines):
        if not 0 <= line.quantity <= MAX_QUANTITY:
            problems.append(FieldViolation(f"update_lines[{i}].quantity", f"must be 0 to {MAX_QUANTITY} (0 removes)"))
    for field, codes in (
        ("add_coupon_codes", request.add_coupon_codes),
        ("remove_coupon_codes", request.remove_coupon_codes),
    ):
        for i, code in enumerate(codes):
            if not normalize_code(code):
                problems.append(FieldViolation(f"{field}[{i}]", "must not be empty"))
    touched = (
        request.add_lines or request.update_lines or request.remove_line_ids or request.add_coupon_codes
        or request.remove_coupon_codes or request.HasField("shipping_address") or request.HasField("billing_address")
    )  # fmt: skip
    if not touched:
        problems.append(FieldViolation("name", "the edit changes nothing: give at least one operation"))
    raise_violations(problems)
    return adds


class OrderEditService:
    def __init__(
        self, db: Database, clock: Clock, orders: OrderRepository, stock: Stock, pricing: PricingEngine,
        promotions: PromotionEvaluator | None = None,
    ) -> None:  # fmt: skip
        self.db = db
        self.promotions = promotions or PromotionEvaluator(clock)
        self.clock = clock
        self.orders = orders
        self.stock = stock
        self.pricing = pricing
        self.regions = RegionDirectory()
        self.customers = CustomerDirectory(clock)

    async def edit(self, request: F.EditOrderRequest, *, actor: str) -> F.OrderEdit:
        order_id = parse_name(request.name, "orders", "ord")
        adds = _validate(request)
        try:
            async with self.db.transaction() as s:
                answer = await self._edit(s, order_id, request, adds, actor)
                if request.validate_only:
                    raise _Preview(answer)
                return answer
        except _Preview as preview:
            return preview.answer

    async def _edit(
        self, s: AsyncSession, order_id: str, request: F.EditOrderRequest, adds: list[tuple[str, str, int]], actor: str
    ) -> F.OrderEdit:
        now = self.clock.now()
        order = await self.orders.load(s, order_id, lock=True)
        status = OrderStatus(order.status)
        if status not in EDITABLE:
            raise FulfillmentError(
                ORDER_NOT_EDITABLE, f"Order {order.number} is {status.value}; only pending, confirmed or on_hold orders can be edited.",
                order=order_name(order_id), currentStatus=status.value,
                editableStatuses=",".join(sorted(x.value for x in EDITABLE)),
            )  # fmt: skip
        region = await self.regions.get(s, order.region_id)
        if region is None:
            raise FulfillmentError(REGION_NOT_FOUND, f"Region regions/{order.region_id} does not exist.")
        customer = await self.customers.get(s, order.customer_id) if order.customer_id else None
        previous_total = order.total
        rows = await self.orders.lines(s, order_id)
        by_id = {row.id: row for row in rows}
        quantities = {row.id: row.quantity for row in rows}
        for line_id in request.remove_line_ids:
            self._line(by_id, line_id)
            quantities[line_id] = 0
        for update in request.update_lines:
            self._line(by_id, update.line_id)
            quantities[update.line_id] = int(update.quantity)
        for line_id, q in quantities.items():
            shipped = by_id[line_id].quantity_fulfilled
            if q < shipped:  # an on_hold order may hold fulfilled units
                raise invalid(
                    "update_lines", f"line {line_id} cannot go below the {shipped} units already fulfilled",
                    lineId=line_id, fulfilled=shipped,
                )  # fmt: skip

        # New lines: today's price for this customer (R1).
        products = {
            p.id: p for p in await catalog.load_products(s, sorted({r.product_id for r in rows if r.product_id} | {a[0] for a in adds}))
        }  # fmt: skip
        prices = await self.pricing.unit_prices(s, [a[1] for a in adds], order.currency, customer)
        new_lines: list[tuple[CartLine, catalog_pb2.Product, catalog_pb2.Variant]] = []
        for i, (product_id, variant_id, q) in enumerate(adds):
            product, variant = sellable_variant(products, product_id, variant_id, FulfillmentError)
            price = prices.get(variant_id)
            if price is None:
                raise FulfillmentError(
                    VARIANT_NOT_PRICED, f"Variant {variant_id} has no price in {order.currency}.",
                    variantId=variant_id, currencyCode=order.currency, field=f"add_lines[{i}]",
                )  # fmt: skip
            line = CartLine(
                line_id=new_id("oli", now), product_id=product_id, variant_id=variant_id, quantity=q,
                unit_price=price.amount, original_unit_price=price.original_amount, requires_shipping=variant.requires_shipping,
                sku=variant.sku, tax_category=product.tax_category, **_product_facts(product),
            )  # fmt: skip
            new_lines.append((line, product, variant))
        kept = [
            CartLine(
                line_id=row.id, product_id=row.product_id, variant_id=row.variant_id, quantity=quantities[row.id],
                unit_price=row.unit_price, original_unit_price=row.original_unit_price,
                requires_shipping=row.requires_shipping, sku=row.sku, tax_category=row.tax_category,
                **_product_facts(products.get(row.product_id)),
            )
            for row in rows
            if quantities[row.id] > 0
        ]  # fmt: skip
        lines = kept + [n[0] for n in new_lines]
        if not lines:
            raise invalid("remove_line_ids", "an order keeps at least one line; cancel the order instead")

        # Addresses.
        changes: list[str] = []
        shipping = order.shipping_address
        if request.HasField("shipping_address"):
            country = request.shipping_address.country_code
            if country and region.countries and country not in region.countries:
                raise FulfillmentError(
                    SHIPPING_COUNTRY_NOT_IN_REGION, f"The region regions/{region.id} does not ship to {country}.",
                    countryCode=country, region=f"regions/{region.id}",
                )  # fmt: skip
            shipping = address_to_db(request.shipping_address)
            changes.append("Shipping address changed")
        billing = order.billing_address
        if request.HasField("billing_address"):
            billing = address_to_db(request.billing_address)
            changes.append("Billing address changed")

        # Coupon codes: removals must be on the order; additions are validated like on carts.
        codes = list(order.coupon_codes)
        for code in (normalize_code(c) for c in request.remove_coupon_codes):
            if code not in codes:
                raise FulfillmentError(COUPON_NOT_ON_ORDER, f"Code {code} is not applied to this order.", code=code)
            codes.remove(code)
            changes.append(f"Coupon {code} removed")
        ctx = PricingContext(
            cart_id=order.id, region=region, customer=customer, coupon_codes=tuple(codes),
            destination=provider_address(shipping), vat_id=order.vat_id,
            shipping_quote_id=_ORDER_SHIPPING if order.shipping_total or order.shipping_provider else "",
        )  # fmt: skip
        for code in (normalize_code(c) for c in request.add_coupon_codes):
            if code in codes:
                continue
            # ``codes`` are those already on the order (the new one would be "already applied").
            await self.pricing.promotions.validate_code(s, code, self.pricing.promo_context(ctx, lines, codes))
            codes.append(code)
            changes.append(f"Coupon {code} applied")
        ctx = replace(ctx, coupon_codes=tuple(codes))

        # Price through the carts' pipeline, with the order's shipping as charged.
        engine = PricingEngine(
            self.pricing.prices, self.pricing.promotions, self.pricing.tax,
            cast(ShippingQuoter, _OrderShipping(order, now)), default_tax_provider=self.pricing.default_tax_provider,
        )  # fmt: skip
        result = await engine.price(s, ctx, lines)
        priced = {line.line_id: line for line in result.breakdown.lines}
        dropped = [f"{code}:{why}" for code, why in result.promotions.rejected]
        for code, why in result.promotions.rejected:
            if code in codes:
                codes.remove(code)
                changes.append(f"Coupon {code} dropped ({why})")

        # Stock and lines.
        name = order_name(order_id)
        for row in rows:
            q = quantities[row.id]
            if q == row.quantity:
                self._apply(row, priced[row.id])
                continue
            await self._release(s, row.reservation_ids)
            if q == 0:
                await s.execute(delete(OrderLineRow).where(OrderLineRow.id == row.id))
                changes.append(f"Removed item: {row.title} (Qty: {row.quantity})")
                continue
            if row.variant_id:
                open_units = q - row.quantity_fulfilled  # fulfilled units left the warehouse already
                row.reservation_ids = (
                    await self.stock.reserve(s, variant_id=row.variant_id, quantity=open_units, reference=name)
                    if open_units > 0
                    else []
                )
            changes.append(f"Changed quantity of {row.title}: {row.quantity} → {q}")
            row.quantity = q
            self._apply(row, priced[row.id])
        position = int(
            await s.scalar(select(func.max(OrderLineRow.position)).where(OrderLineRow.order_id == order_id)) or 0
        )
        for line, product, variant in new_lines:
            position += 1
            reservations = await self.stock.reserve(
                s, variant_id=line.variant_id, quantity=line.quantity, reference=name
            )
            row = OrderLineRow(
                id=line.line_id, order_id=order_id, position=position, product_id=line.product_id,
                variant_id=line.variant_id, title=product.title, variant_title=variant.title, sku=variant.sku,
                quantity=line.quantity, unit_price=line.unit_price, original_unit_price=line.original_unit_price,
                price_list_id=prices[line.variant_id].price_list_id, subtotal=0, discount=0, tax=0, total=0,
                tax_components=[], tax_category=line.tax_category, requires_shipping=line.requires_shipping,
                quantity_fulfilled=0, quantity_returned=0, reservation_ids=reservations, source_line_id="edit",
                created_at=now,
            )  # fmt: skip
            self._apply(row, priced[line.line_id])
            s.add(row)
            changes.append(f"Added item: {product.title} (Qty: {line.quantity})")

        # Totals.
        t = result.breakdown.totals
        order.subtotal, order.discount_total, order.shipping_total = t.subtotal, t.discount_total, t.shipping_total
        order.shipping_discount, order.item_tax, order.shipping_tax = t.shipping_discount, t.item_tax, t.shipping_tax
        order.tax_total, order.total = t.tax_total, t.total
        order.reverse_charge_applied = result.breakdown.tax.reverse_charge_applied
        order.coupon_codes = codes
        promotions_before = list(order.promotions or [])
        order.promotions = [
            {"promotion_id": p.promotion_id, "code": p.code, "title": p.title, "amount": p.amount,
             "free_shipping": p.free_shipping}
            for p in result.promotions.applied
        ]  # fmt: skip
        order.tax_lines = tax_summary(
            [c for line in result.breakdown.lines for c in line.tax_components] + list(result.breakdown.tax.shipping)
        )
        order.shipping_address, order.billing_address = shipping, billing
        if order.total != previous_total:
            changes.append(f"Total {previous_total} → {order.total} {order.currency} (minor units)")
        self.orders.touch(order, now)
        await s.flush()
        await sync_tax_transactions(s, order, result.breakdown.tax, now=now)
        await sync_promotion_usage(s, self.promotions, order, promotions_before, order.promotions, now=now)
        await self.orders.refresh_statuses(s, order, actor=actor)
        await self.orders.add_system_note(s, order, "Order edited: " + "; ".join(changes) + ".")
        summary = await facts.summary(s, self.orders, order)
        balance = order.total - summary.refundable
        await self.orders.emit(
            s,
            order,
            "order.edited",
            changes=changes,
            previousTotal=previous_total,
            newTotal=order.total,
            balance=balance,
        )
        return F.OrderEdit(
            order=await self.orders.message(s, order), previous_total=previous_total, new_total=order.total,
            balance=balance, changes=changes, dropped_coupon_codes=dropped, validate_only=request.validate_only,
        )  # fmt: skip

    @staticmethod
    def _line(by_id: dict[str, OrderLineRow], line_id: str) -> OrderLineRow:
        found = by_id.get(line_id)
        if found is None:
            raise FulfillmentError(ORDER_LINE_NOT_FOUND, f"The order has no line {line_id}.", lineId=line_id)
        return found

    @staticmethod
    def _apply(row: OrderLineRow, line: PricedLine) -> None:
        row.unit_price, row.original_unit_price = line.unit_price, line.original_unit_price
        row.subtotal, row.discount, row.total, row.tax = line.subtotal, line.discount, line.total, line.tax
        row.tax_components = component_dicts(line.tax_components)

    async def _release(self, s: AsyncSession, reservation_ids: list[str]) -> None:
        if not reservation_ids:
            return
        active = await s.scalars(
            select(ReservationRow.id).where(ReservationRow.id.in_(reservation_ids), ReservationRow.status == "active")
        )
        for reservation_id in list(active):
            await self.stock.release(s, reservation_id, "manual_release")
