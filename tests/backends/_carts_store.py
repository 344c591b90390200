"""A small store for the cart tests: regions, tax zones, shipping zones, products,
promotions and customers, created through the owning contexts' services where they
have one and as rows where they do not (shipping zones, customers)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from rcommerce.clock import Clock
from rcommerce.db import Database
from rcommerce.domain.customers.directory import new_customer_row
from rcommerce.domain.regions.service import RegionService
from rcommerce.domain.shipping.models import ShippingRateRow, ShippingZoneRow
from rcommerce.domain.tax.models import TaxRateRow, TaxZoneRow
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import regions_pb2
from rcommerce.gen.v1.common_pb2 import Money
from rcommerce.ids import new_id
from rcommerce.pagination import PageTokens


@dataclass(frozen=True)
class Store:
    us: str  # region id: USD, US, tax added
    de: str  # region id: EUR, DE, tax added (Ex2)
    at: str  # region id: EUR, AT, prices include tax


_STORES: dict[str, Store] = {}


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def ensure_store(db: Database, clock: Clock) -> Store:
    """Create the store once per database (regions own their countries)."""
    key = db.settings.url
    if key in _STORES:
        return _STORES[key]
    regions = RegionService(db, clock, PageTokens(b"carts-test"))
    ids = []
    for name, currency, country, inclusive in (
        ("Carts US", "USD", "US", False),
        ("Carts DE", "EUR", "DE", False),
        ("Carts AT", "EUR", "AT", True),
    ):
        created = await regions.create_region(
            regions_pb2.Region(
                display_name=name, currency_code=currency, countries=[country], prices_include_tax=inclusive
            )
        )
        ids.append(created.id)
    now = clock.now()
    async with db.transaction() as s:
        for code, country, region, rate_name, rate in (
            ("CARTS-US-NY", "US", "NY", "NY combined", "0.0875"),
            ("CARTS-DE", "DE", "", "DE VAT 19%", "0.19"),
            ("CARTS-AT", "AT", "", "AT VAT 20%", "0.2"),
        ):
            tax_zone = TaxZoneRow(
                id=new_id("txz", now), code=code, name=code, country_code=country, region_code=region, postal_patterns="",
                zone_type="state" if region else "country", created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(tax_zone)
            await s.flush()
            s.add(
                TaxRateRow(
                    id=new_id("txr", now), zone_id=tax_zone.id, category_id=None, name=rate_name, rate=Decimal(rate),
                    applies_to_shipping=True, priority=0, valid_from=None, valid_until=None, created_at=now, updated_at=now,
                )
            )  # fmt: skip
        for position, (country, currency, rates) in enumerate(
            (
                ("US", "USD", [("UPS 2-day", "ups_2day", 2499), ("Ground", "ground", 999)]),
                ("DE", "EUR", [("DHL", "dhl", 1000)]),
                ("AT", "EUR", [("Post", "post", 595)]),
            )
        ):
            zone = ShippingZoneRow(
                id=new_id("shz", now), name=f"Carts {country}", position=position, active=True, countries=[country],
                exclude_countries=[], states=[], postal_codes=[], postal_ranges=[], created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(zone)
            await s.flush()
            for i, (name, code, amount) in enumerate(rates):
                s.add(
                    ShippingRateRow(
                        id=new_id("shr", now), zone_id=zone.id, profile_id=None, name=name, service_code=code, currency_code=currency,
                        kind="flat", amount=amount, per_unit_amount=0, weight_unit="g", brackets=[], tiers=[], handling_fee=0,
                        fuel_surcharge_percent=Decimal(0), free_over=None, min_weight_grams=0, max_weight_grams=None,
                        volumetric="", min_days=1, max_days=3, active=True, position=i, created_at=now, updated_at=now,
                    )
                )  # fmt: skip
    store = Store(*ids)
    _STORES[key] = store
    return store


def product(
    title: str = "Tee",
    *,
    usd: int | None = 4999,
    eur: int | None = None,
    status: int = C.PRODUCT_STATUS_ACTIVE,
    managed: bool = False,
    stock: int = 0,
    policy: int = C.INVENTORY_POLICY_DENY,
    variants: int = 1,
    requires_shipping: bool = True,
) -> C.Product:
    t = tag()
    prices = [Money(currency_code="USD", amount=usd)] if usd is not None else []
    prices += [Money(currency_code="EUR", amount=eur)] if eur is not None else []
    return C.Product(
        title=f"{title} {t}", status=status,
        options=[C.ProductOption(name="Size", values=[f"S{i}" for i in range(variants)])],
        variants=[
            C.Variant(
                sku=f"CART-{t}-{i}", option_values={"Size": f"S{i}"}, prices=prices, manage_inventory=managed,
                inventory_quantity=stock, inventory_policy=policy, requires_shipping=requires_shipping, weight_grams=500,
            )
            for i in range(variants)
        ],
    )  # fmt: skip


async def customer(db: Database, now: datetime) -> str:
    async with db.transaction() as s:
        row = new_customer_row(f"buyer-{tag()}@example.com", now, is_guest=False)
        s.add(row)
        return str(row.id)


def days(n: int) -> timedelta:
    return timedelta(days=n)
