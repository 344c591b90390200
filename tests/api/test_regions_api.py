"""Regions and price lists through the public API, each test on gRPC and on REST."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from rcommerce.db import Database
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import regions_pb2 as R
from rcommerce.gen.v1.common_pb2 import Money
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer
from tests.backends._regions_helpers import free_countries


async def error_of(client: ApiClient, method: str, request: object) -> ApiError:
    with pytest.raises(ApiError) as err:
        await client.call(method, request)
    return err.value


async def test_region_crud_and_storefront_read(client: ApiClient, server: LiveServer, db: Database) -> None:
    a, b = await free_countries(db, 2)
    created = await client.call(
        "CreateRegion",
        R.CreateRegionRequest(
            region=R.Region(
                display_name="Europe", currency_code="EUR", countries=[a, b], prices_include_tax=True,
                payment_providers=["manual"], shipping_providers=["builtin"],
            )
        ),
    )  # fmt: skip
    assert created.id.startswith("reg_") and list(created.countries) == sorted([a, b])
    assert created.tax_provider == "builtin" and created.etag == "1"

    storefront = client.with_token(await server.create_key([], kind="publishable"))
    assert await storefront.call("GetRegion", R.GetRegionRequest(name=created.name)) == created
    found = await storefront.call("ListRegions", R.ListRegionsRequest(country_code=a.lower()))
    assert [r.name for r in found.regions] == [created.name] and found.total_size == 1
    denied = await error_of(storefront, "CreateRegion", R.CreateRegionRequest(region=R.Region(display_name="x")))
    assert (denied.reason, denied.http_status in (None, 403)) == ("INSUFFICIENT_PERMISSIONS", True)

    updated = await client.call(
        "UpdateRegion",
        R.UpdateRegionRequest(
            region=R.Region(name=created.name, countries=[a], etag="1"), update_mask=FieldMask(paths=["countries"])
        ),
    )
    assert list(updated.countries) == [a] and updated.etag == "2"
    await client.call("DeleteRegion", R.DeleteRegionRequest(name=created.name))
    gone = await error_of(client, "GetRegion", R.GetRegionRequest(name=created.name))
    assert (gone.reason, gone.status) == ("REGION_NOT_FOUND", "NOT_FOUND")


async def test_a_region_with_carts_cannot_be_deleted(client: ApiClient, db: Database) -> None:
    from rcommerce.gen.v1 import carts_pb2 as K

    (country,) = await free_countries(db, 1)
    region = await client.call(
        "CreateRegion",
        R.CreateRegionRequest(region=R.Region(display_name="Busy", currency_code="EUR", countries=[country])),
    )
    await client.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=region.name)))
    refused = await error_of(client, "DeleteRegion", R.DeleteRegionRequest(name=region.name))
    assert (refused.reason, refused.http_status in (None, 422)) == ("REGION_IN_USE", True)
    assert refused.metadata is not None and refused.metadata["usedBy"] == "1 cart"
    assert await client.call("GetRegion", R.GetRegionRequest(name=region.name)) == region  # still there


async def test_region_errors_are_typed(client: ApiClient, db: Database) -> None:
    (a,) = await free_countries(db, 1)
    region = R.Region(display_name="One", currency_code="USD", countries=[a])
    await client.call("CreateRegion", R.CreateRegionRequest(region=region))
    taken = await error_of(client, "CreateRegion", R.CreateRegionRequest(region=region))
    assert (taken.reason, taken.status, taken.metadata and taken.metadata["countryCode"]) == (
        "COUNTRY_IN_OTHER_REGION", "ALREADY_EXISTS", a,
    )  # fmt: skip
    if taken.http_status is not None:
        assert taken.http_status == 409
    bad = await error_of(
        client, "CreateRegion", R.CreateRegionRequest(region=R.Region(display_name="x", currency_code="EURO"))
    )
    assert (bad.reason, bad.status, bad.field_violations) == (
        "INVALID_CURRENCY",
        "INVALID_ARGUMENT",
        ["region.currency_code"],
    )
    if bad.http_status is not None:
        assert bad.http_status == 400
    country = await error_of(
        client,
        "CreateRegion",
        R.CreateRegionRequest(region=R.Region(display_name="x", currency_code="EUR", countries=["UK"])),
    )
    assert country.reason == "INVALID_COUNTRY"


async def test_price_list_flow(client: ApiClient, server: LiveServer) -> None:
    tag = uuid.uuid4().hex[:8]
    product = await client.call(
        "CreateProduct",
        C.CreateProductRequest(
            product=C.Product(
                title=f"Mug {tag}",
                variants=[C.Variant(sku=f"MUG-{tag}", prices=[Money(currency_code="USD", amount=1500)])],
            )
        ),
    )
    var = product.variants[0].id
    created = await client.call(
        "CreatePriceList",
        R.CreatePriceListRequest(
            price_list=R.PriceList(
                title=f"Sale {tag}",
                status=R.PRICE_LIST_STATUS_ACTIVE,
                prices=[R.PriceListPrice(variant_id=var, currency_code="USD", amount=1200)],
            )
        ),
    )
    assert created.name == f"priceLists/{created.id}" and created.type == R.PRICE_LIST_TYPE_SALE
    added = await client.call(
        "AddPriceListPrices",
        R.AddPriceListPricesRequest(
            price_list=created.name,
            prices=[
                R.PriceListPrice(variant_id=var, currency_code="USD", amount=1100),
                R.PriceListPrice(variant_id=var, currency_code="EUR", amount=1000),
            ],
        ),
    )
    assert [(p.currency_code, p.amount) for p in added.prices] == [("EUR", 1000), ("USD", 1100)]
    removed = await client.call(
        "RemovePriceListPrices",
        R.RemovePriceListPricesRequest(
            price_list=created.name, prices=[R.PriceListPriceKey(variant_id=var, currency_code="EUR")]
        ),
    )
    assert removed.price_count == 1 and removed.etag == "3"
    listed = await client.call("ListPriceLists", R.ListPriceListsRequest(status=R.PRICE_LIST_STATUS_ACTIVE))
    assert created.name in [p.name for p in listed.price_lists]
    assert all(not p.prices for p in listed.price_lists)

    storefront = client.with_token(await server.create_key([], kind="publishable"))
    hidden = await error_of(storefront, "GetPriceList", R.GetPriceListRequest(name=created.name))
    assert hidden.reason == "INSUFFICIENT_PERMISSIONS"

    unknown = await error_of(
        client,
        "AddPriceListPrices",
        R.AddPriceListPricesRequest(
            price_list=created.name,
            prices=[R.PriceListPrice(variant_id="var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", currency_code="USD", amount=1)],
        ),
    )
    assert (unknown.reason, unknown.status) == ("VARIANT_NOT_FOUND", "NOT_FOUND")
    window = await error_of(
        client,
        "UpdatePriceList",
        R.UpdatePriceListRequest(
            price_list=R.PriceList(name=created.name, start_time={"seconds": 200}, end_time={"seconds": 100}),
            update_mask=FieldMask(paths=["start_time", "end_time"]),
        ),
    )
    assert (window.reason, window.status) == ("INVALID_PRICE_LIST_WINDOW", "INVALID_ARGUMENT")
    await client.call("DeletePriceList", R.DeletePriceListRequest(name=created.name))
    gone = await error_of(client, "GetPriceList", R.GetPriceListRequest(name=created.name))
    assert gone.reason == "PRICE_LIST_NOT_FOUND"
