"""The calculator with the built-in provider over rates stored in the database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.tax.calculator import TaxCalculator
from rcommerce.domain.tax.errors import TAX_PROVIDER_NOT_FOUND
from rcommerce.domain.tax.models import TaxCategoryRow, TaxExemptionRow, TaxRateRow, TaxZoneRow
from rcommerce.domain.tax.vat_checker import VatIdChecker
from rcommerce.errors import DomainError
from rcommerce.ids import new_id
from rcommerce.plugins.builtin.tax_provider import BuiltinTaxProvider
from rcommerce.plugins.providers import Address, TaxLine, TaxRequest
from tests.backends._tax_db import empty_tax_tables, tax_database

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
async def tax_db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    async with tax_database(database_name, tmp_path_factory) as database:
        yield database


@pytest.fixture
async def db(tax_db: Database) -> Database:
    await empty_tax_tables(tax_db)
    return tax_db


class Seeder:
    """Zones with a unique country-ish code per test so tests share one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.tag = secrets.token_hex(3).upper()

    async def zone(self, code: str, country: str, region: str = "", postal: str = "") -> str:
        async with self.db.transaction() as s:
            zone_id = new_id("txz", NOW)
            s.add(TaxZoneRow(id=zone_id, code=f"{code}-{self.tag}", name=code, country_code=country, region_code=region,
                             postal_patterns=postal, zone_type="state" if region else "country", created_at=NOW, updated_at=NOW))  # fmt: skip
        return zone_id

    async def category(self, code: str) -> str:
        async with self.db.transaction() as s:
            cat_id = new_id("txc", NOW)
            s.add(
                TaxCategoryRow(
                    id=cat_id, code=f"{code}-{self.tag}", name=code, description="", created_at=NOW, updated_at=NOW
                )
            )
        return f"{code}-{self.tag}"

    async def rate(self, zone_id: str, name: str, rate: str, *, category: str = "", shipping: bool = True,
                   priority: int = 0, valid_until: datetime | None = None) -> str:  # fmt: skip
        async with self.db.transaction() as s:
            cat_id = None
            if category:
                from sqlalchemy import select

                cat_id = await s.scalar(select(TaxCategoryRow.id).where(TaxCategoryRow.code == category))
            rate_id = new_id("txr", NOW)
            s.add(TaxRateRow(id=rate_id, zone_id=zone_id, category_id=cat_id, name=name, rate=Decimal(rate),
                             applies_to_shipping=shipping, priority=priority, valid_from=None, valid_until=valid_until,
                             created_at=NOW, updated_at=NOW))  # fmt: skip
        return rate_id


def calculator(origin: str = "DE") -> TaxCalculator:
    return TaxCalculator(
        {"builtin": BuiltinTaxProvider()}, VatIdChecker(), clock=FrozenClock(NOW), origin_country=origin
    )


async def calc(db: Database, request: TaxRequest, provider: str = "builtin", origin: str = "DE"):  # type: ignore[no-untyped-def]
    async with db.transaction() as s:
        return await calculator(origin).calculate(s, request, provider)


async def test_example_1_new_york_post_discount(db: Database) -> None:
    seed = Seeder(db)
    ny = await seed.zone("US-NY", "US", "NY")
    await seed.rate(ny, "NY State", "0.04")
    nyc = await seed.zone("US-NYC", "US", "NY", "100*,101*,102*")
    await seed.rate(nyc, "NYC local", "0.0475")
    request = TaxRequest(
        "USD", Address("US", "10001", "NY", "New York"), (TaxLine("l1", 8998, quantity=2),), shipping_amount=2499
    )
    result = await calc(db, request)
    assert result.lines[0].tax_amount == 787
    assert [(c.name, c.amount) for c in result.lines[0].components] == [("NY State", 360), ("NYC local", 427)]
    assert result.shipping_tax == 219
    assert result.total_tax == 1006
    # Outside the city only the state rate applies.
    upstate = await calc(db, TaxRequest("USD", Address("US", "12207", "US-NY"), (TaxLine("l1", 8998),)))
    assert upstate.total_tax == 360


