"""Regions, tax zones and shipping tables are memoised, and a write through their service is
seen by the next pricing: in the same process, and (with ``RCOMMERCE_TEST_REDIS_URL``) by a
second process whose memo shares its generation counters through Redis.

Each test works in a region of its own (a country no region holds), so the zones, rates and
rules it creates touch no other test's carts.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from rcommerce.cache.factory import create_cache
from rcommerce.cache.reference import ReferenceCache
from rcommerce.config import CacheSettings
from rcommerce.db import Database
from rcommerce.domain.regions.service import RegionService
from rcommerce.domain.shipping.quoting import ShippingQuoter
from rcommerce.domain.shipping.service import ShippingService
from rcommerce.domain.tax.calculator import TaxCalculator
from rcommerce.domain.tax.service import TaxService
from rcommerce.domain.tax.vat_checker import VatIdChecker
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import regions_pb2, tax_pb2
from rcommerce.gen.v1 import shipping_pb2 as S
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.pagination import PageTokens
from rcommerce.plugins.builtin.tax_provider import BuiltinTaxProvider
from tests.backends._checkout_world import STOREFRONT, World, tag, world
from tests.backends._regions_helpers import free_countries

pytestmark = pytest.mark.backends

REDIS_URL = os.environ.get("RCOMMERCE_TEST_REDIS_URL", "")
#: Countries other tests create tax zones or regions for by code, and those they rely on
#: having no shipping zone at all (AQ, IS, GU: NO_SHIPPING_ZONE tests); never picked here.
_FIXED = {
    "AU", "US", "DE", "FR", "GB", "AT", "NL", "IT", "ES", "BE", "CA", "NZ", "IE", "PT", "FI", "LU", "CH", "SE",
    "AQ", "IS", "GU",
}  # fmt: skip


class Admin:
    """The admin services, writing through the ``reference`` memo they invalidate."""

    def __init__(self, db: Database, w: World, reference: ReferenceCache) -> None:
        tokens = PageTokens(b"reference-test")
        self.regions = RegionService(db, w.clock, tokens, reference=reference)
        calculator = TaxCalculator({"builtin": BuiltinTaxProvider()}, VatIdChecker(), clock=w.clock)
        self.tax = TaxService(db, w.clock, tokens, calculator, VatIdChecker(), reference=reference)
        self.shipping = ShippingService(db, w.clock, tokens, ShippingQuoter(w.clock), reference)


@pytest.fixture(params=["memory", "redis"])
async def setup(request: pytest.FixtureRequest, db: Database) -> AsyncIterator[tuple[World, Admin]]:
    """The storefront's world and the admin services: sharing one memo ("memory"), or each
    with its own memo over its own Redis connection ("redis", like two processes)."""
    if request.param == "memory":
        async with world(db) as w:
            yield w, Admin(db, w, w.reference)
        return
    if not REDIS_URL:
        pytest.skip("RCOMMERCE_TEST_REDIS_URL is not set")
    settings = CacheSettings(url=REDIS_URL)
    reader_cache, writer_cache = create_cache(settings), create_cache(settings)
    try:
        async with world(db, reference=ReferenceCache(reader_cache)) as w:
            yield w, Admin(db, w, ReferenceCache(writer_cache))
    finally:
        await reader_cache.close()
        await writer_cache.close()


async def _country(db: Database) -> str:
    return next(c for c in await free_countries(db, 40) if c not in _FIXED)


async def _region(admin: Admin, country: str, currency: str = "AUD") -> str:
    created = await admin.regions.create_region(
        regions_pb2.Region(
            display_name=f"Reference {country}", currency_code=currency, countries=[country],
            payment_providers=["test", "manual"],
        )
    )  # fmt: skip
    return created.name


async def _shipping(admin: Admin, country: str, amount: int) -> S.ShippingRate:
    zone = await admin.shipping.create_zone(S.ShippingZone(display_name=f"Reference {country}", countries=[country]))
    return await admin.shipping.create_rate(
        zone.name,
        S.ShippingRate(
            display_name="Reference", service_code=f"ref_{tag()}", currency_code="AUD",
            kind=S.SHIPPING_RATE_KIND_FLAT, amount=amount,
        ),
    )  # fmt: skip


async def _cart(w: World, region: str, country: str, variant: str) -> tuple[str, str]:
    cart = await w.carts.create_cart(STOREFRONT, K.Cart(region=region, email="ref@example.com"))
    await w.carts.add_line(STOREFRONT, cart.name, variant, 1, cart.cart_token)
    address = Address(first_name="Ada", address1="1 Main St", city="Town", postal_code="1000", country_code=country)
    await w.carts.update_cart(
        STOREFRONT, K.Cart(name=cart.name, shipping_address=address), FieldMask(paths=["shipping_address"]),
        cart.cart_token,
    )  # fmt: skip
    return cart.name, cart.cart_token


async def _option_amount(w: World, cart: tuple[str, str], service_code: str) -> int:
    options = await w.carts.list_shipping_options(STOREFRONT, cart[0], cart[1])
    return next(o.amount for o in options if o.service_code == service_code)


async def test_a_region_write_is_seen_by_the_next_cart(setup: tuple[World, Admin], db: Database) -> None:
    w, admin = setup
    region = await _region(admin, await _country(db), "NZD")
    first = await w.carts.create_cart(STOREFRONT, K.Cart(region=region))
    assert first.currency_code == "NZD"
    await admin.regions.update_region(
        regions_pb2.Region(name=region, currency_code="CAD"), FieldMask(paths=["currency_code"])
    )
    second = await w.carts.create_cart(STOREFRONT, K.Cart(region=region))
    assert second.currency_code == "CAD"


async def test_a_region_provider_change_is_seen_by_the_next_quote(setup: tuple[World, Admin], db: Database) -> None:
    w, admin = setup
    country = await _country(db)
    region = await _region(admin, country)
    rate = await _shipping(admin, country, 700)
    cart = await _cart(w, region, country, await w.variant(2500))
    assert await _option_amount(w, cart, rate.service_code) == 700
    # Table rates are the "builtin" provider; allowing only a carrier hides them.
    await admin.regions.update_region(
        regions_pb2.Region(name=region, shipping_providers=["acme"]), FieldMask(paths=["shipping_providers"])
    )
    options = await w.carts.list_shipping_options(STOREFRONT, cart[0], cart[1])
    assert [o for o in options if o.service_code == rate.service_code] == []


async def test_shipping_rate_and_rule_writes_are_seen_by_the_next_quote(
    setup: tuple[World, Admin], db: Database
) -> None:
    w, admin = setup
    country = await _country(db)
    region = await _region(admin, country)
    rate = await _shipping(admin, country, 700)
    variant = await w.variant(2500)
    cart = await _cart(w, region, country, variant)
    assert await _option_amount(w, cart, rate.service_code) == 700

    await admin.shipping.update_rate(
        S.UpdateShippingRateRequest(
            shipping_rate=S.ShippingRate(name=rate.name, amount=900), update_mask=FieldMask(paths=["amount"])
        )
    )
    assert await _option_amount(w, cart, rate.service_code) == 900

    variant_id = variant.rsplit("/", 1)[-1]
    rule = await admin.shipping.create_rule(
        S.ShippingRule(
            display_name="Reference surcharge", currency_code="AUD",
            condition=S.ShippingRuleCondition(cart_contains=S.StringList(values=[variant_id])),
            action=S.ShippingRuleAction(surcharge=150),
        )
    )  # fmt: skip
    try:
        assert await _option_amount(w, cart, rate.service_code) == 1050
        await admin.shipping.update_rule(
            S.UpdateShippingRuleRequest(
                shipping_rule=S.ShippingRule(name=rule.name, action=S.ShippingRuleAction(surcharge=50)),
                update_mask=FieldMask(paths=["action"]),
            )
        )
        assert await _option_amount(w, cart, rate.service_code) == 950
    finally:
        await admin.shipping.delete_rule(rule.name)
    assert await _option_amount(w, cart, rate.service_code) == 900


async def test_a_tax_rate_write_is_seen_by_the_next_pricing(setup: tuple[World, Admin], db: Database) -> None:
    w, admin = setup
    country = await _country(db)
    region = await _region(admin, country)
    await _shipping(admin, country, 700)
    name, token = await _cart(w, region, country, await w.variant(2500))
    assert (await w.carts.get_cart(STOREFRONT, name, token)).totals.tax_total == 0

    zone = await admin.tax.create_zone(
        tax_pb2.TaxZone(code=f"REF-{tag()}", display_name="Reference", country_code=country)
    )
    rate = await admin.tax.create_rate(
        tax_pb2.TaxRate(tax_zone=zone.name, display_name="VAT", rate="0.10", applies_to_shipping=False)
    )
    assert (await w.carts.get_cart(STOREFRONT, name, token)).totals.tax_total == 250

    await admin.tax.update_rate(tax_pb2.TaxRate(name=rate.name, rate="0.20"), FieldMask(paths=["rate"]))
    assert (await w.carts.get_cart(STOREFRONT, name, token)).totals.tax_total == 500

    await admin.tax.delete_zone(zone.name)
    assert (await w.carts.get_cart(STOREFRONT, name, token)).totals.tax_total == 0
