"""RegionService and PriceListService against every database in the matrix."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.catalog.models import ProductRow, VariantPriceRow, VariantRow
from rcommerce.domain.price_lists.resolver import PriceResolver, UnitPrice
from rcommerce.domain.price_lists.service import PriceListService
from rcommerce.domain.regions.directory import RegionDirectory
from rcommerce.domain.regions.rules import KnownProviders
from rcommerce.domain.regions.service import RegionService
from rcommerce.errors import DomainError
from rcommerce.events import OutboxEvent
from rcommerce.gen.v1 import regions_pb2 as R
from rcommerce.ids import new_id
from rcommerce.pagination import PageTokens
from tests.backends._regions_helpers import free_countries

NOW = datetime(2026, 5, 1, 9, tzinfo=UTC)
KNOWN = KnownProviders({"payment": frozenset({"stripe"}), "shipping": frozenset({"ups"}), "tax": frozenset({"vertex"})})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
def regions(db: Database, clock: FrozenClock) -> RegionService:
    return RegionService(db, clock, PageTokens(b"r" * 32), KNOWN)


@pytest.fixture
def lists(db: Database, clock: FrozenClock) -> PriceListService:
    return PriceListService(db, clock, PageTokens(b"p" * 32))


async def failure(awaitable: Any) -> DomainError:
    with pytest.raises(DomainError) as err:
        await awaitable
    return err.value


async def events_for(db: Database, subject: str) -> list[tuple[str, dict[str, Any]]]:
    async with db.read() as s:
        rows = await s.scalars(select(OutboxEvent).where(OutboxEvent.subject == subject).order_by(OutboxEvent.seq))
        return [(e.type, e.data) for e in rows]


def region(countries: list[str] | None = None, **fields: Any) -> R.Region:
    base: dict[str, Any] = {
        "display_name": "Europe",
        "currency_code": "EUR",
        "countries": countries or [],
        "prices_include_tax": True,
        "payment_providers": ["stripe", "manual"],
        "shipping_providers": ["builtin"],
    }
    return R.Region(**(base | fields))


def stamp(value: datetime) -> Timestamp:
    out = Timestamp()
    out.FromDatetime(value)
    return out


async def variant(db: Database, **prices: int) -> str:
    uid = uuid.uuid4().hex[:10]
    product_id, variant_id = new_id("prod", NOW), new_id("var", NOW)
    async with db.transaction() as s:
        s.add(
            ProductRow(
                id=product_id, title=f"P {uid}", slug=f"p-{uid}", description="", status="active", kind="physical",
                options=[], images=[], vendor="", seo_title="", seo_description="", extra={}, revision=1,
                created_at=NOW, updated_at=NOW, published_at=NOW,
            )
        )  # fmt: skip
        await s.flush()
        s.add(
            VariantRow(
                id=variant_id, product_id=product_id, title="", sku=None, barcode="", option_values={},
                compare_at_prices=[], inventory_policy="deny", manage_inventory=False, inventory_quantity=0,
                weight_grams=0, length_mm=0, width_mm=0, height_mm=0, requires_shipping=True, position=0,
                created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        await s.flush()
        s.add_all(VariantPriceRow(variant_id=variant_id, currency_code=c, amount=a) for c, a in prices.items())
    return variant_id


# -- regions ----------------------------------------------------------------------------
async def test_create_region_stores_everything_and_records_event(regions: RegionService, db: Database) -> None:
    de, fr = await free_countries(db, 2)
    created = await regions.create_region(region([fr, de], metadata={"k": "v"}))
    assert created.name == f"regions/{created.id}" and created.id.startswith("reg_")
    assert list(created.countries) == sorted([de, fr])
    assert (created.currency_code, created.prices_include_tax, created.tax_provider) == ("EUR", True, "builtin")
    assert list(created.payment_providers) == ["stripe", "manual"] and list(created.shipping_providers) == ["builtin"]
    assert created.etag == "1" and dict(created.metadata) == {"k": "v"}
    assert await regions.get_region(created.name) == created
    assert [t for t, _ in await events_for(db, created.name)] == ["region.created"]
    async with db.read() as s:
        info = await RegionDirectory().get(s, created.id)
    assert info is not None and info.countries == frozenset({de, fr}) and info.payment_providers == ("stripe", "manual")


async def test_a_country_belongs_to_one_region(regions: RegionService, db: Database) -> None:
    a, b, c = await free_countries(db, 3)
    first = await regions.create_region(region([a, b]))
    err = await failure(regions.create_region(region([c, b], display_name="Other")))
    assert err.reason.name == "COUNTRY_IN_OTHER_REGION"
    assert err.metadata["countryCode"] == b and err.metadata["regionName"] == first.name
    async with db.read() as s:
        assert await RegionDirectory().for_country(s, c) is None  # nothing was written
    # Moving a country: remove it from the first region, then add it to a second one.
    moved = await regions.update_region(R.Region(name=first.name, countries=[a]), FieldMask(paths=["countries"]))
    assert list(moved.countries) == [a] and moved.etag == "2"
    second = await regions.create_region(region([b, c], display_name="Other"))
    assert sorted(second.countries) == sorted([b, c])
    # Keeping its own countries on update is no conflict.
    again = await regions.update_region(R.Region(name=second.name, countries=[c, b]), FieldMask(paths=["countries"]))
    assert sorted(again.countries) == sorted([b, c])


async def test_concurrent_regions_cannot_share_a_country(regions: RegionService, db: Database) -> None:
    (a,) = await free_countries(db, 1)
    results = await asyncio.gather(
        *(regions.create_region(region([a], display_name=f"R{i}")) for i in range(2)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, R.Region)]
    failed = [r for r in results if isinstance(r, DomainError)]
    assert len(created) == 1 and [e.reason.name for e in failed] == ["COUNTRY_IN_OTHER_REGION"]
    async with db.read() as s:
        info = await RegionDirectory().for_country(s, a)
    assert info is not None and info.id == created[0].id


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        pytest.param({"display_name": " "}, "VALIDATION_FAILED", "region.display_name", id="no-name"),
        pytest.param({"currency_code": "eur"}, "INVALID_CURRENCY", "region.currency_code", id="lower-currency"),
        pytest.param({"currency_code": "XYZ"}, "INVALID_CURRENCY", "region.currency_code", id="unknown-currency"),
        pytest.param({"countries": ["de"]}, "INVALID_COUNTRY", "region.countries[0]", id="lower-country"),
        pytest.param({"countries": ["XX"]}, "INVALID_COUNTRY", "region.countries[0]", id="unassigned-country"),
        pytest.param({"countries": ["ZW", "ZW"]}, "INVALID_COUNTRY", "region.countries[1]", id="repeated-country"),
        pytest.param(
            {"payment_providers": ["paypal"]}, "UNKNOWN_PROVIDER", "region.payment_providers[0]", id="unknown-payment"
        ),
        pytest.param(
            {"shipping_providers": ["Bad Code"]}, "UNKNOWN_PROVIDER", "region.shipping_providers[0]", id="bad-code"
        ),
        pytest.param(
            {"shipping_providers": ["ups", "ups"]}, "UNKNOWN_PROVIDER", "region.shipping_providers[1]", id="repeated"
        ),
        pytest.param({"tax_provider": "avalara"}, "UNKNOWN_PROVIDER", "region.tax_provider", id="unknown-tax"),
    ],
)
async def test_region_validation(
    regions: RegionService, db: Database, fields: dict[str, Any], reason: str, field: str
) -> None:
    err = await failure(regions.create_region(region(**fields)))
    assert (err.reason.name, [v.field for v in err.violations]) == (reason, [field])


async def test_different_problems_are_reported_together(regions: RegionService) -> None:
    err = await failure(regions.create_region(region(["XX"], currency_code="", payment_providers=["paypal"])))
    assert err.reason.name == "VALIDATION_FAILED"
    assert [v.field for v in err.violations] == [
        "region.currency_code",
        "region.countries[0]",
        "region.payment_providers[0]",
    ]


async def test_providers_are_only_checked_for_form_when_none_is_installed(db: Database, clock: FrozenClock) -> None:
    service = RegionService(db, clock, PageTokens(b"r" * 32))
    created = await service.create_region(region([], payment_providers=["paypal"], shipping_providers=["dhl"]))
    assert list(created.payment_providers) == ["paypal"]


async def test_update_region_with_mask_etag_and_event(regions: RegionService, db: Database, clock: FrozenClock) -> None:
    created = await regions.create_region(region([]))
    clock.advance(60)
    change = R.Region(name=created.name, display_name="Eurozone", prices_include_tax=False, etag="1")
    updated = await regions.update_region(change, FieldMask(paths=["display_name", "prices_include_tax"]))
    assert (updated.display_name, updated.prices_include_tax, updated.currency_code) == ("Eurozone", False, "EUR")
    assert updated.etag == "2" and updated.update_time.ToDatetime(tzinfo=UTC) == NOW + timedelta(minutes=1)
    events = await events_for(db, created.name)
    assert [t for t, _ in events] == ["region.created", "region.updated"]
    assert events[1][1]["changed"] == ["display_name", "prices_include_tax"]
    stale = await failure(regions.update_region(change, FieldMask(paths=["display_name"])))
    assert stale.reason.name == "ETAG_MISMATCH"
    bad_mask = await failure(regions.update_region(change, FieldMask(paths=["id"])))
    assert bad_mask.reason.name == "INVALID_FIELD_MASK"
    # An empty mask updates the populated fields only.
    only_name = await regions.update_region(R.Region(name=created.name, display_name="EU"), FieldMask())
    assert (only_name.display_name, only_name.prices_include_tax, list(only_name.payment_providers)) == (
        "EU", False, ["stripe", "manual"],
    )  # fmt: skip


async def test_delete_region_frees_its_countries(regions: RegionService, db: Database) -> None:
    (a,) = await free_countries(db, 1)
    created = await regions.create_region(region([a]))
    await regions.delete_region(created.name)
    assert (await failure(regions.get_region(created.name))).reason.name == "REGION_NOT_FOUND"
    assert (await failure(regions.delete_region(created.name))).reason.name == "REGION_NOT_FOUND"
    assert [t for t, _ in await events_for(db, created.name)] == ["region.created", "region.deleted"]
    assert list((await regions.create_region(region([a]))).countries) == [a]
    assert (await failure(regions.get_region("regions/nope"))).reason.name == "INVALID_RESOURCE_NAME"


async def test_a_region_in_use_is_not_deleted(regions: RegionService, db: Database) -> None:
    created = await regions.create_region(region())
    seen: list[str] = []

    async def carts(session: AsyncSession, region_id: str) -> str | None:
        seen.append(region_id)
        return "2 carts" if region_id == created.id else None

    regions.add_usage(carts)
    err = await failure(regions.delete_region(created.name))
    assert (err.reason.name, err.metadata["usedBy"], seen) == ("REGION_IN_USE", "2 carts", [created.id])
    assert (await regions.get_region(created.name)) == created
    other = await regions.create_region(region())
    await regions.delete_region(other.name)


async def test_list_regions_filters_and_pages(regions: RegionService, db: Database, clock: FrozenClock) -> None:
    currency = "ISK"  # a currency no other test uses for regions
    a, b = await free_countries(db, 2)
    first = await regions.create_region(region([a], currency_code=currency))
    clock.advance(1)  # ids sort by creation time, to the millisecond
    second = await regions.create_region(region([b], currency_code=currency))
    page = await regions.list_regions(R.ListRegionsRequest(currency_code=currency, page_size=1))
    assert [r.name for r in page.regions] == [first.name] and page.total_size >= 2 and page.next_page_token
    rest = await regions.list_regions(
        R.ListRegionsRequest(currency_code=currency, page_size=1, page_token=page.next_page_token)
    )
    assert [r.name for r in rest.regions] == [second.name]
    by_country = await regions.list_regions(R.ListRegionsRequest(country_code=b.lower()))
    assert [r.name for r in by_country.regions] == [second.name] and by_country.total_size == 1
    err = await failure(regions.list_regions(R.ListRegionsRequest(country_code="Q1")))
    assert err.reason.name == "INVALID_COUNTRY"
    changed = await failure(regions.list_regions(R.ListRegionsRequest(page_token=page.next_page_token)))
    assert changed.reason.name == "INVALID_PAGE_TOKEN"


# -- price lists ------------------------------------------------------------------------
async def test_price_list_lifecycle_drives_resolution(
    lists: PriceListService, db: Database, clock: FrozenClock
) -> None:
    var = await variant(db, USD=2500, EUR=2300)
    created = await lists.create_price_list(
        R.PriceList(
            title="Summer sale",
            prices=[R.PriceListPrice(variant_id=var, currency_code="USD", amount=1999)],
            end_time=stamp(NOW + timedelta(days=7)),
        )
    )
    assert (created.type, created.status, created.price_count, created.etag) == (
        R.PRICE_LIST_TYPE_SALE, R.PRICE_LIST_STATUS_DRAFT, 1, "1",
    )  # fmt: skip
    assert created.end_time.ToDatetime(tzinfo=UTC) == NOW + timedelta(days=7) and not created.HasField("start_time")

    async def price(currency: str = "USD") -> UnitPrice:
        async with db.read() as s:
            return (await PriceResolver(clock).unit_prices(s, [var], currency, frozenset()))[var]

    assert await price() == UnitPrice(2500, 2500, "")  # a draft never applies
    active = await lists.update_price_list(
        R.PriceList(name=created.name, status=R.PRICE_LIST_STATUS_ACTIVE), FieldMask(paths=["status"])
    )
    assert active.etag == "2" and await price() == UnitPrice(1999, 2500, created.id)
    await lists.add_prices(
        created.name,
        [
            R.PriceListPrice(variant_id=var, currency_code="USD", amount=1899),
            R.PriceListPrice(variant_id=var, currency_code="EUR", amount=1799),
        ],
    )
    assert await price() == UnitPrice(1899, 2500, created.id) and await price("EUR") == UnitPrice(
        1799, 2300, created.id
    )
    removed = await lists.remove_prices(
        created.name,
        [
            R.PriceListPriceKey(variant_id=var, currency_code="USD"),
            R.PriceListPriceKey(variant_id=var, currency_code="JPY"),
        ],
    )
    assert [(p.currency_code, p.amount) for p in removed.prices] == [("EUR", 1799)] and removed.price_count == 1
    assert await price() == UnitPrice(2500, 2500, "")
    clock.advance(days=7)
    assert await price("EUR") == UnitPrice(2300, 2300, "")  # the window has ended
    await lists.delete_price_list(created.name)
    assert (await failure(lists.get_price_list(created.name))).reason.name == "PRICE_LIST_NOT_FOUND"
    events = await events_for(db, created.name)
    assert [t for t, _ in events] == ["price_list.created", *["price_list.updated"] * 3, "price_list.deleted"]
    assert [data.get("changed") for _, data in events[1:4]] == [["status"], ["prices"], ["prices"]]
    assert "prices" not in events[0][1]["object"] and events[0][1]["object"]["priceCount"] == 1


async def test_group_restricted_override(lists: PriceListService, db: Database, clock: FrozenClock) -> None:
    var = await variant(db, USD=1000)
    group = new_id("cgrp", NOW)
    created = await lists.create_price_list(
        R.PriceList(
            title="Wholesale",
            type=R.PRICE_LIST_TYPE_OVERRIDE,
            status=R.PRICE_LIST_STATUS_ACTIVE,
            customer_group_ids=[group],
            prices=[R.PriceListPrice(variant_id=var, currency_code="USD", amount=1100)],
        )
    )
    assert list(created.customer_group_ids) == [group]
    async with db.read() as s:
        resolver = PriceResolver(clock)
        assert (await resolver.unit_prices(s, [var], "USD", frozenset()))[var].amount == 1000
        assert (await resolver.unit_prices(s, [var], "USD", frozenset({group})))[var] == UnitPrice(
            1100, 1000, created.id
        )
    listed = await lists.list_price_lists(R.ListPriceListsRequest(customer_group_id=group))
    assert [p.name for p in listed.price_lists] == [created.name] and listed.total_size == 1
    assert listed.price_lists[0].price_count == 1 and not listed.price_lists[0].prices
    typed = await lists.list_price_lists(R.ListPriceListsRequest(customer_group_id=group, type=R.PRICE_LIST_TYPE_SALE))
    assert typed.total_size == 0


@pytest.mark.parametrize(
    ("fields", "reason", "field"),
    [
        pytest.param({"title": ""}, "VALIDATION_FAILED", "price_list.title", id="no-title"),
        pytest.param({"type": 7}, "VALIDATION_FAILED", "price_list.type", id="unknown-type"),
        pytest.param({"customer_group_ids": ["grp_1"]}, "INVALID_RESOURCE_NAME", "price_list.customer_group_ids[0]", id="group"),
        pytest.param(
            {"start_time": stamp(NOW), "end_time": stamp(NOW)}, "INVALID_PRICE_LIST_WINDOW", "price_list.end_time", id="window"
        ),
        pytest.param(
            {"prices": [R.PriceListPrice(variant_id="var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", currency_code="usd", amount=1)]},
            "INVALID_CURRENCY", "price_list.prices[0].currency_code", id="currency",
        ),
        pytest.param(
            {"prices": [R.PriceListPrice(variant_id="var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", currency_code="USD", amount=-1)]},
            "INVALID_PRICE", "price_list.prices[0].amount", id="negative",
        ),
        pytest.param(
            {"prices": [R.PriceListPrice(variant_id="products/x", currency_code="USD", amount=1)]},
            "INVALID_RESOURCE_NAME", "price_list.prices[0].variant_id", id="variant-id",
        ),
        pytest.param(
            {"prices": [R.PriceListPrice(variant_id="var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", currency_code="USD", amount=1)]},
            "VARIANT_NOT_FOUND", "price_list.prices", id="unknown-variant",
        ),
    ],
)  # fmt: skip
async def test_price_list_validation(lists: PriceListService, fields: dict[str, Any], reason: str, field: str) -> None:
    err = await failure(lists.create_price_list(R.PriceList(**({"title": "T"} | fields))))
    assert (err.reason.name, [v.field for v in err.violations]) == (reason, [field])


async def test_bad_batches_change_nothing(lists: PriceListService, db: Database) -> None:
    var = await variant(db, USD=1000)
    created = await lists.create_price_list(
        R.PriceList(title="T", prices=[R.PriceListPrice(variant_id=var, currency_code="USD", amount=900)])
    )
    twice = [R.PriceListPrice(variant_id=var, currency_code="USD", amount=800)] * 2
    assert (await failure(lists.add_prices(created.name, twice))).reason.name == "INVALID_PRICE"
    unknown = [
        R.PriceListPrice(variant_id=var, currency_code="USD", amount=800),
        R.PriceListPrice(variant_id=new_id("var", NOW), currency_code="USD", amount=800),
    ]
    assert (await failure(lists.add_prices(created.name, unknown))).reason.name == "VARIANT_NOT_FOUND"
    too_many = [R.PriceListPriceKey(variant_id=var, currency_code="USD")] * 1001
    assert (await failure(lists.remove_prices(created.name, too_many))).reason.name == "VALIDATION_FAILED"
    shrink = R.PriceList(name=created.name, end_time=stamp(NOW), start_time=stamp(NOW + timedelta(days=1)))
    window = await failure(lists.update_price_list(shrink, FieldMask(paths=["start_time", "end_time"])))
    assert window.reason.name == "INVALID_PRICE_LIST_WINDOW"
    after = await lists.get_price_list(created.name)
    assert after.etag == "1" and [(p.amount) for p in after.prices] == [900]
    assert (
        await failure(lists.add_prices("priceLists/" + new_id("plist", NOW), []))
    ).reason.name == "PRICE_LIST_NOT_FOUND"


async def test_replacing_all_prices_and_groups(lists: PriceListService, db: Database) -> None:
    a, b = await variant(db, USD=1000), await variant(db, USD=2000)
    created = await lists.create_price_list(
        R.PriceList(
            title="T",
            customer_group_ids=[new_id("cgrp", NOW)],
            prices=[R.PriceListPrice(variant_id=a, currency_code="USD", amount=900)],
        )
    )
    replaced = await lists.update_price_list(
        R.PriceList(name=created.name, prices=[R.PriceListPrice(variant_id=b, currency_code="USD", amount=1500)]),
        FieldMask(paths=["prices", "customer_group_ids"]),
    )
    assert [(p.variant_id, p.amount) for p in replaced.prices] == [(b, 1500)] and not replaced.customer_group_ids
