"""The cart service: guest and customer carts, their lines, coupons and shipping choice.

Every command is one transaction: it locks the cart row, checks access and state, checks
the rules before it writes anything (so a refused request changes nothing), writes,
prices the cart through the one pricing pipeline and records its event in the outbox.
Reads price the cart too: totals are never stored, always recomputed on the server.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal, customer_id_of
from rcommerce.cache.base import Cache
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.carts import convert
from rcommerce.domain.carts.access import check_access, check_open, check_unexpired, hash_token, new_token
from rcommerce.domain.carts.errors import (
    CART_CHANGED,
    CART_CURRENCY_MISMATCH,
    CART_NOT_FOUND,
    CART_OWNED_BY_ANOTHER_CUSTOMER,
    CART_TOKEN_INVALID,
    COUPON_NOT_ON_CART,
    INVALID_QUANTITY,
    LINE_ITEM_NOT_FOUND,
    LINE_QUANTITY_LIMIT,
    MERGE_NEEDS_CUSTOMER,
    SHIPPING_ADDRESS_REQUIRED,
    SHIPPING_COUNTRY_NOT_IN_REGION,
    VARIANT_NOT_PRICED,
    CartError,
)
from rcommerce.domain.carts.models import ACTIVE, CONVERTED, CartLineRow, CartRow
from rcommerce.domain.carts.sellable import sellable_variant
from rcommerce.domain.carts.state import CartView, LineState, load_cart, load_lines
from rcommerce.domain.catalog import repository as catalog
from rcommerce.domain.catalog._base import GENERATION_KEY
from rcommerce.domain.customers.directory import CustomerDirectory, CustomerProfile
from rcommerce.domain.customers.errors import CUSTOMER_NOT_FOUND
from rcommerce.domain.inventory.errors import INSUFFICIENT_INVENTORY
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.pricing.assembly import CartLine, PricingContext, PricingEngine, PricingResult
from rcommerce.domain.promotions.engine import normalize_code
from rcommerce.domain.regions.directory import RegionDirectory, RegionInfo
from rcommerce.domain.regions.errors import REGION_NOT_FOUND
from rcommerce.domain.shipping.quoting import ShipmentRequest
from rcommerce.errors import DomainError, FieldViolation, invalid, raise_violations
from rcommerce.events import record_event
from rcommerce.fieldmask import populated, resolve_mask
from rcommerce.gen.v1 import carts_pb2, catalog_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_child_name, parse_name

__all__ = ["MAX_QUANTITY", "CartService", "PricedCart"]

log = logging.getLogger("rcommerce.carts")

#: Largest quantity of one line (core-domain §1.3: CHECK 1..9999), merged sums included.
MAX_QUANTITY = 9999
UPDATABLE = ("email", "shipping_address", "billing_address", "vat_id")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Attempts at quoting a cart that changes between asking the carriers and storing quotes.
_QUOTE_ROUNDS = 3


@dataclass(frozen=True, slots=True)
class PricedCart:
    """A cart with every figure, as checkout consumes it."""

    cart: carts_pb2.Cart
    cart_id: str
    region: RegionInfo
    customer: CustomerProfile | None
    lines: tuple[CartLine, ...]
    pricing: PricingResult


def _not_found(cart_id: str) -> CartError:
    return CartError(CART_NOT_FOUND, f"Cart carts/{cart_id} does not exist.", cart=f"carts/{cart_id}")


def _check_quantity(quantity: int, *, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if not low <= quantity <= MAX_QUANTITY:
        raise invalid(
            "quantity", f"must be {low} to {MAX_QUANTITY}", INVALID_QUANTITY, quantity=quantity, maximum=MAX_QUANTITY
        )


class CartService:
    """Carts over the other contexts' services (contracts: regions, price lists, customers,
    inventory, promotions, tax, shipping)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        regions: RegionDirectory,
        customers: CustomerDirectory,
        stock: Stock,
        pricing: PricingEngine,
        ttl_days: int = 30,
        cache: Cache | None = None,
        catalog_ttl_s: float = 300,
    ) -> None:
        self._db = db
        self._clock = clock
        self._regions = regions
        self._customers = customers
        self._stock = stock
        self._pricing = pricing
        self._ttl = timedelta(days=ttl_days)
        #: Products as pricing reads them, cached per catalog generation like the
        #: catalog's own reads (every catalog write moves the generation on).
        self._cache = cache
        self._catalog_ttl_s = catalog_ttl_s

    # -- reads ---------------------------------------------------------------------------
    async def get_cart(self, principal: Principal, name: str, token: str) -> carts_pb2.Cart:
        cart_id = parse_name(name, "carts", "cart")
        async with self._db.read() as s:
            cart = await self._load(s, cart_id, principal, token)
            check_unexpired(cart, self._clock.now())
            return (await self._price_row(s, cart)).cart

    async def price(self, session: AsyncSession, cart_id: str) -> PricedCart:
        """Every figure of ``cart_id`` in the caller's transaction."""
        cart = await load_cart(session, cart_id)
        if cart is None:
            raise _not_found(cart_id)
        return await self._price_row(session, cart)

    async def price_cart(self, session: AsyncSession, cart: CartView) -> PricedCart:
        """Every figure of ``cart``, read in the caller's transaction (for checkout)."""
        return await self._price_row(session, cart)

    # -- create, update, delete ----------------------------------------------------------
    async def create_cart(self, principal: Principal, cart: carts_pb2.Cart) -> carts_pb2.Cart:
        region_id = parse_name(cart.region, "regions", "reg", "cart.region")
        customer_id = customer_id_of(principal)
        now = self._clock.now()
        async with self._db.transaction() as s:
            region = await self._region(s, region_id)
            row = CartRow(
                id=new_id("cart", now), region_id=region.id, currency_code=region.currency_code, customer_id=customer_id,
                token_hash=None, email="", shipping_address=None, billing_address=None, vat_id="", coupon_codes=[],
                shipping_quote_id=None, status=ACTIVE, converted_to=None, expires_at=now + self._ttl, version=1,
                created_at=now, updated_at=now,
            )  # fmt: skip
            if customer_id is not None:
                existing = await self._customer_cart(s, customer_id, region.id, now)
                if existing is not None:
                    return (await self._price_row(s, existing)).cart
                profile = await self._customers.get(s, customer_id)
                row.email = profile.email if profile else ""
            self._apply_fields(row, cart, [p for p in UPDATABLE if populated(cart, p)], region)
            token = ""
            if principal.is_staff and cart.customer:
                row.customer_id = parse_name(cart.customer, "customers", "cus", "cart.customer")
                if await self._customers.get(s, row.customer_id) is None:  # else it fails only at checkout
                    raise CartError(
                        CUSTOMER_NOT_FOUND, f"Customer {cart.customer} does not exist.", customer=cart.customer
                    )
            elif customer_id is None:
                token = new_token()
                row.token_hash = hash_token(token)
            s.add(row)
            await s.flush()
            message = (await self._price_row(s, row)).cart
            record_event(s, "cart.created", message.name, message, now)
        if token:
            message.cart_token = token
        return message

    async def update_cart(
        self, principal: Principal, cart: carts_pb2.Cart, mask: FieldMask, token: str
    ) -> carts_pb2.Cart:
        cart_id = parse_name(cart.name, "carts", "cart", "cart.name")
        paths = resolve_mask(mask, cart, UPDATABLE)

        async def change(s: AsyncSession, row: CartRow) -> None:
            region = await self._region(s, row.region_id)
            self._apply_fields(row, cart, paths, region)

        return await self._command(principal, cart_id, token, "cart.updated", change)

    async def delete_cart(self, principal: Principal, name: str, token: str) -> None:
        cart_id = parse_name(name, "carts", "cart")
        now = self._clock.now()
        async with self._db.transaction() as s:
            row = await self._load(s, cart_id, principal, token, lock=True)
            message = carts_pb2.Cart(
                name=convert.cart_name(row.id),
                id=row.id,
                region=f"regions/{row.region_id}",
                currency_code=row.currency_code,
            )
            await s.execute(delete(CartLineRow).where(CartLineRow.cart_id == row.id))
            await s.delete(row)
            record_event(s, "cart.deleted", message.name, message, now)

    # -- lines ---------------------------------------------------------------------------
    async def add_line(
        self, principal: Principal, cart_name: str, variant: str, quantity: int, token: str
    ) -> carts_pb2.Cart:
        cart_id = parse_name(cart_name, "carts", "cart", "cart")
        product_id, variant_id = parse_child_name(variant, "products", "prod", "variants", "var", "variant")
        _check_quantity(quantity)

        async def change(s: AsyncSession, row: CartRow) -> None:
            now = self._clock.now()
            product, found = await self._variant(s, product_id, variant_id)
            existing = await s.scalar(
                select(CartLineRow).where(CartLineRow.cart_id == row.id, CartLineRow.variant_id == variant_id)
            )
            total = quantity + (existing.quantity if existing else 0)
            if total > MAX_QUANTITY:
                raise CartError(
                    LINE_QUANTITY_LIMIT, f"The line would hold {total} units; at most {MAX_QUANTITY} fit in one line.",
                    quantity=existing.quantity if existing else 0, requested=quantity, maximum=MAX_QUANTITY,
                )  # fmt: skip
            customer = await self._customer(s, row)
            prices = await self._pricing.unit_prices(s, [variant_id], row.currency_code, customer)
            price = prices.get(variant_id)
            if price is None:
                raise CartError(
                    VARIANT_NOT_PRICED, f"Variant {variant} has no price in {row.currency_code}, the currency of the cart's region.",
                    variant=variant, currencyCode=row.currency_code,
                )  # fmt: skip
            await self._check_stock(s, variant_id, total)
            if existing is not None:
                existing.quantity = total
                existing.unit_price, existing.original_unit_price = price.amount, price.original_amount
                existing.price_list_id = price.price_list_id
                existing.updated_at = now
            else:
                s.add(
                    CartLineRow(
                        id=new_id("cli", now), cart_id=row.id, product_id=product_id, variant_id=variant_id,
                        title=product.title[:255], variant_title=found.title[:255], sku=found.sku[:100], quantity=quantity,
                        unit_price=price.amount, original_unit_price=price.original_amount, price_list_id=price.price_list_id,
                        requires_shipping=found.requires_shipping and product.kind != catalog_pb2.PRODUCT_KIND_DIGITAL,
                        created_at=now, updated_at=now,
                    )
                )  # fmt: skip

        return await self._command(principal, cart_id, token, "cart.line_added", change)

    async def update_line(self, principal: Principal, name: str, quantity: int, token: str) -> carts_pb2.Cart:
        cart_id, line_id = parse_child_name(name, "carts", "cart", "lineItems", "cli")
        _check_quantity(quantity, allow_zero=True)

        async def change(s: AsyncSession, row: CartRow) -> None:
            line = await self._line(s, row.id, line_id)
            if quantity == 0:
                await s.delete(line)
                return
            await self._check_stock(s, line.variant_id, quantity)
            line.quantity = quantity
            line.updated_at = self._clock.now()

        return await self._command(
            principal, cart_id, token, "cart.line_removed" if quantity == 0 else "cart.line_updated", change
        )

    async def remove_line(self, principal: Principal, name: str, token: str) -> carts_pb2.Cart:
        cart_id, line_id = parse_child_name(name, "carts", "cart", "lineItems", "cli")

        async def change(s: AsyncSession, row: CartRow) -> None:
            await s.delete(await self._line(s, row.id, line_id))

        return await self._command(principal, cart_id, token, "cart.line_removed", change)

    async def clear(self, principal: Principal, name: str, token: str) -> carts_pb2.Cart:
        cart_id = parse_name(name, "carts", "cart")

        async def change(s: AsyncSession, row: CartRow) -> None:
            await s.execute(delete(CartLineRow).where(CartLineRow.cart_id == row.id))
            row.shipping_quote_id = None

        return await self._command(principal, cart_id, token, "cart.cleared", change)

    # -- coupons -------------------------------------------------------------------------
    async def apply_coupon(self, principal: Principal, cart_name: str, code: str, token: str) -> carts_pb2.Cart:
        cart_id = parse_name(cart_name, "carts", "cart", "cart")
        normalized = normalize_code(code)
        if not normalized:
            raise invalid("code", "a coupon code is required")

        async def change(s: AsyncSession, row: CartRow) -> None:
            ctx, lines = await self._context(s, row)
            await self._pricing.promotions.validate_code(s, normalized, self._pricing.promo_context(ctx, lines))
            row.coupon_codes = [*row.coupon_codes, normalized]

        return await self._command(principal, cart_id, token, "cart.coupon_applied", change)

    async def remove_coupon(self, principal: Principal, cart_name: str, code: str, token: str) -> carts_pb2.Cart:
        cart_id = parse_name(cart_name, "carts", "cart", "cart")
        normalized = normalize_code(code)

        async def change(s: AsyncSession, row: CartRow) -> None:
            if normalized not in row.coupon_codes:
                raise CartError(
                    COUPON_NOT_ON_CART, f"The code {normalized!r} is not applied to carts/{row.id}.", code=normalized
                )
            row.coupon_codes = [c for c in row.coupon_codes if c != normalized]

        return await self._command(principal, cart_id, token, "cart.coupon_removed", change)

    # -- shipping ------------------------------------------------------------------------
    async def list_shipping_options(
        self, principal: Principal, cart_name: str, token: str
    ) -> list[carts_pb2.ShippingOption]:
        """Quotes for the cart's shipping address, stored by the shipping context.

        Carrier plugins answer over the network, so they are asked between two units of
        work, never while the cart row is locked; the quotes are stored only if the cart
        still asks for the same shipment, otherwise the round repeats.
        """
        cart_id = parse_name(cart_name, "carts", "cart", "cart")
        for _ in range(_QUOTE_ROUNDS):
            async with self._db.read() as s:
                request = await self._shipment(s, cart_id, principal, token)
            carriers = await self._pricing.shipping.ask_carriers(request)
            async with self._db.transaction() as s:
                if await self._shipment(s, cart_id, principal, token, lock=True) != request:
                    continue
                quotes = await self._pricing.shipping.quote(s, request, carriers=carriers)
            return [convert.quote_message(q) for q in sorted(quotes, key=lambda q: (q.amount, q.display_name))]
        raise CartError(
            CART_CHANGED,
            f"Cart carts/{cart_id} kept changing while shipping was quoted; retry.",
            cart=f"carts/{cart_id}",
        )

    async def _shipment(
        self, s: AsyncSession, cart_id: str, principal: Principal, token: str, *, lock: bool = False
    ) -> ShipmentRequest:
        row = await self._load(s, cart_id, principal, token, lock=lock)
        check_open(row, self._clock.now())
        where = convert.destination(row.shipping_address)
        if where is None:
            raise CartError(
                SHIPPING_ADDRESS_REQUIRED, f"Cart carts/{row.id} has no shipping address; set one with UpdateCart."
            )
        ctx, lines = await self._context(s, row)
        promotions = await self._pricing.promotions.evaluate(s, self._pricing.promo_context(ctx, lines))
        return self._pricing.shipment(ctx, lines, where, promotions.line_discounts)

    async def select_shipping_option(
        self, principal: Principal, cart_name: str, quote_id: str, token: str
    ) -> carts_pb2.Cart:
        cart_id = parse_name(cart_name, "carts", "cart", "cart")
        if not quote_id:
            raise invalid("quote_id", "a quote id from ListShippingOptions is required")

        async def change(s: AsyncSession, row: CartRow) -> None:
            quote = await self._pricing.shipping.get_quote(s, quote_id, cart_id=row.id)
            row.shipping_quote_id = quote.id

        return await self._command(principal, cart_id, token, "cart.updated", change)

    # -- merge ---------------------------------------------------------------------------
    async def merge(self, principal: Principal, guest_token: str, customer: str) -> carts_pb2.Cart:
        """MergeCarts: the guest cart of ``guest_token`` into the customer's cart."""
        customer_id = customer_id_of(principal)
        if customer_id is None:
            if not (principal.is_staff and customer):
                raise CartError(
                    MERGE_NEEDS_CUSTOMER, "MergeCarts needs a signed-in customer (or a secret key and customer)."
                )
            customer_id = parse_name(customer, "customers", "cus", "customer")
        if not guest_token:
            raise invalid("guest_cart_token", "the guest cart's token is required")
        async with self._db.transaction() as s:
            target = await self.merge_in_session(s, customer_id, guest_token)
            return (await self._price_row(s, target)).cart

    async def merge_on_sign_in(self, session: AsyncSession, customer_id: str, guest_token: str) -> None:
        """The customers context's sign-in hook (core-domain Ex7). A guest cart that cannot
        be merged (expired, converted, other region, unknown token) is left alone: it never
        fails the sign-in, and MergeCarts reports the reason when asked explicitly."""
        try:
            async with session.begin_nested():
                await self.merge_in_session(session, customer_id, guest_token)
        except DomainError as exc:
            log.info("guest cart not merged at sign-in of %s: %s", customer_id, exc.reason.name)

    async def merge_in_session(self, s: AsyncSession, customer_id: str, guest_token: str) -> CartRow:
        """Merge in the caller's transaction; returns the customer's cart. Every rule is
        checked before anything is written."""
        now = self._clock.now()
        guest = await s.scalar(select(CartRow).where(CartRow.token_hash == hash_token(guest_token)).with_for_update())
        if guest is None:
            raise CartError(CART_TOKEN_INVALID, "No cart has this cart token.")
        if guest.customer_id is not None:
            if guest.customer_id != customer_id:
                raise CartError(
                    CART_OWNED_BY_ANOTHER_CUSTOMER,
                    f"Cart carts/{guest.id} belongs to another customer.",
                    cart=f"carts/{guest.id}",
                )
            return guest
        check_open(guest, now)
        target = await self._customer_cart(s, customer_id, None, now, lock=True)
        if target is None:
            # Ex7 leaves it open; the guest cart simply becomes the customer's cart.
            guest.customer_id = customer_id
            self._touch(guest, now)
            await s.flush()
            message = (await self._price_row(s, guest)).cart
            record_event(s, "cart.merged", message.name, message, now, merged_cart=message.name)
            return guest
        if target.currency_code != guest.currency_code or target.region_id != guest.region_id:
            raise CartError(
                CART_CURRENCY_MISMATCH, f"Cart carts/{guest.id} ({guest.currency_code}) and carts/{target.id} ({target.currency_code}) are in different regions.",
                cart=f"carts/{guest.id}", targetCart=f"carts/{target.id}",
            )  # fmt: skip
        guest_lines = await self._lines(s, guest.id)
        mine = {line.variant_id: line for line in await self._lines(s, target.id)}
        for line in guest_lines:
            held = mine.get(line.variant_id)
            if held is not None and held.quantity + line.quantity > MAX_QUANTITY:
                raise CartError(
                    LINE_QUANTITY_LIMIT, f"Merging would put {held.quantity + line.quantity} units in one line; at most {MAX_QUANTITY}.",
                    quantity=held.quantity, requested=line.quantity, maximum=MAX_QUANTITY,
                )  # fmt: skip
        for line in guest_lines:
            held = mine.get(line.variant_id)
            if held is not None:
                held.quantity += line.quantity
                held.updated_at = now
                await s.delete(line)
            else:
                line.cart_id = target.id
                line.updated_at = now
        if not target.coupon_codes:
            target.coupon_codes = list(guest.coupon_codes)
        target.email = target.email or guest.email
        target.shipping_address = target.shipping_address or guest.shipping_address
        target.billing_address = target.billing_address or guest.billing_address
        target.vat_id = target.vat_id or guest.vat_id
        target.shipping_quote_id = None
        guest.status, guest.converted_to = CONVERTED, target.id
        self._touch(guest, now)
        self._touch(target, now)
        await s.flush()
        message = (await self._price_row(s, target)).cart
        record_event(s, "cart.merged", message.name, message, now, merged_cart=convert.cart_name(guest.id))
        return target

    # -- internals -----------------------------------------------------------------------
    async def _command(
        self,
        principal: Principal,
        cart_id: str,
        token: str,
        event: str,
        change: Callable[[AsyncSession, CartRow], Awaitable[None]],
    ) -> carts_pb2.Cart:
        """One write: lock, check, change, touch, price, record."""
        async with self._db.transaction() as s:
            row = await self._load(s, cart_id, principal, token, lock=True)
            now = self._clock.now()
            check_open(row, now)
            await change(s, row)
            self._touch(row, now)
            await s.flush()
            message = (await self._price_row(s, row)).cart
            record_event(s, event, message.name, message, now)
            return message

    def _touch(self, row: CartRow, now: datetime) -> None:
        row.version += 1
        row.updated_at = now
        if row.status == ACTIVE:
            row.expires_at = now + self._ttl

    async def _load(
        self, s: AsyncSession, cart_id: str, principal: Principal, token: str, *, lock: bool = False
    ) -> CartRow:
        query = select(CartRow).where(CartRow.id == cart_id)
        row = await s.scalar(query.with_for_update() if lock else query)
        if row is None:
            raise _not_found(cart_id)
        check_access(row, principal, token)
        return row

    async def _customer_cart(
        self, s: AsyncSession, customer_id: str, region_id: str | None, now: datetime, *, lock: bool = False
    ) -> CartRow | None:
        """The customer's most recently changed active, unexpired cart (in ``region_id``)."""
        query = select(CartRow).where(
            CartRow.customer_id == customer_id, CartRow.status == ACTIVE, CartRow.expires_at > now
        )
        if region_id is not None:
            query = query.where(CartRow.region_id == region_id)
        query = query.order_by(CartRow.updated_at.desc(), CartRow.id.desc()).limit(1)
        return await s.scalar(query.with_for_update() if lock else query)

    async def _region(self, s: AsyncSession, region_id: str) -> RegionInfo:
        region = await self._regions.get(s, region_id)
        if region is None:
            raise CartError(
                REGION_NOT_FOUND, f"Region regions/{region_id} does not exist.", region=f"regions/{region_id}"
            )
        return region

    async def _customer(self, s: AsyncSession, row: CartView) -> CustomerProfile | None:
        return await self._customers.get(s, row.customer_id) if row.customer_id else None

    async def _variant(
        self, s: AsyncSession, product_id: str, variant_id: str
    ) -> tuple[catalog_pb2.Product, catalog_pb2.Variant]:
        products = {p.id: p for p in await catalog.load_products(s, [product_id])}
        return sellable_variant(products, product_id, variant_id)

    async def _check_stock(self, s: AsyncSession, variant_id: str, quantity: int) -> None:
        availability = (await self._stock.availability(s, [variant_id])).get(variant_id)
        if availability is not None and not availability.can_sell(quantity):
            raise CartError(
                INSUFFICIENT_INVENTORY, f"Only {availability.available} units of variant {variant_id} are available; {quantity} requested.",
                requested=quantity, available=availability.available, inventoryPolicy=availability.policy, variantId=variant_id,
            )  # fmt: skip

    async def _line(self, s: AsyncSession, cart_id: str, line_id: str) -> CartLineRow:
        line = await s.get(CartLineRow, line_id)
        if line is None or line.cart_id != cart_id:
            raise CartError(
                LINE_ITEM_NOT_FOUND,
                f"Cart carts/{cart_id} has no line {line_id}.",
                lineItem=convert.line_name(cart_id, line_id),
            )
        return line

    @staticmethod
    async def _lines(s: AsyncSession, cart_id: str) -> list[CartLineRow]:
        rows = await s.scalars(
            select(CartLineRow).where(CartLineRow.cart_id == cart_id).order_by(CartLineRow.created_at, CartLineRow.id)
        )
        return list(rows)

    def _apply_fields(self, row: CartRow, cart: carts_pb2.Cart, paths: Sequence[str], region: RegionInfo) -> None:
        """Validate then copy the updatable fields in ``paths``."""
        violations: list[FieldViolation] = []
        if "email" in paths and cart.email and (len(cart.email) > 320 or not _EMAIL.match(cart.email)):
            violations.append(FieldViolation("cart.email", "must be an email address"))
        for path in ("shipping_address", "billing_address"):
            if path in paths and cart.HasField(path):
                code = getattr(cart, path).country_code
                if code and not re.fullmatch(r"[A-Z]{2}", code):
                    violations.append(
                        FieldViolation(f"cart.{path}.country_code", "must be an upper-case ISO 3166-1 alpha-2 code")
                    )
        if "vat_id" in paths and len(cart.vat_id) > 32:
            violations.append(FieldViolation("cart.vat_id", "must be at most 32 characters"))
        raise_violations(violations)
        country = cart.shipping_address.country_code
        if "shipping_address" in paths and country and region.countries and country not in region.countries:
            raise CartError(
                SHIPPING_COUNTRY_NOT_IN_REGION, f"The region regions/{region.id} does not ship to {country}.",
                countryCode=country, region=f"regions/{region.id}",
            )  # fmt: skip
        for path in paths:
            if path == "email":
                row.email = cart.email.strip()
            elif path == "vat_id":
                row.vat_id = cart.vat_id.replace(" ", "").upper()
            elif path == "shipping_address":
                new = convert.address_to_db(cart.shipping_address) if cart.HasField("shipping_address") else None
                if new != row.shipping_address:
                    row.shipping_quote_id = None  # the quote was for the old address
                row.shipping_address = new
            elif path == "billing_address":
                row.billing_address = (
                    convert.address_to_db(cart.billing_address) if cart.HasField("billing_address") else None
                )

    async def _context(self, s: AsyncSession, row: CartView) -> tuple[PricingContext, list[CartLine]]:
        ctx, lines, _ = await self._context_rows(s, row)
        return ctx, lines

    async def _context_rows(
        self, s: AsyncSession, row: CartView
    ) -> tuple[PricingContext, list[CartLine], list[LineState]]:
        """The pricing context and lines of ``row``; the lines are read with Core, so
        changes to them must be flushed before."""
        region = await self._region(s, row.region_id)
        customer = await self._customer(s, row)
        rows = await load_lines(s, row.id)
        products = await self._products(s, sorted({r.product_id for r in rows}))
        lines = [_cart_line(r, products.get(r.product_id)) for r in rows]
        ctx = PricingContext(
            cart_id=row.id, region=region, customer=customer, coupon_codes=tuple(row.coupon_codes),
            destination=convert.destination(row.shipping_address), vat_id=row.vat_id,
            shipping_quote_id=row.shipping_quote_id or "",
        )  # fmt: skip
        return ctx, lines, rows

    async def _products(self, s: AsyncSession, ids: Sequence[str]) -> dict[str, catalog_pb2.Product]:
        """The products of the lines (weights, dimensions, taxonomy, tax category); from
        the cache when it has them for the current catalog generation."""
        if self._cache is None or not ids:
            return {p.id: p for p in await catalog.load_products(s, ids)}
        generation = await self._cache.get(GENERATION_KEY)
        prefix = f"catalog:{int(generation) if generation is not None else 0}:cart-product:"
        found: dict[str, catalog_pb2.Product] = {}
        for product_id in ids:
            hit = await self._cache.get(prefix + product_id)
            if hit is not None:
                found[product_id] = catalog_pb2.Product.FromString(hit)
        missing = [product_id for product_id in ids if product_id not in found]
        for product in await catalog.load_products(s, missing) if missing else ():
            found[product.id] = product
            await self._cache.set(prefix + product.id, product.SerializeToString(), self._catalog_ttl_s)
        return found

    async def _price_row(self, s: AsyncSession, row: CartView) -> PricedCart:
        # Pricing adds and removes no line: the rows read for the context are the rows.
        ctx, lines, rows = await self._context_rows(s, row)
        result = await self._pricing.price(s, ctx, lines)
        message = convert.cart_message(row, rows, result, self._clock.now())
        return PricedCart(message, row.id, ctx.region, ctx.customer, tuple(lines), result)


def _cart_line(row: LineState, product: catalog_pb2.Product | None) -> CartLine:
    variant = next((v for v in product.variants if v.id == row.variant_id), None) if product else None
    return CartLine(
        line_id=row.id, product_id=row.product_id, variant_id=row.variant_id, quantity=row.quantity,
        unit_price=row.unit_price, original_unit_price=row.original_unit_price,
        weight_grams=variant.weight_grams if variant else 0,
        length_mm=variant.dimensions.length_mm if variant else 0,
        width_mm=variant.dimensions.width_mm if variant else 0,
        height_mm=variant.dimensions.height_mm if variant else 0,
        requires_shipping=row.requires_shipping,
        category_ids=frozenset(c.removeprefix("categories/") for c in product.categories) if product else frozenset(),
        collection_ids=frozenset(c.removeprefix("collections/") for c in product.collections) if product else frozenset(),
        tags=frozenset(product.tags) if product else frozenset(),
        sku=row.sku,
        tax_category=product.tax_category if product else "",
    )  # fmt: skip
