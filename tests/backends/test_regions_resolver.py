"""PriceResolver and RegionDirectory against every database in the matrix.

Rows are written directly so these tests depend only on the tables; the services that
write them are tested in ``test_regions_service.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.catalog.models import ProductRow, VariantPriceRow, VariantRow
from rcommerce.domain.price_lists.models import PriceListCustomerGroupRow, PriceListPriceRow, PriceListRow
from rcommerce.domain.price_lists.resolver import PriceResolver, UnitPrice
from rcommerce.domain.regions.directory import RegionDirectory
from rcommerce.domain.regions.models import RegionCountryRow, RegionProviderRow, RegionRow
from rcommerce.ids import new_id

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@contextmanager
def count_selects(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def on_execute(*args: Any) -> None:
        if str(args[2]).lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", on_execute)


async def make_variants(db: Database, prices: list[dict[str, int]]) -> list[str]:
    """One product with a variant per entry of ``prices`` (currency -> amount)."""
    uid = uuid.uuid4().hex[:10]
    product_id = new_id("prod", NOW)
    ids = [new_id("var", NOW) for _ in prices]
    async with db.transaction() as s:
        s.add(
            ProductRow(
                id=product_id, title=f"P {uid}", slug=f"p-{uid}", description="", status="active", kind="physical",
                options=[], images=[], vendor="", seo_title="", seo_description="", extra={}, revision=1,
                created_at=NOW, updated_at=NOW, published_at=NOW,
            )
        )  # fmt: skip
        await s.flush()
        for position, variant_id in enumerate(ids):
            s.add(
                VariantRow(
                    id=variant_id, product_id=product_id, title="", sku=None, barcode="", option_values={},
                    compare_at_prices=[], inventory_policy="deny", manage_inventory=False, inventory_quantity=0,
                    weight_grams=0, length_mm=0, width_mm=0, height_mm=0, requires_shipping=True,
                    position=position, created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
        await s.flush()
        for variant_id, amounts in zip(ids, prices, strict=True):
            for currency, amount in amounts.items():
                s.add(VariantPriceRow(variant_id=variant_id, currency_code=currency, amount=amount))
    return ids


async def make_list(
    db: Database,
    type_: str,
    prices: dict[str, int],
    *,
    currency: str = "USD",
    status: str = "active",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    groups: tuple[str, ...] = (),
) -> str:
    list_id = new_id("plist", NOW)
    async with db.transaction() as s:
        s.add(
            PriceListRow(
                id=list_id, title="L", description="", type=type_, status=status, starts_at=starts_at,
                ends_at=ends_at, extra={}, revision=1, created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        await s.flush()
        for variant_id, amount in prices.items():
            s.add(
                PriceListPriceRow(price_list_id=list_id, variant_id=variant_id, currency_code=currency, amount=amount)
            )
        for group in groups:
            s.add(PriceListCustomerGroupRow(price_list_id=list_id, customer_group_id=group))
    return list_id


async def resolve(
    db: Database, clock: FrozenClock, ids: list[str], currency: str = "USD", groups: frozenset[str] = frozenset()
) -> dict[str, UnitPrice]:
    async with db.read() as s:
        return await PriceResolver(clock).unit_prices(s, ids, currency, groups)


async def test_base_price_applies_without_lists_and_unpriced_variants_are_absent(
    db: Database, clock: FrozenClock
) -> None:
    a, b = await make_variants(db, [{"USD": 2500, "EUR": 2300}, {"EUR": 900}])
    assert await resolve(db, clock, [a, b]) == {a: UnitPrice(2500, 2500, "")}
    assert await resolve(db, clock, [a, b], "EUR") == {a: UnitPrice(2300, 2300, ""), b: UnitPrice(900, 900, "")}
    assert await resolve(db, clock, []) == {}


async def test_sale_applies_only_below_base_and_lowest_sale_wins(db: Database, clock: FrozenClock) -> None:
    a, b = await make_variants(db, [{"USD": 2500}, {"USD": 1000}])
    sale1 = await make_list(db, "sale", {a: 2000, b: 1200})
    sale2 = await make_list(db, "sale", {a: 1800})
    assert await resolve(db, clock, [a, b]) == {a: UnitPrice(1800, 2500, sale2), b: UnitPrice(1000, 1000, "")}
    assert sale1 != sale2


async def test_override_beats_a_lower_sale_and_may_exceed_base(db: Database, clock: FrozenClock) -> None:
    a, b = await make_variants(db, [{"USD": 2500}, {"USD": 1000}])
    await make_list(db, "sale", {a: 1500, b: 500})
    override = await make_list(db, "override", {a: 2200, b: 1100})
    assert await resolve(db, clock, [a, b]) == {a: UnitPrice(2200, 2500, override), b: UnitPrice(1100, 1000, override)}


async def test_only_active_lists_inside_their_window_apply(db: Database, clock: FrozenClock) -> None:
    (a,) = await make_variants(db, [{"USD": 2500}])
    await make_list(db, "sale", {a: 100}, status="draft")
    await make_list(db, "sale", {a: 200}, ends_at=NOW)  # the end is exclusive
    await make_list(db, "sale", {a: 300}, starts_at=NOW + timedelta(seconds=1), ends_at=NOW + timedelta(hours=1))
    await make_list(db, "sale", {a: 400}, currency="EUR")
    window = await make_list(db, "sale", {a: 2000}, starts_at=NOW, ends_at=NOW + timedelta(days=1))
    assert await resolve(db, clock, [a]) == {a: UnitPrice(2000, 2500, window)}
    clock.advance(days=1)
    assert await resolve(db, clock, [a]) == {a: UnitPrice(2500, 2500, "")}


async def test_group_lists_apply_only_to_members(db: Database, clock: FrozenClock) -> None:
    (a,) = await make_variants(db, [{"USD": 2500}])
    everyone = await make_list(db, "sale", {a: 2000})
    vip = await make_list(db, "sale", {a: 1500}, groups=("cgrp_vip", "cgrp_gold"))
    assert (await resolve(db, clock, [a]))[a].price_list_id == everyone
    assert (await resolve(db, clock, [a], groups=frozenset({"cgrp_other"})))[a].price_list_id == everyone
    assert (await resolve(db, clock, [a], groups=frozenset({"cgrp_gold", "cgrp_other"})))[a] == UnitPrice(
        1500, 2500, vip
    )


async def test_resolution_is_two_queries_whatever_the_number_of_variants(db: Database, clock: FrozenClock) -> None:
    ids = await make_variants(db, [{"USD": 1000 + i} for i in range(12)])
    await make_list(db, "sale", {variant_id: 500 for variant_id in ids[:6]}, groups=("cgrp_b2b",))
    await make_list(db, "override", {ids[7]: 700})
    counts = []
    for some in (ids[:1], ids):
        with count_selects(db) as statements:
            prices = await resolve(db, clock, some, groups=frozenset({"cgrp_b2b"}))
        assert len(prices) == len(some)
        counts.append(len(statements))
    assert counts == [2, 2]


async def test_region_directory_reads_countries_and_providers(db: Database) -> None:
    region_id = new_id("reg", NOW)
    country = "Z" + uuid.uuid4().hex[0].upper()  # a code no other test uses
    async with db.transaction() as s:
        s.add(
            RegionRow(
                id=region_id, name="Test", currency_code="EUR", prices_include_tax=True, automatic_capture=False,
                tax_provider="builtin", extra={}, revision=1, created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
        await s.flush()
        s.add(RegionCountryRow(country_code=country, region_id=region_id))
        s.add(RegionProviderRow(region_id=region_id, kind="payment", provider_code="test", position=1))
        s.add(RegionProviderRow(region_id=region_id, kind="payment", provider_code="manual", position=0))
        s.add(RegionProviderRow(region_id=region_id, kind="shipping", provider_code="builtin", position=0))
    directory = RegionDirectory()
    async with db.read() as s:
        info = await directory.get(s, region_id)
        assert info is not None
        assert (info.currency_code, info.countries, info.prices_include_tax) == ("EUR", frozenset({country}), True)
        assert (info.payment_providers, info.shipping_providers) == (("manual", "test"), ("builtin",))
        assert (info.automatic_capture, info.tax_provider) == (False, "builtin")
        assert await directory.for_country(s, country.lower()) == info
        assert await directory.get(s, "reg_01JA9ZQ3K8M0Q4XH7D2V5C6B8N") is None
