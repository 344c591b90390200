"""The tax admin service, VAT id checks with a registry, seeding and tax transactions,
on every database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import func, select

from rcommerce.clock import FrozenClock
from rcommerce.config import TaxRateSeed, TaxSettings, TaxZoneSeed
from rcommerce.db import Database
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.customers.models import CustomerRow
from rcommerce.domain.tax.calculator import TaxCalculator
from rcommerce.domain.tax.models import TaxRateRow, TaxTransactionRow, TaxZoneRow, VatValidationRow
from rcommerce.domain.tax.seed import DEMO_ZONES, seed_zones
from rcommerce.domain.tax.service import TaxService
from rcommerce.domain.tax.transactions import record_tax_lines
from rcommerce.domain.tax.vat import FormatVatValidator
from rcommerce.domain.tax.vat_checker import VatIdChecker
from rcommerce.domain.tax.wiring import build_tax
from rcommerce.errors import DomainError
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import common_pb2
from rcommerce.gen.v1 import tax_pb2 as T
from rcommerce.pagination import PageTokens
from rcommerce.plugins.builtin.tax_provider import BuiltinTaxProvider
from rcommerce.plugins.providers import Address, TaxLine, TaxRequest, VatCheck
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


class FakeRegistry:
    """A VIES-style validator: knows some ids, can be switched off."""

    code = "fake-vies"
    display_name = "Fake registry"

    def __init__(self) -> None:
        self.calls = 0
        self.down = False
        self.registered = {"FR40303265045": "ACME SARL"}

    async def validate(self, vat_id: str) -> VatCheck:
        self.calls += 1
        if self.down:
            raise ConnectionError("registry unreachable")
        name = self.registered.get(vat_id)
        return VatCheck(vat_id, vat_id[:2], name is not None, "" if name else "not_registered", name or "", "")


def _service(db: Database, clock: FrozenClock, registry: FakeRegistry | None = None, origin: str = "DE") -> TaxService:
    vat = VatIdChecker([registry] if registry else [], clock, cache_days=30)
    calculator = TaxCalculator({"builtin": BuiltinTaxProvider()}, vat, clock=clock, origin_country=origin)
    return TaxService(db, clock, PageTokens(b"k" * 32), calculator, vat)


async def _events(db: Database, subject: str) -> list[str]:
    async with db.read() as s:
        return list(
            (
                await s.scalars(
                    select(OutboxEvent.type).where(OutboxEvent.subject == subject).order_by(OutboxEvent.seq)
                )
            ).all()
        )


async def _customer(db: Database, *, exempt: bool = False, vat_id: str = "") -> str:
    async with db.transaction() as s:
        profile = await CustomerDirectory(FrozenClock(NOW)).find_or_create_guest(
            s, f"t{uuid.uuid4().hex[:8]}@example.com"
        )
        if exempt or vat_id:
            row = await s.get(CustomerRow, profile.id)
            assert row is not None
            row.tax_exempt, row.vat_id = exempt, vat_id
    return f"customers/{profile.id}"


async def test_zone_category_rate_crud_with_events(db: Database) -> None:
    tax = _service(db, FrozenClock(NOW))
    zone = await tax.create_zone(T.TaxZone(code="US-NY", display_name="New York", country_code="US", region_code="NY"))
    assert zone.name.startswith("taxZones/txz_") and zone.zone_type == "state"
    category = await tax.create_category(T.TaxCategory(code="clothing", display_name="Clothing"))
    rate = await tax.create_rate(
        T.TaxRate(tax_zone=zone.name, display_name="NY State", rate="0.0400", applies_to_shipping=True)
    )
    assert (rate.rate, rate.tax_category) == ("0.04", "")
    clothing = await tax.create_rate(
        T.TaxRate(tax_zone=zone.name, tax_category="clothing", display_name="NY clothing", rate="0")
    )
    assert clothing.tax_category == "clothing"
    updated = await tax.update_rate(T.TaxRate(name=rate.name, rate="0.045"), field_mask_pb2.FieldMask(paths=["rate"]))
    assert (updated.rate, updated.display_name) == ("0.045", "NY State")
    listed = await tax.list_rates(T.ListTaxRatesRequest(country_code="US", region_code="NY", postal_code="12207"))
    assert sorted(r.display_name for r in listed.tax_rates) == ["NY State", "NY clothing"]
    assert (await tax.list_rates(T.ListTaxRatesRequest(country_code="US", region_code="CA"))).tax_rates == []
    assert [r.name for r in (await tax.list_rates(T.ListTaxRatesRequest(tax_category="clothing"))).tax_rates] == [
        clothing.name
    ]
    renamed = await tax.update_zone(T.TaxZone(name=zone.name, display_name="NY"), field_mask_pb2.FieldMask())
    assert (renamed.display_name, renamed.code) == ("NY", "US-NY")
    with pytest.raises(DomainError) as used:
        await tax.delete_category(category.name)
    assert used.value.reason.name == "TAX_CATEGORY_IN_USE"
    await tax.delete_rate(clothing.name)
    await tax.delete_category(category.name)
    await tax.delete_zone(zone.name)
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(TaxRateRow)) == 0
    assert await _events(db, zone.name) == ["tax_zone.created", "tax_zone.updated", "tax_zone.deleted"]
    assert await _events(db, rate.name) == ["tax_rate.created", "tax_rate.updated"]  # deleted with its zone
    assert await _events(db, category.name) == ["tax_category.created", "tax_category.deleted"]


@pytest.mark.parametrize(
    ("zone", "reason", "field"),
    [
        (T.TaxZone(code="", country_code="US"), "VALIDATION_FAILED", "tax_zone.code"),
        (T.TaxZone(code="X", country_code="usa"), "VALIDATION_FAILED", "tax_zone.country_code"),
        (T.TaxZone(code="X", country_code="US", region_code="new york"), "VALIDATION_FAILED", "tax_zone.region_code"),
        (
            T.TaxZone(code="X", country_code="US", postal_patterns=["10*01"]),
            "VALIDATION_FAILED",
            "tax_zone.postal_patterns[0]",
        ),
        (T.TaxZone(code="X", country_code="US", zone_type="planet"), "VALIDATION_FAILED", "tax_zone.zone_type"),
    ],
)
async def test_bad_zones_change_nothing(db: Database, zone: T.TaxZone, reason: str, field: str) -> None:
    tax = _service(db, FrozenClock(NOW))
    with pytest.raises(DomainError) as info:
        await tax.create_zone(zone)
    assert info.value.reason.name == reason and [v.field for v in info.value.violations] == [field]
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(TaxZoneRow)) == 0


@pytest.mark.parametrize("text", ["", "abc", "1.5", "-0.1", "0.1234567", "19%", "0,19"])
async def test_bad_rates_are_invalid_tax_rate(db: Database, text: str) -> None:
    tax = _service(db, FrozenClock(NOW))
    zone = await tax.create_zone(T.TaxZone(code="DE", country_code="DE"))
    with pytest.raises(DomainError) as info:
        await tax.create_rate(T.TaxRate(tax_zone=zone.name, display_name="VAT", rate=text))
    assert info.value.reason.name == "INVALID_TAX_RATE" and info.value.metadata["field"] == "tax_rate.rate"
    assert (await tax.list_rates(T.ListTaxRatesRequest(tax_zone=zone.name))).tax_rates == []


async def test_conflicts_and_missing_resources(db: Database) -> None:
    tax = _service(db, FrozenClock(NOW))
    zone = await tax.create_zone(T.TaxZone(code="DE", country_code="DE"))
    with pytest.raises(DomainError) as taken:
        await tax.create_zone(T.TaxZone(code="DE", country_code="DE"))
    assert taken.value.reason.name == "TAX_ZONE_CODE_TAKEN" and taken.value.reason.code.name == "ALREADY_EXISTS"
    await tax.create_category(T.TaxCategory(code="reduced"))
    with pytest.raises(DomainError) as cat_taken:
        await tax.create_category(T.TaxCategory(code="reduced"))
    assert cat_taken.value.reason.name == "TAX_CATEGORY_CODE_TAKEN"
    with pytest.raises(DomainError) as no_cat:
        await tax.create_rate(T.TaxRate(tax_zone=zone.name, tax_category="food", display_name="Food", rate="0.07"))
    assert no_cat.value.reason.name == "TAX_CATEGORY_NOT_FOUND"
    with pytest.raises(DomainError) as no_zone:
        await tax.get_zone("taxZones/txz_01JAAAAAAAAAAAAAAAAAAAAAAA")
    assert no_zone.value.reason.name == "TAX_ZONE_NOT_FOUND"
    with pytest.raises(DomainError) as bad_name:
        await tax.get_rate("taxZones/txz_01JAAAAAAAAAAAAAAAAAAAAAAA")
    assert bad_name.value.reason.name == "INVALID_RESOURCE_NAME"
    with pytest.raises(DomainError) as window:
        start = NOW
        rate = T.TaxRate(tax_zone=zone.name, display_name="VAT", rate="0.19")
        rate.valid_from.FromDatetime(start)
        rate.valid_until.FromDatetime(start - timedelta(days=1))
        await tax.create_rate(rate)
    assert window.value.reason.name == "VALIDATION_FAILED"


async def test_rate_validity_window(db: Database) -> None:
    clock = FrozenClock(NOW)
    tax = _service(db, clock)
    zone = await tax.create_zone(T.TaxZone(code="DE", country_code="DE"))
    old = T.TaxRate(tax_zone=zone.name, display_name="VAT 16%", rate="0.16")
    old.valid_until.FromDatetime(NOW + timedelta(days=1))
    new = T.TaxRate(tax_zone=zone.name, display_name="VAT 19%", rate="0.19")
    new.valid_from.FromDatetime(NOW + timedelta(days=1))
    await tax.create_rate(old)
    await tax.create_rate(new)
    request = T.CalculateTaxRequest(currency_code="EUR", destination=common_pb2.Address(country_code="DE"),
                                    lines=[T.TaxableLine(line_id="a", amount=10000)])  # fmt: skip
    assert (await tax.calculate(request)).total_tax == 1600
    clock.advance(days=1)
    assert (await tax.calculate(request)).total_tax == 1900


async def test_calculate_preview_example_2_with_breakdown_and_customers(db: Database) -> None:
    tax = _service(db, FrozenClock(NOW))
    async with db.transaction() as s:
        await seed_zones(s, DEMO_ZONES, NOW)
    munich = common_pb2.Address(country_code="DE", city="München", postal_code="80331")
    request = T.CalculateTaxRequest(currency_code="EUR", destination=munich, shipping_amount=1000,
                                    lines=[T.TaxableLine(line_id="l1", amount=5998, quantity=2)])  # fmt: skip
    result = await tax.calculate(request)
    assert (result.lines[0].tax_amount, result.shipping_tax, result.total_tax) == (1140, 190, 1330)
    assert [(b.display_name, b.rate, b.jurisdiction, b.taxable_amount, b.tax_amount) for b in result.breakdown] == [
        ("DE VAT 19%", "0.19", "DE", 6998, 1330)
    ]
    reduced = await tax.calculate(T.CalculateTaxRequest(currency_code="EUR", destination=munich,
                                                        lines=[T.TaxableLine(line_id="b", amount=1000, tax_category="reduced")]))  # fmt: skip
    assert reduced.total_tax == 70
    exempt = await tax.calculate(T.CalculateTaxRequest(currency_code="EUR", destination=munich, customer=await _customer(db, exempt=True),
                                                       lines=[T.TaxableLine(line_id="l1", amount=5998)]))  # fmt: skip
    assert (exempt.total_tax, exempt.exempt) == (0, True)
    # A customer whose profile holds a French VAT id, shipping to Paris: reverse charge.
    b2b = await _customer(db, vat_id="FR40303265045")
    paris = await tax.calculate(T.CalculateTaxRequest(currency_code="EUR", destination=common_pb2.Address(country_code="FR"),
                                                      customer=b2b, shipping_amount=1000, lines=[T.TaxableLine(line_id="l1", amount=5998)]))  # fmt: skip
    assert (paris.total_tax, paris.reverse_charge_applied, list(paris.breakdown)) == (0, True, [])
    ny = await tax.calculate(T.CalculateTaxRequest(currency_code="USD", destination=common_pb2.Address(country_code="US", province="NY", postal_code="10001"),
                                                   shipping_amount=2499, lines=[T.TaxableLine(line_id="l1", amount=8998)]))  # fmt: skip
    assert (ny.lines[0].tax_amount, ny.shipping_tax, ny.total_tax) == (787, 219, 1006)
    assert [(b.display_name, b.taxable_amount, b.tax_amount) for b in ny.breakdown] == [
        ("NY State", 11497, 460),
        ("NYC local", 11497, 546),
    ]


@pytest.mark.parametrize(
    ("request_", "reason", "field"),
    [
        (T.CalculateTaxRequest(currency_code="usd"), "VALIDATION_FAILED", "currency_code"),
        (T.CalculateTaxRequest(currency_code="USD", lines=[T.TaxableLine(line_id="a", amount=-1)]), "VALIDATION_FAILED", "lines[0].amount"),
        (T.CalculateTaxRequest(currency_code="USD", lines=[T.TaxableLine(line_id="a"), T.TaxableLine(line_id="a")]), "VALIDATION_FAILED", "lines[1].line_id"),
        (T.CalculateTaxRequest(currency_code="EUR", vat_id="DE136695977"), "INVALID_VAT_ID", "vat_id"),
        (T.CalculateTaxRequest(currency_code="EUR", customer="customers/nope"), "INVALID_RESOURCE_NAME", "customer"),
        (T.CalculateTaxRequest(currency_code="EUR", provider="avalara", destination=common_pb2.Address(country_code="DE")), "TAX_PROVIDER_NOT_FOUND", ""),
    ],
)  # fmt: skip
async def test_calculate_refuses_bad_input(
    db: Database, request_: T.CalculateTaxRequest, reason: str, field: str
) -> None:
    with pytest.raises(DomainError) as info:
        await _service(db, FrozenClock(NOW)).calculate(request_)
    assert info.value.reason.name == reason
    assert info.value.metadata.get("field", "") == field or [v.field for v in info.value.violations] == [field]


async def test_unknown_customer_is_customer_not_found(db: Database) -> None:
    with pytest.raises(DomainError) as info:
        await _service(db, FrozenClock(NOW)).calculate(
            T.CalculateTaxRequest(currency_code="EUR", customer="customers/cus_01JAAAAAAAAAAAAAAAAAAAAAAA")
        )
    assert info.value.reason.name == "CUSTOMER_NOT_FOUND"


async def test_exemptions_per_zone_and_global(db: Database) -> None:
    tax = _service(db, FrozenClock(NOW))
    state = await tax.create_zone(T.TaxZone(code="US-TX", country_code="US", region_code="TX"))
    city = await tax.create_zone(
        T.TaxZone(code="US-TX-AUS", country_code="US", region_code="TX", postal_patterns=["787*"])
    )
    await tax.create_rate(
        T.TaxRate(tax_zone=state.name, display_name="TX State", rate="0.0625", applies_to_shipping=True)
    )
    await tax.create_rate(T.TaxRate(tax_zone=city.name, display_name="Austin", rate="0.02", applies_to_shipping=True))
    customer = await _customer(db)
    request = T.CalculateTaxRequest(currency_code="USD", customer=customer, destination=common_pb2.Address(country_code="US", province="TX", postal_code="78701"),
                                    lines=[T.TaxableLine(line_id="a", amount=10000)])  # fmt: skip
    assert (await tax.calculate(request)).total_tax == 825
    city_only = await tax.create_exemption(
        customer, T.TaxExemption(tax_zone=city.name, exemption_type="resale", certificate_number="R-1")
    )
    partial = await tax.calculate(request)
    assert (partial.total_tax, partial.exempt) == (625, False)
    everywhere = await tax.create_exemption(customer, T.TaxExemption(exemption_type="nonprofit"))
    full = await tax.calculate(request)
    assert (full.total_tax, full.exempt) == (0, True)
    listed = await tax.list_exemptions(T.ListTaxExemptionsRequest(parent=customer))
    assert sorted(e.name for e in listed.tax_exemptions) == sorted([city_only.name, everywhere.name])
    await tax.delete_exemption(everywhere.name)
    await tax.delete_exemption(city_only.name)
    assert (await tax.calculate(request)).total_tax == 825
    with pytest.raises(DomainError) as gone:
        await tax.delete_exemption(city_only.name)
    assert gone.value.reason.name == "TAX_EXEMPTION_NOT_FOUND"
    with pytest.raises(DomainError) as kind:
        await tax.create_exemption(customer, T.TaxExemption(exemption_type="friend"))
    assert kind.value.reason.name == "VALIDATION_FAILED"
    with pytest.raises(DomainError) as nobody:
        await tax.create_exemption("customers/cus_01JAAAAAAAAAAAAAAAAAAAAAAA", T.TaxExemption())
    assert nobody.value.reason.name == "CUSTOMER_NOT_FOUND"
    assert await _events(db, city_only.name) == ["tax_exemption.created", "tax_exemption.deleted"]


async def test_vat_ids_with_a_registry_are_cached(db: Database) -> None:
    clock = FrozenClock(NOW)
    registry = FakeRegistry()
    tax = _service(db, clock, registry)
    valid = await tax.validate_vat_id("fr 40 303 265 045")
    assert (valid.vat_id, valid.country_code, valid.valid, valid.business_name) == (
        "FR40303265045",
        "FR",
        True,
        "ACME SARL",
    )
    await tax.validate_vat_id("FR40303265045")
    assert registry.calls == 1  # second answer from the cache
    with pytest.raises(DomainError) as checksum:
        await tax.validate_vat_id("FR41303265045")
    assert (checksum.value.reason.name, checksum.value.metadata["cause"]) == ("INVALID_VAT_ID", "checksum")
    assert registry.calls == 1  # a bad check digit never reaches the registry
    with pytest.raises(DomainError) as unknown:
        await tax.validate_vat_id("DE136695976")
    assert (unknown.value.reason.name, unknown.value.metadata["cause"]) == ("INVALID_VAT_ID", "not_registered")
    registry.down = True
    with pytest.raises(DomainError) as down:
        await tax.validate_vat_id("IT00743110157")
    assert down.value.reason.name == "VAT_SERVICE_UNAVAILABLE" and down.value.reason.code.name == "UNAVAILABLE"
    assert (await tax.validate_vat_id("FR40303265045")).valid  # cached, still answers
    clock.advance(days=31)
    with pytest.raises(DomainError):
        await tax.validate_vat_id("FR40303265045")  # cache expired, registry down
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(VatValidationRow)) == 2


async def test_reverse_charge_needs_a_checked_id(db: Database) -> None:
    clock = FrozenClock(NOW)
    registry = FakeRegistry()
    vat = VatIdChecker([registry], clock)
    calculator = TaxCalculator({"builtin": BuiltinTaxProvider()}, vat, clock=clock, origin_country="DE")
    async with db.transaction() as s:
        await seed_zones(
            s, (TaxZoneSeed(code="FR", country="FR", rates=[TaxRateSeed(name="FR TVA 20%", rate="0.20")]),), NOW
        )
    request = TaxRequest(
        "EUR", Address("FR", "75001"), (TaxLine("l1", 5998),), shipping_amount=1000, vat_id="FR40303265045"
    )
    async with db.transaction() as s:
        assert (await calculator.calculate(s, request)).reverse_charge_applied
    registry.down = True
    async with db.transaction() as s:
        await s.execute(VatValidationRow.__table__.delete())
        result = await calculator.calculate(s, request)
    assert (result.reverse_charge_applied, result.total_tax) == (False, 1200 + 200)  # B2C rules while unchecked


async def test_record_and_list_tax_transactions(db: Database) -> None:
    tax = _service(db, FrozenClock(NOW))
    async with db.transaction() as s:
        await seed_zones(s, DEMO_ZONES, NOW)
    calculator = tax.calculator
    request = TaxRequest(
        "USD", Address("US", "10001", "NY"), (TaxLine("c1", 8998), TaxLine("c2", 1000)), shipping_amount=2499
    )
    async with db.transaction() as s:
        result = await calculator.calculate(s, request)
        await record_tax_lines(s, "ord_01JAAAAAAAAAAAAAAAAAAAAAAA", {"c1": "oli_1", "c2": "oli_2"}, result,
                               currency="USD", destination=request.destination, now=NOW, shipping_amount=2499)  # fmt: skip
    de = TaxRequest("EUR", Address("FR"), (TaxLine("c1", 5998),), vat_id="FR40303265045")
    async with db.transaction() as s:
        rc = await calculator.calculate(s, de)
        await record_tax_lines(
            s, "ord_01JBBBBBBBBBBBBBBBBBBBBBBB", ["oli_9"], rc, currency="EUR", destination=de.destination, now=NOW
        )
    listed = await tax.list_transactions(T.ListTaxTransactionsRequest(order="orders/ord_01JAAAAAAAAAAAAAAAAAAAAAAA"))
    rows = [
        (t.order_line_id, t.kind, t.display_name, t.taxable_amount, t.tax_amount, t.rate)
        for t in listed.tax_transactions
    ]
    assert sorted(rows) == sorted([
        ("oli_1", "line", "NY State", 8998, 360, "0.04"), ("oli_1", "line", "NYC local", 8998, 427, "0.0475"),
        ("oli_2", "line", "NY State", 1000, 40, "0.04"), ("oli_2", "line", "NYC local", 1000, 48, "0.0475"),
        ("", "shipping", "NY State", 2499, 100, "0.04"), ("", "shipping", "NYC local", 2499, 119, "0.0475"),
    ])  # fmt: skip
    assert sum(t.tax_amount for t in listed.tax_transactions) == result.total_tax == 1094
    assert {(t.country_code, t.region_code, t.period, t.currency_code) for t in listed.tax_transactions} == {
        ("US", "NY", "2026-06", "USD")
    }
    [zero] = (
        await tax.list_transactions(T.ListTaxTransactionsRequest(country_code="FR", period="2026-06"))
    ).tax_transactions
    assert (zero.order_line_id, zero.tax_amount, zero.taxable_amount, zero.reverse_charge) == ("oli_9", 0, 5998, True)
    page = await tax.list_transactions(T.ListTaxTransactionsRequest(page_size=4))
    rest = await tax.list_transactions(T.ListTaxTransactionsRequest(page_size=4, page_token=page.next_page_token))
    assert len(page.tax_transactions) + len(rest.tax_transactions) == 7 and rest.next_page_token == ""
    with pytest.raises(DomainError) as bad:
        await tax.list_transactions(T.ListTaxTransactionsRequest(period="June"))
    assert bad.value.reason.name == "VALIDATION_FAILED"
    async with db.read() as s:
        assert await s.scalar(select(func.sum(TaxTransactionRow.tax_amount))) == 1094


async def test_config_seeding_is_idempotent(db: Database) -> None:
    settings = TaxSettings(origin_country="DE", zones=[
        TaxZoneSeed(code="AT", country="AT", rates=[TaxRateSeed(name="AT USt 20%", rate="0.20"),
                                                    TaxRateSeed(name="AT USt 10%", rate="0.10", category="reduced")]),
    ])  # fmt: skip
    for _ in range(2):
        built = await build_tax(
            db,
            FrozenClock(NOW),
            PageTokens(b"k" * 32),
            settings,
            {"builtin": BuiltinTaxProvider()},
            {"format": FormatVatValidator()},
        )
    zones = await built.service.list_zones(T.ListTaxZonesRequest(country_code="AT"))
    assert [z.code for z in zones.tax_zones] == ["AT"]
    rates = await built.service.list_rates(T.ListTaxRatesRequest(tax_zone=zones.tax_zones[0].name))
    assert sorted((r.display_name, r.rate, r.tax_category) for r in rates.tax_rates) == [
        ("AT USt 10%", "0.1", "reduced"),
        ("AT USt 20%", "0.2", ""),
    ]
    async with db.read() as s:
        assert Decimal(await s.scalar(select(func.sum(TaxRateRow.rate)))) == Decimal("0.3")
