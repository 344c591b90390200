"""The catalog through the public API, each test on gRPC and on REST."""

from __future__ import annotations

import uuid

import pytest
from google.protobuf import field_mask_pb2
from sqlalchemy import func, select

from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1.common_pb2 import Money
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _product(
    title: str, *, status: int = C.PRODUCT_STATUS_ACTIVE, usd: int = 1999, skus: int = 1, tags: list[str] | None = None
) -> C.Product:
    tag = _tag()
    return C.Product(
        title=title,
        status=status,
        tags=tags or [],
        options=[C.ProductOption(name="Size", values=[f"S{i}" for i in range(skus)])],
        variants=[
            C.Variant(
                sku=f"SKU-{tag}-{i}",
                option_values={"Size": f"S{i}"},
                prices=[Money(currency_code="USD", amount=usd + i)],
            )
            for i in range(skus)
        ],
    )


async def _create(client: ApiClient, product: C.Product) -> C.Product:
    return await client.call("CreateProduct", C.CreateProductRequest(product=product))


async def _count(server: LiveServer, model: type, **where: str) -> int:
    async with server.app.db.read() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return int((await session.execute(query)).scalar_one())


async def test_create_get_and_lookup(client: ApiClient, server: LiveServer) -> None:
    title = f"Blue Tee {_tag()}"
    created = await _create(client, _product(title, skus=2))
    assert created.name == f"products/{created.id}" and created.id.startswith("prod_")
    assert created.slug == title.lower().replace(" ", "-")
    assert [v.title for v in created.variants] == ["S0", "S1"]
    assert created.variants[1].prices[0] == Money(currency_code="USD", amount=2000)
    fetched = await client.call("GetProduct", C.GetProductRequest(name=created.name))
    assert fetched == created
    assert await client.call("LookupProduct", C.LookupProductRequest(slug=created.slug)) == created
    assert await _count(server, OutboxEvent, subject=created.name, type="product.created") == 1


async def test_product_without_variants_gets_a_default_variant(client: ApiClient) -> None:
    created = await _create(client, C.Product(title=f"Gift card {_tag()}"))
    assert [v.title for v in created.variants] == ["Default"]
    assert created.status == C.PRODUCT_STATUS_DRAFT


async def test_update_with_field_mask_changes_only_masked_fields(client: ApiClient) -> None:
    created = await _create(client, _product(f"Mask {_tag()}"))
    patch = C.Product(name=created.name, title="Renamed", vendor="ignored because unmasked")
    updated = await client.call(
        "UpdateProduct", C.UpdateProductRequest(product=patch, update_mask=field_mask_pb2.FieldMask(paths=["title"]))
    )
    assert (updated.title, updated.vendor, updated.slug) == ("Renamed", "", created.slug)
    assert updated.etag != created.etag
    fetched = await client.call("GetProduct", C.GetProductRequest(name=created.name))
    assert fetched.title == "Renamed"  # the cache was invalidated by the write


async def test_stale_etag_is_aborted(client: ApiClient) -> None:
    created = await _create(client, _product(f"Etag {_tag()}"))
    await client.call(
        "UpdateProduct",
        C.UpdateProductRequest(
            product=C.Product(name=created.name, title="First"), update_mask=field_mask_pb2.FieldMask(paths=["title"])
        ),
    )
    with pytest.raises(ApiError) as err:
        stale = C.Product(name=created.name, title="Second", etag=created.etag)
        await client.call(
            "UpdateProduct",
            C.UpdateProductRequest(product=stale, update_mask=field_mask_pb2.FieldMask(paths=["title"])),
        )
    assert (err.value.status, err.value.reason) == ("ABORTED", "ETAG_MISMATCH")


async def test_unknown_mask_path_is_refused(client: ApiClient) -> None:
    created = await _create(client, _product(f"Bad mask {_tag()}"))
    with pytest.raises(ApiError) as err:
        await client.call(
            "UpdateProduct",
            C.UpdateProductRequest(
                product=C.Product(name=created.name), update_mask=field_mask_pb2.FieldMask(paths=["variants"])
            ),
        )
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_FIELD_MASK")


