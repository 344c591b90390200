"""Admin draft orders: explicit lines + region + customer + address, priced through the
one pricing pipeline (price lists, promotions, tax) with a custom shipping line, and
completed into a real order by :class:`~rcommerce.domain.orders.placement.OrderPlacement`
(source "draft": numbered, stock reserved, promotion usage recorded, payment pending).

A line may override the unit price (``unit_price`` > 0); otherwise the region's price
for the customer applies, as for a cart. Coupon codes that do not apply are ignored
when the draft is priced (a cart reports them as rejected).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.carts.errors import VARIANT_NOT_PRICED
from rcommerce.domain.carts.sellable import sellable_variant
from rcommerce.domain.catalog import repository as catalog
from rcommerce.domain.customers.directory import CustomerDirectory, CustomerProfile
from rcommerce.domain.customers.errors import CUSTOMER_NOT_FOUND
from rcommerce.domain.orders import convert
from rcommerce.domain.orders.errors import DRAFT_ORDER_COMPLETED, DRAFT_ORDER_EMPTY, DRAFT_ORDER_NOT_FOUND, OrderError
from rcommerce.domain.orders.models import DraftOrderRow
from rcommerce.domain.orders.placement import OrderPlacement, OrderSnapshot, PlacementRequest, SnapshotLine
from rcommerce.domain.orders.service import actor_of
from rcommerce.domain.pricing.assembly import CartLine, PricingContext, PricingEngine
from rcommerce.domain.pricing.pipeline import PricingInput, PricingLine, finish, prepare
from rcommerce.domain.promotions.engine import normalize_code
from rcommerce.domain.regions.directory import RegionDirectory, RegionInfo
from rcommerce.domain.regions.errors import REGION_NOT_FOUND
from rcommerce.errors import FieldViolation, RequestError, raise_violations
from rcommerce.events import record_event
from rcommerce.fieldmask import populated, resolve_mask
from rcommerce.gen.v1 import catalog_pb2
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.ids import new_id
from rcommerce.names import parse_child_name, parse_name
from rcommerce.timestamps import to_timestamp

__all__ = ["DraftOrderService"]

UPDATABLE = (
    "customer", "email", "shipping_address", "billing_address", "lines", "coupon_codes", "shipping_title",
    "shipping_amount", "tags", "metadata", "note",
)  # fmt: skip
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_LINES, MAX_QUANTITY = 250, 9999
OPEN, COMPLETED = "open", "completed"


@dataclass(frozen=True, slots=True)
class _Priced:
    snapshot: OrderSnapshot
    names: tuple[str, ...]  # the draft line's variant names, for the message


class DraftOrderService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        placement: OrderPlacement,
        pricing: PricingEngine,
        regions: RegionDirectory,
        customers: CustomerDirectory,
    ) -> None:
        self.db = db
        self.clock = clock
        self.placement = placement
        self.pricing = pricing
        self.regions = regions
        self.customers = customers

    # -- commands -------------------------------------------------------------------------
    async def create(self, draft: O.DraftOrder) -> O.DraftOrder:
        region_id = parse_name(draft.region, "regions", "reg", "draft_order.region")
        paths = [p for p in UPDATABLE if populated(draft, p)]
        _validate(draft, paths)
        now = self.clock.now()
        async with self.db.transaction() as s:
            region = await self._region(s, region_id)
            row = DraftOrderRow(
                id=new_id("dord", now), region_id=region.id, currency=region.currency_code, customer_id="", email="",
                shipping_address=None, billing_address=None, lines=[], coupon_codes=[], shipping_title="",
                shipping_amount=0, tags=[], extra={}, note="", status=OPEN, order_id="", revision=1, created_at=now,
                updated_at=now,
            )  # fmt: skip
            self._apply(row, draft, paths)
            await self._check_customer(s, row)
            s.add(row)
            message = await self._message(s, row, region)
            record_event(s, "draft_order.created", message.name, message, now)
            return message

    async def get(self, name: str) -> O.DraftOrder:
        draft_id = parse_name(name, "draftOrders", "dord")
        async with self.db.read() as s:
            row = await self._load(s, draft_id)
            return await self._message(s, row, await self._region(s, row.region_id))

    async def update(self, draft: O.DraftOrder, mask: FieldMask) -> O.DraftOrder:
        draft_id = parse_name(draft.name, "draftOrders", "dord", "draft_order.name")
        paths = resolve_mask(mask, draft, UPDATABLE)
        _validate(draft, paths)
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await self._load(s, draft_id, lock=True)
            _check_open(row)
            self._apply(row, draft, paths)
            await self._check_customer(s, row)
            row.revision += 1
            row.updated_at = now
            message = await self._message(s, row, await self._region(s, row.region_id))
            record_event(s, "draft_order.updated", message.name, message, now)
            return message

    async def complete(self, principal: Principal, name: str) -> O.Order:
        draft_id = parse_name(name, "draftOrders", "dord")
        async with self.db.transaction() as s:
            row = await self._load(s, draft_id, lock=True)
            _check_open(row)
            if not row.lines:
                raise OrderError(DRAFT_ORDER_EMPTY, f"Draft order {name} has no lines.", draftOrder=name)
            region = await self._region(s, row.region_id)
            priced = await self._price(s, row, region)
            placed = await self.placement.place(
                s,
                PlacementRequest(
                    source="draft", priced=priced.snapshot, email=row.email, customer_id=row.customer_id,
                    metadata={str(k): str(v) for k, v in row.extra.items()}, tags=tuple(row.tags),
                    customer_note=row.note, actor=actor_of(principal),
                ),
            )  # fmt: skip
            now = self.clock.now()
            row.status, row.order_id, row.updated_at = COMPLETED, placed.id, now
            row.revision += 1
            message = await self._message(s, row, region)
            record_event(s, "draft_order.completed", message.name, message, now, order=placed.name)
            order = await self.placement.repository.load(s, placed.id)
            return await self.placement.repository.message(s, order)

    # -- internals ------------------------------------------------------------------------
    async def _load(self, s: AsyncSession, draft_id: str, *, lock: bool = False) -> DraftOrderRow:
        query = select(DraftOrderRow).where(DraftOrderRow.id == draft_id)
        row = await s.scalar(query.with_for_update() if lock else query)
        if row is None:
            name = f"draftOrders/{draft_id}"
            raise OrderError(DRAFT_ORDER_NOT_FOUND, f"Draft order {name} does not exist.", draftOrder=name)
        return row

    async def _region(self, s: AsyncSession, region_id: str) -> RegionInfo:
        region = await self.regions.get(s, region_id)
        if region is None:
            name = f"regions/{region_id}"
            raise OrderError(REGION_NOT_FOUND, f"Region {name} does not exist.", region=name)
        return region

    async def _customer(self, s: AsyncSession, row: DraftOrderRow) -> CustomerProfile | None:
        return await self.customers.get(s, row.customer_id) if row.customer_id else None

    async def _check_customer(self, s: AsyncSession, row: DraftOrderRow) -> None:
        if row.customer_id and await self._customer(s, row) is None:
            name = f"customers/{row.customer_id}"
            raise OrderError(CUSTOMER_NOT_FOUND, f"Customer {name} does not exist.", customer=name)

    @staticmethod
    def _apply(row: DraftOrderRow, draft: O.DraftOrder, paths: Sequence[str]) -> None:
        for path in paths:
            if path == "customer":
                row.customer_id = (
                    parse_name(draft.customer, "customers", "cus", "draft_order.customer") if draft.customer else ""
                )
            elif path == "email":
                row.email = draft.email.strip().lower()
            elif path in ("shipping_address", "billing_address"):
                value = getattr(draft, path)
                setattr(row, path, convert.address_to_db(value) if draft.HasField(path) else None)
            elif path == "lines":
                row.lines = [
                    {"variant": line.variant, "quantity": line.quantity, "unit_price": line.unit_price}
                    for line in draft.lines
                ]
            elif path == "coupon_codes":
                row.coupon_codes = list(dict.fromkeys(normalize_code(c) for c in draft.coupon_codes if c.strip()))
            elif path == "shipping_title":
                row.shipping_title = draft.shipping_title.strip()[:255]
            elif path == "shipping_amount":
                row.shipping_amount = draft.shipping_amount
            elif path == "tags":
                row.tags = list(dict.fromkeys(t.strip() for t in draft.tags if t.strip()))
            elif path == "metadata":
                row.extra = dict(draft.metadata)
            elif path == "note":
                row.note = draft.note

    async def _price(self, s: AsyncSession, row: DraftOrderRow, region: RegionInfo) -> _Priced:
        """The draft through the pricing pipeline: R1 prices, promotions, custom shipping, tax."""
        customer = await self._customer(s, row)
        wanted = [
            (parse_child_name(str(x["variant"]), "products", "prod", "variants", "var", "variant"), x)
            for x in row.lines
        ]
        products = {p.id: p for p in await catalog.load_products(s, sorted({pid for (pid, _), _ in wanted}))}
        prices = await self.pricing.unit_prices(s, [vid for (_, vid), _ in wanted], region.currency_code, customer)
        lines: list[CartLine] = []
        info: list[tuple[str, str, str]] = []
        for i, ((product_id, variant_id), data) in enumerate(wanted):
            product, variant = sellable_variant(products, product_id, variant_id, OrderError)
            price = prices.get(variant_id)
            override = int(data.get("unit_price", 0) or 0)
            if price is None and not override:
                raise OrderError(
                    VARIANT_NOT_PRICED, f"Variant {data['variant']} has no price in {region.currency_code}; give unit_price.",
                    variant=str(data["variant"]), currencyCode=region.currency_code,
                )  # fmt: skip
            unit = override or (price.amount if price else 0)
            original = price.original_amount if price else unit
            lines.append(
                CartLine(
                    line_id=f"dl{i}", product_id=product_id, variant_id=variant_id, quantity=int(data["quantity"]),
                    unit_price=unit, original_unit_price=original, weight_grams=variant.weight_grams,
                    requires_shipping=variant.requires_shipping and product.kind != catalog_pb2.PRODUCT_KIND_DIGITAL,
                    category_ids=frozenset(c.removeprefix("categories/") for c in product.categories),
                    collection_ids=frozenset(c.removeprefix("collections/") for c in product.collections),
                    tags=frozenset(product.tags), sku=variant.sku,
                )
            )  # fmt: skip
            price_list = "" if override or price is None else price.price_list_id
            info.append((product.title, variant.title, price_list))
        destination = convert.provider_address(row.shipping_address)
        ctx = PricingContext(
            cart_id=row.id, region=region, customer=customer, coupon_codes=tuple(row.coupon_codes),
            destination=destination, vat_id=customer.vat_id if customer else "",
        )  # fmt: skip
        promotions = await self.pricing.promotions.evaluate(s, self.pricing.promo_context(ctx, lines))
        data_in = PricingInput(
            currency=region.currency_code,
            lines=tuple(PricingLine(ln.line_id, ln.quantity, ln.unit_price, ln.original_unit_price, ln.tax_category,
                                    ln.requires_shipping) for ln in lines),
            line_discounts=promotions.line_discounts, free_shipping=promotions.free_shipping,
            shipping_amount=row.shipping_amount if row.shipping_amount or row.shipping_title else None,
            prices_include_tax=region.prices_include_tax, destination=destination,
            customer_id=customer.id if customer else "", customer_tax_exempt=customer.tax_exempt if customer else False,
            vat_id=ctx.vat_id, origin_country=self.pricing.tax.origin_country,
        )  # fmt: skip
        staged = prepare(data_in)
        tax = None
        if staged.tax_request is not None:
            tax = await self.pricing.tax.calculate(
                s, staged.tax_request, region.tax_provider or self.pricing.default_tax_provider
            )
        b = finish(staged, tax)
        by_line = {p.line_id: p for p in b.lines}
        snap_lines = tuple(
            SnapshotLine(
                source_line_id="", pricing_line_id=ln.line_id, product_id=ln.product_id, variant_id=ln.variant_id, title=title,
                variant_title=variant_title, sku=ln.sku, quantity=ln.quantity, unit_price=ln.unit_price,
                original_unit_price=ln.original_unit_price, price_list_id=price_list, subtotal=by_line[ln.line_id].subtotal,
                discount=by_line[ln.line_id].discount, tax=by_line[ln.line_id].tax, total=by_line[ln.line_id].total,
                tax_components=by_line[ln.line_id].tax_components, requires_shipping=ln.requires_shipping,
            )
            for ln, (title, variant_title, price_list) in zip(lines, info, strict=True)
        )  # fmt: skip
        t = b.totals
        snapshot = OrderSnapshot(
            region_id=region.id, currency=region.currency_code, lines=snap_lines, subtotal=t.subtotal,
            discount_total=t.discount_total, shipping_total=t.shipping_total, shipping_discount=t.shipping_discount,
            item_tax=t.item_tax, shipping_tax=t.shipping_tax, tax_total=t.tax_total, total=t.total, tax=b.tax,
            prices_include_tax=b.prices_include_tax, customer=customer, email=row.email or (customer.email if customer else ""),
            shipping_address=row.shipping_address, billing_address=row.billing_address, vat_id=ctx.vat_id,
            shipping_method=row.shipping_title or ("Shipping" if t.shipping_total else ""),
            promotions=tuple(
                {"promotion_id": a.promotion_id, "code": a.code, "title": a.title, "amount": a.amount,
                 "free_shipping": a.free_shipping}
                for a in promotions.applied
            ),
            coupon_codes=tuple(row.coupon_codes),
        )  # fmt: skip
        return _Priced(snapshot, tuple(str(x["variant"]) for x in row.lines))

    async def _message(self, s: AsyncSession, row: DraftOrderRow, region: RegionInfo) -> O.DraftOrder:
        msg = O.DraftOrder(
            name=f"draftOrders/{row.id}", id=row.id, region=f"regions/{row.region_id}",
            customer=f"customers/{row.customer_id}" if row.customer_id else "", email=row.email,
            lines=[O.DraftOrderLine(variant=str(x["variant"]), quantity=int(x["quantity"]), unit_price=int(x.get("unit_price", 0) or 0))
                   for x in row.lines],
            coupon_codes=list(row.coupon_codes), shipping_title=row.shipping_title, shipping_amount=row.shipping_amount,
            tags=list(row.tags), metadata={str(k): str(v) for k, v in row.extra.items()}, note=row.note, status=row.status,
            order=f"orders/{row.order_id}" if row.order_id else "", currency_code=row.currency,
            create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
        )  # fmt: skip
        for field in ("shipping_address", "billing_address"):
            address = convert.address_from_db(getattr(row, field))
            if address is not None:
                getattr(msg, field).CopyFrom(address)
        if row.lines and row.status == OPEN:
            priced = await self._price(s, row, region)
            snap = priced.snapshot
            for i, line in enumerate(snap.lines):
                msg.line_items.append(
                    O.OrderLineItem(
                        name=f"draftOrders/{row.id}/lineItems/dl{i}", id=f"dl{i}", product=f"products/{line.product_id}",
                        variant=priced.names[i], title=line.title, variant_title=line.variant_title, sku=line.sku,
                        quantity=line.quantity, unit_price=line.unit_price, original_unit_price=line.original_unit_price,
                        price_list=f"priceLists/{line.price_list_id}" if line.price_list_id else "",
                        subtotal=line.subtotal, discount_total=line.discount, tax_total=line.tax, total=line.total,
                        requires_shipping=line.requires_shipping,
                    )
                )  # fmt: skip
            msg.totals.CopyFrom(
                O.OrderTotals(
                    subtotal=snap.subtotal, discount_total=snap.discount_total, shipping_total=snap.shipping_total,
                    shipping_discount=snap.shipping_discount, item_tax=snap.item_tax, shipping_tax=snap.shipping_tax,
                    tax_total=snap.tax_total, total=snap.total,
                )
            )  # fmt: skip
        return msg


def _check_open(row: DraftOrderRow) -> None:
    if row.status != OPEN:
        name = f"draftOrders/{row.id}"
        raise OrderError(
            DRAFT_ORDER_COMPLETED, f"Draft order {name} was completed as orders/{row.order_id}.",
            draftOrder=name, order=f"orders/{row.order_id}",
        )  # fmt: skip


def _validate(draft: O.DraftOrder, paths: Sequence[str]) -> None:
    problems: list[FieldViolation] = []
    if "lines" in paths:
        if len(draft.lines) > MAX_LINES:
            problems.append(FieldViolation("draft_order.lines", f"at most {MAX_LINES} lines"))
        for i, line in enumerate(draft.lines):
            try:
                parse_child_name(line.variant, "products", "prod", "variants", "var", f"draft_order.lines[{i}].variant")
            except RequestError as exc:
                problems.extend(exc.violations)
            if not 1 <= line.quantity <= MAX_QUANTITY:
                problems.append(FieldViolation(f"draft_order.lines[{i}].quantity", f"must be 1 to {MAX_QUANTITY}"))
            if line.unit_price < 0:
                problems.append(FieldViolation(f"draft_order.lines[{i}].unit_price", "must be >= 0"))
    if "email" in paths and draft.email and not _EMAIL.match(draft.email.strip()):
        problems.append(FieldViolation("draft_order.email", "must be an email address"))
    if "shipping_amount" in paths and draft.shipping_amount < 0:
        problems.append(FieldViolation("draft_order.shipping_amount", "must be >= 0"))
    for path in ("shipping_address", "billing_address"):
        if path in paths and draft.HasField(path):
            code = getattr(draft, path).country_code
            if code and not re.fullmatch(r"[A-Z]{2}", code):
                problems.append(
                    FieldViolation(f"draft_order.{path}.country_code", "must be an ISO 3166-1 alpha-2 code")
                )
    raise_violations(problems)
