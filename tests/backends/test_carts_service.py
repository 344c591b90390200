"""CartService against every database: the cart rules, access, expiry, merge and the
priced totals of the worked examples through the real contexts (core-domain §4.2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select, update

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import parse_scopes
from rcommerce.cache.memory import MemoryCache
from rcommerce.clock import FrozenClock
from rcommerce.config import load_settings
from rcommerce.db import Database
from rcommerce.domain.carts.models import CartLineRow, CartRow
from rcommerce.domain.carts.service import CartService
from rcommerce.domain.carts.wiring import build_cart_service
from rcommerce.domain.catalog.service import CatalogService
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.promotions.models import PromotionRow
from rcommerce.domain.promotions.service import PromotionService
from rcommerce.domain.tax.models import TaxCategoryRow, TaxRateRow, TaxZoneRow
from rcommerce.errors import DomainError
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.ids import new_id
from rcommerce.pagination import PageTokens
from rcommerce.plugins.manager import PluginHost
from tests.backends._carts_store import Store, customer, days, ensure_store, product, tag

STAFF = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_test", parse_scopes(["admin"]))
STOREFRONT = Principal(PrincipalKind.PUBLISHABLE_KEY, "apiKeys/key_pk", parse_scopes(["carts:write", "carts:read"]))
NY = Address(
    first_name="Ada", address1="1 Main St", city="New York", province="NY", postal_code="10001", country_code="US"
)
MUNICH = Address(address1="Marienplatz 1", city="München", postal_code="80331", country_code="DE")


def as_customer(customer_id: str) -> Principal:
    return Principal(PrincipalKind.CUSTOMER, f"customers/{customer_id}", parse_scopes(["carts:write", "carts:read"]))


class World:
    def __init__(
        self,
        db: Database,
        clock: FrozenClock,
        carts: CartService,
        catalog: CatalogService,
        promos: PromotionService,
        store: Store,
    ):
        self.db, self.clock, self.carts, self.catalog, self.promos, self.store = (
            db,
            clock,
            carts,
            catalog,
            promos,
            store,
        )

    async def variant(self, p: C.Product | None = None) -> str:
        created = await self.catalog.create_product(p or product(), "")
        return created.variants[0].name

    async def guest_cart(self, region: str | None = None, **fields: object) -> K.Cart:
        return await self.carts.create_cart(STOREFRONT, K.Cart(region=f"regions/{region or self.store.us}", **fields))  # type: ignore[arg-type]

    async def promotion(self, **fields: object) -> str:
        code = f"C{tag().upper()}"
        await self.promos.create_promotion(
            P.Promotion(code=code, title=code, status=P.PROMOTION_STATUS_ACTIVE, **fields)
        )  # type: ignore[arg-type]
        return code


@pytest.fixture
async def world(db: Database) -> AsyncIterator[World]:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    settings = load_settings(path=None, environ={}, overrides={"plugins": {"autoload": False}})
    host = PluginHost(settings.plugins)
    host.load()
    carts = build_cart_service(db, clock, settings, host.collect_providers())
    tokens = PageTokens(b"carts-test")
    catalog = CatalogService(db, MemoryCache(), clock, tokens)
    promos = PromotionService(db, clock, tokens, CustomerDirectory(clock))
    yield World(db, clock, carts, catalog, promos, await ensure_store(db, clock))


async def _error(awaitable: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value


async def _snapshot(db: Database, cart_id: str) -> tuple[object, ...]:
    async with db.read() as s:
        cart = await s.get(CartRow, cart_id)
        assert cart is not None
        lines = (
            await s.execute(select(CartLineRow.variant_id, CartLineRow.quantity).where(CartLineRow.cart_id == cart_id))
        ).all()
        events = await s.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.subject == f"carts/{cart_id}")
        )
        return (cart.version, tuple(cart.coupon_codes), cart.shipping_quote_id, sorted(lines), events)


# -- the worked examples through every context -------------------------------------------------
async def test_ex1_us_cart_totals_125_03(world: World) -> None:
    variant = await world.variant(product(usd=4999))
    code = await world.promotion(
        type=P.PROMOTION_TYPE_FIXED_AMOUNT, currencies=[P.PromotionCurrency(currency_code="USD", amount=1000)]
    )
    cart = await world.guest_cart()
    token = cart.cart_token
    assert token.startswith("ctok_") and cart.currency_code == "USD" and cart.status == K.CART_STATUS_ACTIVE
    cart = await world.carts.add_line(STOREFRONT, cart.name, variant, 2, token)
    cart = await world.carts.apply_coupon(STOREFRONT, cart.name, code.lower(), token)
    assert list(cart.coupon_codes) == [code]
    cart = await world.carts.update_cart(STOREFRONT, K.Cart(name=cart.name, shipping_address=NY), FieldMask(), token)
    options = await world.carts.list_shipping_options(STOREFRONT, cart.name, token)
    assert [(o.display_name, o.amount) for o in options] == [("Ground", 999), ("UPS 2-day", 2499)]
    ups = next(o for o in options if o.service_code == "ups_2day")
    cart = await world.carts.select_shipping_option(STOREFRONT, cart.name, ups.quote_id, token)
    t = cart.totals
    assert (t.subtotal, t.discount_total, t.item_tax, t.shipping_total, t.shipping_tax, t.tax_total, t.total) == (
        9998,
        1000,
        787,
        2499,
        219,
        1006,
        12503,
    )
    (line,) = cart.line_items
    assert (line.subtotal, line.discount_total, line.total, line.tax_total) == (9998, 1000, 8998, 787)
    assert [(x.name, x.rate, x.amount) for x in cart.tax_lines] == [("NY combined", "0.0875", 1006)]
    assert cart.shipping_option.quote_id == ups.quote_id
    priced = await _priced(world, cart.id)
    assert priced.pricing.breakdown.totals.total == 12503 and priced.pricing.quote is not None


async def _priced(world: World, cart_id: str):  # type: ignore[no-untyped-def]
    async with world.db.read() as s:
        return await world.carts.price(s, cart_id)


async def test_ex2_eu_vat_and_tax_inclusive_region(world: World) -> None:
    variant = await world.variant(product(usd=None, eur=2999))
    cart = await world.guest_cart(world.store.de, shipping_address=MUNICH)
    token = cart.cart_token
    cart = await world.carts.add_line(STOREFRONT, cart.name, variant, 2, token)
    options = await world.carts.list_shipping_options(STOREFRONT, cart.name, token)
    cart = await world.carts.select_shipping_option(STOREFRONT, cart.name, options[0].quote_id, token)
    t = cart.totals
    assert (t.subtotal, t.item_tax, t.shipping_tax, t.tax_total, t.total) == (5998, 1140, 190, 1330, 8328)
    # Tax-inclusive region: 119.00 gross at 20 % → 19.83 inside, nothing added.
    gross = await world.variant(product(usd=None, eur=11900))
    at = await world.guest_cart(
        world.store.at, shipping_address=Address(country_code="AT", city="Wien", postal_code="1010")
    )
    at = await world.carts.add_line(STOREFRONT, at.name, gross, 1, at.cart_token)
    assert at.prices_include_tax
    assert (at.totals.item_tax, at.totals.total) == (1983, 11900)
    assert at.totals.item_tax == round(Decimal(11900) * Decimal("0.2") / Decimal("1.2"))


async def test_a_products_tax_category_selects_its_rate(world: World) -> None:
    now = world.clock.now()
    code = f"reduced-{tag()}"
    async with world.db.transaction() as s:
        zone_id = await s.scalar(select(TaxZoneRow.id).where(TaxZoneRow.code == "CARTS-DE"))
        category = TaxCategoryRow(
            id=new_id("txc", now), code=code, name="Reduced", description="", created_at=now, updated_at=now
        )
        s.add(category)
        await s.flush()
        s.add(
            TaxRateRow(
                id=new_id("txr", now), zone_id=zone_id, category_id=category.id, name="DE VAT 7%", rate=Decimal("0.07"),
                applies_to_shipping=False, priority=0, valid_from=None, valid_until=None, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    books = product("Book", usd=None, eur=2000)
    books.tax_category = code
    reduced = await world.variant(books)
    standard = await world.variant(product(usd=None, eur=2000))
    cart = await world.guest_cart(world.store.de, shipping_address=MUNICH)
    token = cart.cart_token
    cart = await world.carts.add_line(STOREFRONT, cart.name, reduced, 1, token)
    cart = await world.carts.add_line(STOREFRONT, cart.name, standard, 1, token)
    taxes = {line.variant: line.tax_total for line in cart.line_items}
    assert taxes == {reduced: 140, standard: 380}  # 7 % and 19 % of 20.00


async def test_free_shipping_promotion_zeroes_shipping_and_its_tax(world: World) -> None:
    variant = await world.variant(product(usd=4999))
    code = await world.promotion(
        type=P.PROMOTION_TYPE_FREE_SHIPPING, currencies=[P.PromotionCurrency(currency_code="USD")]
    )
    cart = await world.guest_cart(shipping_address=NY)
    token = cart.cart_token
    await world.carts.add_line(STOREFRONT, cart.name, variant, 2, token)
    await world.carts.apply_coupon(STOREFRONT, cart.name, code, token)
    options = await world.carts.list_shipping_options(STOREFRONT, cart.name, token)
    cart = await world.carts.select_shipping_option(STOREFRONT, cart.name, options[-1].quote_id, token)
    t = cart.totals
    assert (t.shipping_total, t.shipping_discount, t.shipping_tax, t.item_tax, t.total) == (
        2499,
        2499,
        0,
        875,
        9998 + 875,
    )


# -- lines -------------------------------------------------------------------------------------
async def test_identical_lines_merge_and_quantity_rules(world: World) -> None:
    variant = await world.variant()
    cart = await world.guest_cart()
    token = cart.cart_token
    await world.carts.add_line(STOREFRONT, cart.name, variant, 3, token)
    cart = await world.carts.add_line(STOREFRONT, cart.name, variant, 4, token)
    assert [(line.quantity, line.subtotal) for line in cart.line_items] == [(7, 7 * 4999)] and cart.item_count == 7
    before = await _snapshot(world.db, cart.id)
    for quantity in (0, 10000, -1):
        assert (
            await _error(world.carts.add_line(STOREFRONT, cart.name, variant, quantity, token))
        ).reason.name == "INVALID_QUANTITY"
    error = await _error(world.carts.add_line(STOREFRONT, cart.name, variant, 9993, token))
    assert error.reason.name == "LINE_QUANTITY_LIMIT" and error.metadata["quantity"] == "7"
    assert await _snapshot(world.db, cart.id) == before
    line = cart.line_items[0].name
    assert (await _error(world.carts.update_line(STOREFRONT, line, 10000, token))).reason.name == "INVALID_QUANTITY"
    cart = await world.carts.update_line(STOREFRONT, line, 9999, token)
    assert cart.line_items[0].quantity == 9999
    cart = await world.carts.update_line(STOREFRONT, line, 0, token)
    assert list(cart.line_items) == [] and cart.totals.total == 0
    assert (await _error(world.carts.remove_line(STOREFRONT, line, token))).reason.name == "LINE_ITEM_NOT_FOUND"


async def test_add_refuses_unknown_inactive_unpriced_and_out_of_stock(world: World) -> None:
    cart = await world.guest_cart()
    token = cart.cart_token
    draft = await world.variant(product(status=C.PRODUCT_STATUS_DRAFT))
    euro_only = await world.variant(product(usd=None, eur=1000))
    scarce = await world.variant(product(managed=True, stock=3))
    backorder = await world.variant(product(managed=True, stock=0, policy=C.INVENTORY_POLICY_CONTINUE))
    before = await _snapshot(world.db, cart.id)
    unknown = draft.rsplit("/", 2)[0] + "/variants/var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"
    assert (
        await _error(world.carts.add_line(STOREFRONT, cart.name, unknown, 1, token))
    ).reason.name == "VARIANT_NOT_FOUND"
    assert (
        await _error(
            world.carts.add_line(
                STOREFRONT,
                cart.name,
                "products/prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N/variants/var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N",
                1,
                token,
            )
        )
    ).reason.name == "PRODUCT_NOT_FOUND"
    assert (
        await _error(world.carts.add_line(STOREFRONT, cart.name, draft, 1, token))
    ).reason.name == "PRODUCT_NOT_AVAILABLE"
    error = await _error(world.carts.add_line(STOREFRONT, cart.name, euro_only, 1, token))
    assert error.reason.name == "VARIANT_NOT_PRICED" and error.metadata["currencyCode"] == "USD"
    error = await _error(world.carts.add_line(STOREFRONT, cart.name, scarce, 4, token))
    assert (
        error.reason.name == "INSUFFICIENT_INVENTORY"
        and error.metadata["available"] == "3"
        and error.metadata["requested"] == "4"
    )
    assert (
        await _error(world.carts.add_line(STOREFRONT, cart.name, "variants/nope", 1, token))
    ).reason.name == "INVALID_RESOURCE_NAME"
    assert await _snapshot(world.db, cart.id) == before
    cart = await world.carts.add_line(STOREFRONT, cart.name, scarce, 3, token)
    cart = await world.carts.add_line(STOREFRONT, cart.name, backorder, 5, token)
    assert sorted(line.quantity for line in cart.line_items) == [3, 5]
    line = next(x for x in cart.line_items if x.quantity == 3)
    assert (
        await _error(world.carts.update_line(STOREFRONT, line.name, 4, token))
    ).reason.name == "INSUFFICIENT_INVENTORY"


# -- coupons -----------------------------------------------------------------------------------
async def test_coupon_rules(world: World) -> None:
    variant = await world.variant(product(usd=3500))
    cart = await world.guest_cart()
    token = cart.cart_token
    await world.carts.add_line(STOREFRONT, cart.name, variant, 1, token)
    minimum = await world.promotion(
        type=P.PROMOTION_TYPE_FIXED_AMOUNT,
        currencies=[P.PromotionCurrency(currency_code="USD", amount=500, minimum_subtotal=5000)],
    )
    expired = await world.promotion(
        type=P.PROMOTION_TYPE_PERCENTAGE,
        percent="10",
        end_time=_ts(world.clock.now() - days(1)),
        currencies=[P.PromotionCurrency(currency_code="USD")],
    )
    exhausted = await world.promotion(
        type=P.PROMOTION_TYPE_PERCENTAGE,
        percent="10",
        usage_limit=1000,
        currencies=[P.PromotionCurrency(currency_code="USD")],
    )
    async with world.db.transaction() as s:  # Ex3 i: usage_count 1000 of usage_limit 1000
        await s.execute(update(PromotionRow).where(PromotionRow.code == exhausted).values(usage_count=1000))
    good = await world.promotion(
        type=P.PROMOTION_TYPE_PERCENTAGE, percent="20", currencies=[P.PromotionCurrency(currency_code="USD")]
    )
    before = await _snapshot(world.db, cart.id)
    error = await _error(world.carts.apply_coupon(STOREFRONT, cart.name, minimum, token))
    assert error.reason.name == "COUPON_MINIMUM_NOT_MET"
    assert (
        await _error(world.carts.apply_coupon(STOREFRONT, cart.name, expired, token))
    ).reason.name == "COUPON_EXPIRED"
    assert (
        await _error(world.carts.apply_coupon(STOREFRONT, cart.name, exhausted, token))
    ).reason.name == "COUPON_USAGE_LIMIT"
    assert (
        await _error(world.carts.apply_coupon(STOREFRONT, cart.name, "NOPE-" + tag(), token))
    ).reason.name == "COUPON_NOT_FOUND"
    assert (
        await _error(world.carts.apply_coupon(STOREFRONT, cart.name, "  ", token))
    ).reason.name == "VALIDATION_FAILED"
    assert await _snapshot(world.db, cart.id) == before
    cart = await world.carts.apply_coupon(STOREFRONT, cart.name, good, token)
    assert cart.totals.discount_total == 700 and cart.applied_promotions[0].code == good
    assert (
        await _error(world.carts.apply_coupon(STOREFRONT, cart.name, good.lower(), token))
    ).reason.name == "COUPON_ALREADY_APPLIED"
    cart = await world.carts.remove_coupon(STOREFRONT, cart.name, good, token)
    assert list(cart.coupon_codes) == [] and cart.totals.discount_total == 0
    assert (
        await _error(world.carts.remove_coupon(STOREFRONT, cart.name, good, token))
    ).reason.name == "COUPON_NOT_ON_CART"


def _ts(value: datetime):  # type: ignore[no-untyped-def]
    from rcommerce.timestamps import to_timestamp

    return to_timestamp(value)


# -- addresses and shipping ------------------------------------------------------------------
async def test_address_changes_drop_the_quote_and_shipping_errors(world: World) -> None:
    variant = await world.variant()
    cart = await world.guest_cart()
    token = cart.cart_token
    await world.carts.add_line(STOREFRONT, cart.name, variant, 1, token)
    assert (
        await _error(world.carts.list_shipping_options(STOREFRONT, cart.name, token))
    ).reason.name == "SHIPPING_ADDRESS_REQUIRED"
    error = await _error(
        world.carts.update_cart(STOREFRONT, K.Cart(name=cart.name, shipping_address=MUNICH), FieldMask(), token)
    )
    assert error.reason.name == "SHIPPING_COUNTRY_NOT_IN_REGION"
    bad = await _error(
        world.carts.update_cart(STOREFRONT, K.Cart(name=cart.name, email="not-an-email"), FieldMask(), token)
    )
    assert bad.reason.name == "VALIDATION_FAILED"
    mask = await _error(
        world.carts.update_cart(STOREFRONT, K.Cart(name=cart.name), FieldMask(paths=["currency_code"]), token)
    )
    assert mask.reason.name == "INVALID_FIELD_MASK"
    cart = await world.carts.update_cart(
        STOREFRONT, K.Cart(name=cart.name, shipping_address=NY, email="ada@example.com"), FieldMask(), token
    )
    assert cart.email == "ada@example.com" and cart.totals.item_tax == 437  # 49.99 × 8.75 % = 4.374 → 4.37
    options = await world.carts.list_shipping_options(STOREFRONT, cart.name, token)
    cart = await world.carts.select_shipping_option(STOREFRONT, cart.name, options[0].quote_id, token)
    assert cart.shipping_option.quote_id == options[0].quote_id
    other = await world.guest_cart()
    error = await _error(
        world.carts.select_shipping_option(STOREFRONT, other.name, options[0].quote_id, other.cart_token)
    )
    assert error.reason.name == "SHIPPING_QUOTE_NOT_FOUND"
    moved = Address(city="Buffalo", province="NY", postal_code="14201", country_code="US")
    cart = await world.carts.update_cart(
        STOREFRONT, K.Cart(name=cart.name, shipping_address=moved), FieldMask(paths=["shipping_address"]), token
    )
    assert not cart.HasField("shipping_option") and cart.totals.shipping_total == 0
    # Quotes expire: selecting an old quote fails (the shipping context's reason).
    options = await world.carts.list_shipping_options(STOREFRONT, cart.name, token)
    world.clock.advance(hours=2)
    error = await _error(world.carts.select_shipping_option(STOREFRONT, cart.name, options[0].quote_id, token))
    assert error.reason.name == "SHIPPING_QUOTE_EXPIRED"


async def test_address_outside_every_shipping_zone(world: World) -> None:
    variant = await world.variant()
    cart = await world.guest_cart(
        shipping_address=Address(city="Anchorage", province="AK", postal_code="99501", country_code="US")
    )
    await world.carts.add_line(STOREFRONT, cart.name, variant, 1, cart.cart_token)
    # The US zone covers every state; remove the zone match by using a country of no zone.
    async with world.db.transaction() as s:
        row = await s.get(CartRow, cart.id)
        assert row is not None
        row.shipping_address = {"country_code": "GU", "city": "Hagåtña"}
    error = await _error(world.carts.list_shipping_options(STOREFRONT, cart.name, cart.cart_token))
    assert error.reason.name == "NO_SHIPPING_ZONE"


# -- access, expiry, conversion ---------------------------------------------------------------
async def test_guest_access_needs_the_token_of_this_cart(world: World) -> None:
    mine, theirs = await world.guest_cart(), await world.guest_cart()
    assert (await _error(world.carts.get_cart(STOREFRONT, mine.name, ""))).reason.name == "CART_TOKEN_REQUIRED"
    assert (
        await _error(world.carts.get_cart(STOREFRONT, mine.name, theirs.cart_token))
    ).reason.name == "CART_TOKEN_INVALID"
    fetched = await world.carts.get_cart(STOREFRONT, mine.name, mine.cart_token)
    assert fetched.cart_token == "" and fetched.id == mine.id
    assert (await world.carts.get_cart(STAFF, mine.name, "")).id == mine.id
    assert (
        await _error(world.carts.get_cart(STOREFRONT, "carts/cart_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", ""))
    ).reason.name == "CART_NOT_FOUND"
    region = await _error(world.carts.create_cart(STOREFRONT, K.Cart(region="regions/reg_01JA9ZQ3K8M0Q4XH7D2V5C6B8N")))
    assert region.reason.name == "REGION_NOT_FOUND"


async def test_customer_carts_belong_to_their_customer(world: World) -> None:
    ann, bob = await customer(world.db, world.clock.now()), await customer(world.db, world.clock.now())
    cart = await world.carts.create_cart(as_customer(ann), K.Cart(region=f"regions/{world.store.us}"))
    assert cart.customer == f"customers/{ann}" and cart.cart_token == "" and cart.email.startswith("buyer-")
    again = await world.carts.create_cart(as_customer(ann), K.Cart(region=f"regions/{world.store.us}"))
    assert again.id == cart.id  # get-or-create per region
    assert (
        await _error(world.carts.get_cart(as_customer(bob), cart.name, ""))
    ).reason.name == "CART_OWNED_BY_ANOTHER_CUSTOMER"
    assert (
        await _error(world.carts.get_cart(STOREFRONT, cart.name, "ctok_x"))
    ).reason.name == "CART_OWNED_BY_ANOTHER_CUSTOMER"


async def test_expired_and_converted_carts_refuse_changes(world: World) -> None:
    variant = await world.variant()
    cart = await world.guest_cart()
    token = cart.cart_token
    await world.carts.add_line(STOREFRONT, cart.name, variant, 1, token)
    world.clock.advance(days=29)
    await world.carts.add_line(STOREFRONT, cart.name, variant, 1, token)  # a change extends the expiry
    world.clock.advance(days=29)
    assert (await world.carts.get_cart(STOREFRONT, cart.name, token)).status == K.CART_STATUS_ACTIVE
    world.clock.advance(days=2)
    error = await _error(world.carts.get_cart(STOREFRONT, cart.name, token))
    assert error.reason.name == "CART_EXPIRED" and error.reason.http_status == 410
    assert (await _error(world.carts.add_line(STOREFRONT, cart.name, variant, 1, token))).reason.name == "CART_EXPIRED"
    fresh = await world.guest_cart()
    async with world.db.transaction() as s:
        row = await s.get(CartRow, fresh.id)
        assert row is not None
        row.status, row.converted_to = "converted", "ord_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"
    error = await _error(world.carts.add_line(STOREFRONT, fresh.name, variant, 1, fresh.cart_token))
    assert error.reason.name == "CART_CONVERTED" and error.reason.http_status == 409
    assert (await world.carts.get_cart(STOREFRONT, fresh.name, fresh.cart_token)).status == K.CART_STATUS_CONVERTED


# -- merge (Ex7) --------------------------------------------------------------------------------
async def test_ex7_merge_guest_cart_into_customer_cart(world: World) -> None:
    p1 = await world.variant(product("P1", usd=1000))
    p2v1 = await world.variant(product("P2", usd=2000))
    guest10 = await world.promotion(
        type=P.PROMOTION_TYPE_PERCENTAGE, percent="10", currencies=[P.PromotionCurrency(currency_code="USD")]
    )
    summer20 = await world.promotion(
        type=P.PROMOTION_TYPE_PERCENTAGE, percent="20", currencies=[P.PromotionCurrency(currency_code="USD")]
    )
    guest = await world.guest_cart()
    token = guest.cart_token
    await world.carts.add_line(STOREFRONT, guest.name, p1, 2, token)
    await world.carts.add_line(STOREFRONT, guest.name, p2v1, 1, token)
    await world.carts.apply_coupon(STOREFRONT, guest.name, guest10, token)
    ann = await customer(world.db, world.clock.now())
    mine = await world.carts.create_cart(as_customer(ann), K.Cart(region=f"regions/{world.store.us}"))
    await world.carts.add_line(as_customer(ann), mine.name, p1, 3, "")
    await world.carts.apply_coupon(as_customer(ann), mine.name, summer20, "")
    async with world.db.transaction() as s:
        await world.carts.merge_on_sign_in(s, ann, token)
    merged = await world.carts.get_cart(as_customer(ann), mine.name, "")
    assert sorted((line.variant, line.quantity) for line in merged.line_items) == sorted([(p1, 5), (p2v1, 1)])
    assert list(merged.coupon_codes) == [summer20]
    assert merged.totals.subtotal == 7000 and merged.totals.discount_total == 1400  # recalculated
    old = await world.carts.get_cart(STOREFRONT, guest.name, token)
    assert old.status == K.CART_STATUS_CONVERTED and list(old.line_items) == []
    # Merging again: the guest cart is converted; sign-in ignores it, MergeCarts reports it.
    async with world.db.transaction() as s:
        await world.carts.merge_on_sign_in(s, ann, token)
    assert (await _error(world.carts.merge(as_customer(ann), token, ""))).reason.name == "CART_CONVERTED"


async def test_merge_without_customer_cart_reowns_and_rules(world: World) -> None:
    variant = await world.variant(product(usd=1000))
    guest = await world.guest_cart()
    await world.carts.add_line(STOREFRONT, guest.name, variant, 9000, guest.cart_token)
    code = await world.promotion(
        type=P.PROMOTION_TYPE_PERCENTAGE, percent="10", currencies=[P.PromotionCurrency(currency_code="USD")]
    )
    await world.carts.apply_coupon(STOREFRONT, guest.name, code, guest.cart_token)
    ann, bob = await customer(world.db, world.clock.now()), await customer(world.db, world.clock.now())
    owned = await world.carts.merge(as_customer(ann), guest.cart_token, "")
    assert owned.id == guest.id and owned.customer == f"customers/{ann}" and list(owned.coupon_codes) == [code]
    error = await _error(world.carts.merge(as_customer(bob), guest.cart_token, ""))
    assert error.reason.name == "CART_OWNED_BY_ANOTHER_CUSTOMER"
    assert (await _error(world.carts.merge(as_customer(bob), "ctok_unknown", ""))).reason.name == "CART_TOKEN_INVALID"
    assert (await _error(world.carts.merge(STOREFRONT, guest.cart_token, ""))).reason.name == "MERGE_NEEDS_CUSTOMER"
    # The merged sum may not pass 9999, and nothing changes when it would.
    other = await world.guest_cart()
    await world.carts.add_line(STOREFRONT, other.name, variant, 1000, other.cart_token)
    before = await _snapshot(world.db, other.id)
    assert (
        await _error(world.carts.merge(as_customer(ann), other.cart_token, ""))
    ).reason.name == "LINE_QUANTITY_LIMIT"
    assert await _snapshot(world.db, other.id) == before
    # Different regions do not merge.
    euro = await world.guest_cart(world.store.de)
    assert (
        await _error(world.carts.merge(as_customer(ann), euro.cart_token, ""))
    ).reason.name == "CART_CURRENCY_MISMATCH"


async def test_events_and_delete(world: World) -> None:
    variant = await world.variant()
    cart = await world.guest_cart()
    token = cart.cart_token
    cart = await world.carts.add_line(STOREFRONT, cart.name, variant, 1, token)
    cart = await world.carts.clear(STOREFRONT, cart.name, token)
    async with world.db.read() as s:
        types = list(
            await s.scalars(select(OutboxEvent.type).where(OutboxEvent.subject == cart.name).order_by(OutboxEvent.seq))
        )
        data = await s.scalar(
            select(OutboxEvent.data).where(OutboxEvent.subject == cart.name, OutboxEvent.type == "cart.created")
        )
    assert types == ["cart.created", "cart.line_added", "cart.cleared"]
    assert data is not None and "cartToken" not in data["object"]
    await world.carts.delete_cart(STOREFRONT, cart.name, token)
    assert (await _error(world.carts.get_cart(STOREFRONT, cart.name, token))).reason.name == "CART_NOT_FOUND"


async def test_concurrent_adds_of_one_variant_make_one_line(world: World) -> None:
    variant = await world.variant()
    cart = await world.guest_cart()
    await asyncio.gather(*(world.carts.add_line(STOREFRONT, cart.name, variant, 2, cart.cart_token) for _ in range(4)))
    fetched = await world.carts.get_cart(STOREFRONT, cart.name, cart.cart_token)
    assert [line.quantity for line in fetched.line_items] == [8]