async def test_variants_lifecycle_and_last_variant(client: ApiClient) -> None:
    created = await _create(client, _product(f"Variants {_tag()}"))
    variant = await client.call(
        "CreateVariant",
        C.CreateVariantRequest(
            parent=created.name,
            variant=C.Variant(
                sku=f"V-{_tag()}", option_values={"Size": "S0"}, prices=[Money(currency_code="EUR", amount=500)]
            ),
        ),
    )
    changed = await client.call(
        "UpdateVariant",
        C.UpdateVariantRequest(
            variant=C.Variant(
                name=variant.name,
                prices=[Money(currency_code="EUR", amount=450), Money(currency_code="JPY", amount=700)],
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["prices"]),
        ),
    )
    assert {(p.currency_code, p.amount) for p in changed.prices} == {("EUR", 450), ("JPY", 700)}
    await client.call("DeleteVariant", C.DeleteVariantRequest(name=variant.name))
    with pytest.raises(ApiError) as err:
        await client.call("DeleteVariant", C.DeleteVariantRequest(name=created.variants[0].name))
    assert (err.value.status, err.value.reason) == ("FAILED_PRECONDITION", "LAST_VARIANT")
    if client.transport == "rest":
        assert err.value.http_status == 422


@pytest.mark.parametrize(
    ("variant", "reason", "field"),
    [
        pytest.param(
            C.Variant(prices=[Money(currency_code="USD", amount=-1)]),
            "INVALID_PRICE",
            "product.variants[0].prices[0].amount",
            id="negative-price",
        ),
        pytest.param(
            C.Variant(prices=[Money(currency_code="USD", amount=2**62)]),
            "INVALID_PRICE",
            "product.variants[0].prices[0].amount",
            id="overflowing-price",
        ),
        pytest.param(
            C.Variant(prices=[Money(currency_code="XYZ", amount=100)]),
            "INVALID_CURRENCY",
            "product.variants[0].prices[0].currency_code",
            id="unknown-currency",
        ),
    ],
)
async def test_bad_prices_change_nothing(
    client: ApiClient, server: LiveServer, variant: C.Variant, reason: str, field: str
) -> None:
    title = f"Bad price {_tag()}"
    with pytest.raises(ApiError) as err:
        await _create(client, C.Product(title=title, variants=[variant]))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", reason)
    assert field in (err.value.field_violations or [])
    from rcommerce.domain.catalog.models import ProductRow

    assert await _count(server, ProductRow, title=title) == 0


async def test_duplicate_sku_and_slug_conflict(client: ApiClient, server: LiveServer) -> None:
    first = await _create(client, _product(f"Dup {_tag()}"))
    clash = _product(f"Other {_tag()}")
    clash.variants[0].sku = first.variants[0].sku
    with pytest.raises(ApiError) as err:
        await _create(client, clash)
    assert (err.value.status, err.value.reason) == ("ALREADY_EXISTS", "VARIANT_SKU_TAKEN")
    if client.transport == "rest":
        assert err.value.http_status == 409
    from rcommerce.domain.catalog.models import ProductRow

    assert await _count(server, ProductRow, title=clash.title) == 0
    with pytest.raises(ApiError) as err:
        await _create(client, C.Product(title="Anything", slug=first.slug))
    assert (err.value.status, err.value.reason) == ("ALREADY_EXISTS", "PRODUCT_SLUG_TAKEN")


