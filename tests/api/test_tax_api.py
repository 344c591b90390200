"""The tax API, each test over gRPC and REST, on a server with its own database (tax
zones are global, so other tests' zones must not stack onto these figures)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf import field_mask_pb2

from rcommerce.db import Database
from rcommerce.gen.v1 import common_pb2
from rcommerce.gen.v1 import tax_pb2 as T
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer, live_server
from tests.backends._tax_db import tax_database

SEEDED = [
    {"code": "DE", "name": "Germany", "country": "DE",
     "rates": [{"name": "DE VAT 19%", "rate": "0.19"},
               {"name": "DE VAT 7%", "rate": "0.07", "category": "reduced", "applies_to_shipping": False}]},
    {"code": "US-NY", "name": "New York State", "country": "US", "region": "NY", "rates": [{"name": "NY State", "rate": "0.04"}]},
    {"code": "US-NY-NYC", "name": "New York City", "country": "US", "region": "NY", "postal_patterns": ["100*"],
     "rates": [{"name": "NYC local", "rate": "0.0475"}]},
]  # fmt: skip


@pytest.fixture(scope="module")
async def tax_db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    async with tax_database(database_name, tmp_path_factory) as database:
        yield database


@pytest.fixture(scope="module")
async def server(tax_db: Database) -> AsyncIterator[LiveServer]:
    """Overrides the shared server: seller in DE, zones seeded from [tax] at start-up."""
    async with live_server(tax_db.settings.url, tax={"origin_country": "DE", "zones": SEEDED}) as live:
        yield live


def _calc(
    country: str, *lines: tuple[str, int, str], shipping: int = 0, currency: str = "EUR", **extra: object
) -> T.CalculateTaxRequest:
    address = common_pb2.Address(
        country_code=country, postal_code=str(extra.pop("postal_code", "")), province=str(extra.pop("province", ""))
    )
    return T.CalculateTaxRequest(
        currency_code=currency, destination=address, shipping_amount=shipping,
        lines=[T.TaxableLine(line_id=i, amount=a, tax_category=c) for i, a, c in lines], **extra,  # type: ignore[arg-type]
    )  # fmt: skip


def _check(client: ApiClient, error: ApiError, reason: str, http: int) -> None:
    """Same reason on both transports; REST also maps it to ``http``."""
    assert error.reason == reason
    assert error.http_status == (http if client.transport == "rest" else None)


async def test_example_1_and_2_through_the_api(client: ApiClient) -> None:
    ny = await client.call(
        "CalculateTax", _calc("US", ("l1", 8998, ""), shipping=2499, currency="USD", province="NY", postal_code="10001")
    )
    assert (ny.lines[0].tax_amount, ny.shipping_tax, ny.total_tax) == (787, 219, 1006)
    assert [(c.display_name, c.rate, c.amount, c.jurisdiction) for c in ny.lines[0].components] == [
        ("NY State", "0.04", 360, "US-NY"), ("NYC local", "0.0475", 427, "US-NY-NYC"),
    ]  # fmt: skip
    de = await client.call("CalculateTax", _calc("DE", ("l1", 5998, ""), shipping=1000))
    assert (de.lines[0].tax_amount, de.shipping_tax, de.total_tax) == (1140, 190, 1330)
    assert [(b.display_name, b.taxable_amount, b.tax_amount) for b in de.breakdown] == [("DE VAT 19%", 6998, 1330)]
    paris = await client.call("CalculateTax", _calc("FR", ("l1", 5998, ""), shipping=1000, vat_id="FR40303265045"))
    assert (paris.total_tax, paris.reverse_charge_applied, len(paris.breakdown)) == (0, True, 0)
    domestic = await client.call("CalculateTax", _calc("DE", ("l1", 5998, ""), shipping=1000, vat_id="DE136695976"))
    assert (domestic.total_tax, domestic.reverse_charge_applied) == (1330, False)
    gross = await client.call("CalculateTax", _calc("DE", ("a", 11900, ""), ("b", 999, ""), prices_include_tax=True))
    assert [(line.tax_amount, line.taxable_amount) for line in gross.lines] == [(1900, 10000), (160, 839)]
    book = await client.call("CalculateTax", _calc("DE", ("b", 1000, "reduced"), shipping=500))
    assert (book.lines[0].tax_amount, book.shipping_tax) == (70, 95)


async def test_manage_zones_and_rates(client: ApiClient) -> None:
    zone = await client.call("CreateTaxZone", T.CreateTaxZoneRequest(tax_zone=T.TaxZone(
        code=f"CA-ON-{client.transport}", display_name="Ontario", country_code="CA", region_code="ON")))  # fmt: skip
    rate = await client.call("CreateTaxRate", T.CreateTaxRateRequest(tax_rate=T.TaxRate(
        tax_zone=zone.name, display_name="HST", rate="0.13", applies_to_shipping=True)))  # fmt: skip
    assert (rate.rate, rate.tax_zone) == ("0.13", zone.name)
    assert await client.call("GetTaxRate", T.GetTaxRateRequest(name=rate.name)) == rate
    toronto = _calc("CA", ("a", 10000, ""), shipping=1000, currency="CAD", province="ON")
    assert (await client.call("CalculateTax", toronto)).total_tax == 1430
    await client.call("UpdateTaxRate", T.UpdateTaxRateRequest(tax_rate=T.TaxRate(name=rate.name, rate="0.15"),
                                                              update_mask=field_mask_pb2.FieldMask(paths=["rate"])))  # fmt: skip
    assert (await client.call("CalculateTax", toronto)).total_tax == 1650
    listed = await client.call("ListTaxRates", T.ListTaxRatesRequest(country_code="CA", region_code="ON"))
    assert [r.name for r in listed.tax_rates] == [rate.name]
    zones = await client.call("ListTaxZones", T.ListTaxZonesRequest(country_code="CA"))
    assert zone.name in [z.name for z in zones.tax_zones]
    await client.call("DeleteTaxZone", T.DeleteTaxZoneRequest(name=zone.name))
    with pytest.raises(ApiError) as gone:
        await client.call("GetTaxRate", T.GetTaxRateRequest(name=rate.name))
    _check(client, gone.value, "TAX_RATE_NOT_FOUND", 404)
    category = await client.call(
        "CreateTaxCategory", T.CreateTaxCategoryRequest(tax_category=T.TaxCategory(code=f"food-{client.transport}"))
    )
    names = [c.name for c in (await client.call("ListTaxCategories", T.ListTaxCategoriesRequest())).tax_categories]
    assert category.name in names
    await client.call("DeleteTaxCategory", T.DeleteTaxCategoryRequest(name=category.name))


async def test_bad_input_gets_typed_reasons(client: ApiClient) -> None:
    de_zone = (await client.call("ListTaxZones", T.ListTaxZonesRequest(country_code="DE"))).tax_zones[0]
    with pytest.raises(ApiError) as rate:
        await client.call(
            "CreateTaxRate",
            T.CreateTaxRateRequest(tax_rate=T.TaxRate(tax_zone=de_zone.name, display_name="x", rate="19%")),
        )
    _check(client, rate.value, "INVALID_TAX_RATE", 400)
    assert rate.value.metadata and rate.value.metadata["field"] == "tax_rate.rate"
    with pytest.raises(ApiError) as taken:
        await client.call("CreateTaxZone", T.CreateTaxZoneRequest(tax_zone=T.TaxZone(code="DE", country_code="DE")))
    _check(client, taken.value, "TAX_ZONE_CODE_TAKEN", 409)
    with pytest.raises(ApiError) as vat:
        await client.call("ValidateVatId", T.ValidateVatIdRequest(vat_id="DE136695977"))
    _check(client, vat.value, "INVALID_VAT_ID", 400)
    assert vat.value.metadata and vat.value.metadata["cause"] == "checksum"
    with pytest.raises(ApiError) as fmt:
        await client.call("CalculateTax", _calc("FR", ("l1", 100, ""), vat_id="FR123"))
    _check(client, fmt.value, "INVALID_VAT_ID", 400)
    assert fmt.value.metadata and fmt.value.metadata["cause"] == "format"
    with pytest.raises(ApiError) as provider:
        await client.call("CalculateTax", _calc("DE", ("l1", 100, ""), provider="avalara"))
    _check(client, provider.value, "TAX_PROVIDER_NOT_FOUND", 422)
    with pytest.raises(ApiError) as currency:
        await client.call("CalculateTax", _calc("DE", ("l1", 100, ""), currency="euro"))
    _check(client, currency.value, "VALIDATION_FAILED", 400)
    after = await client.call("ListTaxRates", T.ListTaxRatesRequest(tax_zone=de_zone.name))
    assert sorted(r.display_name for r in after.tax_rates) == ["DE VAT 19%", "DE VAT 7%"]


async def test_validate_vat_id(client: ApiClient) -> None:
    ok = await client.call("ValidateVatId", T.ValidateVatIdRequest(vat_id="el 094 259 216"))
    assert (ok.vat_id, ok.country_code, ok.valid) == ("EL094259216", "GR", True)


async def test_scopes(server: LiveServer) -> None:
    reader = server.grpc_client(await server.create_key(["tax:read"]))
    try:
        await reader.call("ListTaxZones", T.ListTaxZonesRequest())
        with pytest.raises(ApiError) as denied:
            await reader.call("CreateTaxZone", T.CreateTaxZoneRequest(tax_zone=T.TaxZone(code="X", country_code="FR")))
        assert denied.value.reason == "INSUFFICIENT_PERMISSIONS"
    finally:
        await reader.close()


async def test_rest_json_shape_and_custom_method_paths(server: LiveServer) -> None:
    body = {"currencyCode": "EUR", "destination": {"countryCode": "DE"}, "shippingAmount": "1000",
            "lines": [{"lineId": "l1", "amount": "5998"}]}  # fmt: skip
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {server.admin_key}"}
    ) as http:
        response = await http.post("/v1/tax:calculate", json=body)
        assert response.status_code == 200, response.text
        data = response.json()
        assert (data["totalTax"], data["shippingTax"], data["lines"][0]["components"][0]["rate"]) == (
            "1330",
            "190",
            "0.19",
        )
        vat = await http.post("/v1/vatIds:validate", json={"vatId": "FR41303265045"})
        assert vat.status_code == 400 and vat.json()["error"]["details"][0]["reason"] == "INVALID_VAT_ID"