async def test_example_2_germany_reduced_category_and_reverse_charge(db: Database) -> None:
    seed = Seeder(db)
    de = await seed.zone("DE", "DE")
    await seed.rate(de, "DE VAT 19%", "0.19")
    reduced = await seed.category("reduced")
    await seed.rate(de, "DE VAT 7%", "0.07", category=reduced)
    munich = Address("DE", "80331", "BY", "München")
    result = await calc(db, TaxRequest("EUR", munich, (TaxLine("l1", 5998, quantity=2),), shipping_amount=1000))
    assert (result.lines[0].tax_amount, result.shipping_tax, result.total_tax) == (1140, 190, 1330)
    book = await calc(db, TaxRequest("EUR", munich, (TaxLine("b", 1000, reduced),)))
    assert [(c.name, c.amount) for c in book.lines[0].components] == [("DE VAT 7%", 70)]
    # Domestic B2B with a DE VAT id: normal VAT.
    domestic = await calc(
        db, TaxRequest("EUR", munich, (TaxLine("l1", 5998),), shipping_amount=1000, vat_id="DE136695976")
    )
    assert (domestic.total_tax, domestic.reverse_charge_applied) == (1330, False)
    # Paris, valid FR VAT id, seller DE: reverse charge.
    paris = await calc(db, TaxRequest("EUR", Address("FR", "75001"), (TaxLine("l1", 5998),), shipping_amount=1000,
                                      vat_id="FR40303265045"))  # fmt: skip
    assert (paris.total_tax, paris.reverse_charge_applied, paris.lines[0].components, paris.shipping) == (
        0,
        True,
        (),
        (),
    )
    # A bad check digit is no VAT id: B2C rules (FR has no zone here, so zero without the flag).
    bad = await calc(db, TaxRequest("EUR", Address("FR", "75001"), (TaxLine("l1", 5998),), vat_id="FR41303265045"))
    assert bad.reverse_charge_applied is False
    inclusive = await calc(
        db, TaxRequest("EUR", munich, (TaxLine("a", 11900), TaxLine("b", 999)), prices_include_tax=True)
    )
    assert [(line.tax_amount, line.taxable_amount) for line in inclusive.lines] == [(1900, 10000), (160, 839)]


async def test_no_address_exemptions_and_expired_rates(db: Database) -> None:
    seed = Seeder(db)
    zone = await seed.zone("CA-ON", "CA", "ON")
    await seed.rate(zone, "HST", "0.13")
    await seed.rate(zone, "Old levy", "0.02", valid_until=NOW - timedelta(days=1))
    toronto = Address("CA", "M5V 2T6", "ON")
    lines = (TaxLine("l1", 10000),)
    assert (await calc(db, TaxRequest("CAD", toronto, lines))).total_tax == 1300
    assert (await calc(db, TaxRequest("CAD", Address(""), lines))).total_tax == 0
    exempt = await calc(db, TaxRequest("CAD", toronto, lines, customer_tax_exempt=True))
    assert (exempt.total_tax, exempt.exempt) == (0, True)
    customer = new_id("cus", NOW)
    async with db.transaction() as s:
        s.add(TaxExemptionRow(id=new_id("txe", NOW), customer_id=customer, zone_id=zone, exemption_type="resale",
                              certificate_number="R-1", valid_from=None, valid_until=None, active=True, created_at=NOW, updated_at=NOW))  # fmt: skip
    by_zone = await calc(db, TaxRequest("CAD", toronto, lines, customer_id=customer))
    assert (by_zone.total_tax, by_zone.exempt) == (0, True)


async def test_unknown_provider_is_a_typed_error(db: Database) -> None:
    with pytest.raises(DomainError) as info:
        await calc(db, TaxRequest("USD", Address("US"), ()), provider="avalara")
    assert info.value.reason is TAX_PROVIDER_NOT_FOUND