async def test_wrong_kind_of_id_in_the_path(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call("GetProduct", C.GetProductRequest(name="products/var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_RESOURCE_NAME")


async def test_missing_product_is_not_found(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call("GetProduct", C.GetProductRequest(name="products/prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"))
    assert (err.value.status, err.value.reason) == ("NOT_FOUND", "PRODUCT_NOT_FOUND")


async def test_publishable_key_sees_active_products_only(client: ApiClient, server: LiveServer) -> None:
    tag = _tag()
    active = await _create(client, _product(f"Shown {tag}", tags=[tag]))
    draft = await _create(client, _product(f"Hidden {tag}", status=C.PRODUCT_STATUS_DRAFT, tags=[tag]))
    storefront = client.with_token(await server.create_key([], kind="publishable"))
    listed = await storefront.call("ListProducts", C.ListProductsRequest(tag=tag))
    assert [p.name for p in listed.products] == [active.name]
    drafts = await storefront.call("ListProducts", C.ListProductsRequest(tag=tag, status=C.PRODUCT_STATUS_DRAFT))
    assert list(drafts.products) == []
    with pytest.raises(ApiError) as err:
        await storefront.call("GetProduct", C.GetProductRequest(name=draft.name))
    assert err.value.reason == "PRODUCT_NOT_FOUND"
    with pytest.raises(ApiError) as err:
        await storefront.call("CreateProduct", C.CreateProductRequest(product=C.Product(title="x")))
    assert err.value.reason == "INSUFFICIENT_PERMISSIONS"
    staff = await client.call("ListProducts", C.ListProductsRequest(tag=tag, order_by="title"))
    assert [p.name for p in staff.products] == [draft.name, active.name]


async def test_list_filters_order_and_pages(client: ApiClient) -> None:
    tag = _tag()
    made = [await _create(client, _product(f"{tag} item {i}", usd=1000 * (i + 1), tags=[tag])) for i in range(5)]
    by_price = await client.call(
        "ListProducts", C.ListProductsRequest(tag=tag, currency_code="USD", order_by="price desc")
    )
    assert [p.name for p in by_price.products] == [p.name for p in reversed(made)]
    ranged = await client.call(
        "ListProducts", C.ListProductsRequest(tag=tag, currency_code="USD", min_price=2000, max_price=4000)
    )
    assert {p.name for p in ranged.products} == {made[1].name, made[2].name, made[3].name}
    searched = await client.call("ListProducts", C.ListProductsRequest(query=f"{tag} ITEM 3"))
    assert [p.name for p in searched.products] == [made[3].name]
    seen, token, pages = [], "", 0
    while True:
        page = await client.call(
            "ListProducts", C.ListProductsRequest(tag=tag, page_size=2, page_token=token, order_by="title")
        )
        seen += [p.name for p in page.products]
        assert page.total_size == 5
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert (pages, seen) == (3, [p.name for p in made])
    with pytest.raises(ApiError) as err:
        await client.call("ListProducts", C.ListProductsRequest(tag="other", page_size=2, page_token=token or "x"))
    assert err.value.reason == "INVALID_PAGE_TOKEN"


async def test_oversized_page_is_clamped_and_negative_refused(client: ApiClient) -> None:
    page = await client.call("ListProducts", C.ListProductsRequest(page_size=5000))
    assert len(page.products) <= 100
    with pytest.raises(ApiError) as err:
        await client.call("ListProducts", C.ListProductsRequest(page_size=-5))
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "INVALID_PAGE_SIZE")
    with pytest.raises(ApiError) as err:
        await client.call("ListProducts", C.ListProductsRequest(order_by="sku"))
    assert err.value.reason == "INVALID_ORDER_BY"


async def test_categories_tree_and_filter(client: ApiClient) -> None:
    tag = _tag()
    root = await client.call("CreateCategory", C.CreateCategoryRequest(category=C.Category(title=f"Apparel {tag}")))
    child = await client.call(
        "CreateCategory", C.CreateCategoryRequest(category=C.Category(title=f"Tees {tag}", parent=root.name))
    )
    product = _product(f"Cat tee {tag}")
    product.categories.append(child.name)
    created = await _create(client, product)
    in_root = await client.call("ListProducts", C.ListProductsRequest(category=root.name))
    assert [p.name for p in in_root.products] == [created.name]
    tree = await client.call("GetCategoryTree", C.GetCategoryTreeRequest(root=root.name))
    assert [n.category.name for n in tree.roots] == [root.name]
    assert [n.category.name for n in tree.roots[0].children] == [child.name]
    with pytest.raises(ApiError) as err:
        await client.call(
            "UpdateCategory",
            C.UpdateCategoryRequest(
                category=C.Category(name=root.name, parent=child.name),
                update_mask=field_mask_pb2.FieldMask(paths=["parent"]),
            ),
        )
    assert (err.value.status, err.value.reason) == ("FAILED_PRECONDITION", "CATEGORY_CYCLE")


async def test_collections_add_reorder_remove(client: ApiClient) -> None:
    tag = _tag()
    products = [await _create(client, _product(f"{tag} col {i}")) for i in range(3)]
    collection = await client.call(
        "CreateCollection", C.CreateCollectionRequest(collection=C.Collection(title=f"Summer {tag}"))
    )
    names = [p.name for p in products]
    await client.call(
        "AddCollectionProducts", C.AddCollectionProductsRequest(collection=collection.name, products=names)
    )
    await client.call(
        "ReorderCollectionProducts",
        C.ReorderCollectionProductsRequest(collection=collection.name, products=list(reversed(names))),
    )
    listed = await client.call("ListProducts", C.ListProductsRequest(collection=collection.name))
    assert [p.name for p in listed.products] == list(reversed(names))
    after = await client.call(
        "RemoveCollectionProducts", C.RemoveCollectionProductsRequest(collection=collection.name, products=[names[0]])
    )
    assert after.product_count == 2
    with pytest.raises(ApiError) as err:
        await client.call(
            "ReorderCollectionProducts",
            C.ReorderCollectionProductsRequest(collection=collection.name, products=[names[1]]),
        )
    assert err.value.status == "INVALID_ARGUMENT"


async def test_archive_then_delete(client: ApiClient) -> None:
    created = await _create(client, _product(f"Retire {_tag()}"))
    archived = await client.call("ArchiveProduct", C.ArchiveProductRequest(name=created.name))
    assert archived.status == C.PRODUCT_STATUS_ARCHIVED
    await client.call("DeleteProduct", C.DeleteProductRequest(name=created.name))
    with pytest.raises(ApiError) as err:
        await client.call("GetProduct", C.GetProductRequest(name=created.name))
    assert err.value.reason == "PRODUCT_NOT_FOUND"


async def test_create_with_request_id_is_idempotent(client: ApiClient, server: LiveServer) -> None:
    import asyncio

    request = C.CreateProductRequest(product=_product(f"Idem {_tag()}"), request_id=f"req-{_tag()}")
    first = await client.call("CreateProduct", request)
    again = await client.call("CreateProduct", request)
    assert again.name == first.name
    concurrent = C.CreateProductRequest(product=_product(f"Race {_tag()}"), request_id=f"req-{_tag()}")
    results = await asyncio.gather(*(client.call("CreateProduct", concurrent) for _ in range(5)))
    assert len({r.name for r in results}) == 1
    from rcommerce.domain.catalog.models import ProductRow

    assert await _count(server, ProductRow, title=concurrent.product.title) == 1


async def test_tax_category_must_exist_and_shipping_defaults(client: ApiClient, server: LiveServer) -> None:
    from datetime import UTC, datetime

    from rcommerce.domain.tax.models import TaxCategoryRow
    from rcommerce.ids import new_id

    code = f"books-{_tag()}"
    unknown = _product(f"Book {_tag()}")
    unknown.tax_category = code
    with pytest.raises(ApiError) as caught:
        await _create(client, unknown)
    assert (caught.value.reason, caught.value.status) == ("UNKNOWN_TAX_CATEGORY", "INVALID_ARGUMENT")
    assert caught.value.field_violations == ["product.tax_category"]
    now = datetime.now(UTC)
    async with server.app.db.transaction() as s:
        s.add(
            TaxCategoryRow(
                id=new_id("txc", now), code=code, name="Books", description="", created_at=now, updated_at=now
            )
        )
    known = _product(f"Book {_tag()}")
    known.tax_category = code
    known.variants[0].ClearField("requires_shipping")
    created = await _create(client, known)
    assert created.tax_category == code and created.variants[0].requires_shipping  # unset: ships
    ebook = _product(f"E-book {_tag()}")
    ebook.kind = C.PRODUCT_KIND_DIGITAL
    ebook.variants[0].ClearField("requires_shipping")
    assert not (await _create(client, ebook)).variants[0].requires_shipping  # digital: does not
    ebook.variants[0].requires_shipping = True
    ebook.title, ebook.variants[0].sku = f"Boxed e-book {_tag()}", f"BOX-{_tag()}"
    assert (await _create(client, ebook)).variants[0].requires_shipping  # explicit wins
