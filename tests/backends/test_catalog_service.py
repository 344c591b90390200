"""CatalogService against every database in the matrix (RCOMMERCE_TEST_DATABASES).

The database is shared by the session, so each test works inside its own tag or slug
namespace (``uid``) instead of truncating tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import event, func, select

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.cache.memory import MemoryCache
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.catalog.service import CatalogService
from rcommerce.errors import DomainError
from rcommerce.events import OutboxEvent
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import common_pb2
from rcommerce.pagination import PageTokens

STAFF = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_test")
STORE = Principal(PrincipalKind.PUBLISHABLE_KEY, "apiKeys/key_pub")
ACTIVE = C.PRODUCT_STATUS_ACTIVE


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def catalog(db: Database, clock: FrozenClock) -> CatalogService:
    return CatalogService(db, MemoryCache(), clock, PageTokens(b"t" * 32))


@pytest.fixture
def uid() -> str:
    return uuid.uuid4().hex[:10]


def usd(amount: int) -> common_pb2.Money:
    return common_pb2.Money(currency_code="USD", amount=amount)


def tee(uid: str, label: str = "Blue Tee", **fields: Any) -> C.Product:
    """A product with Size/Color options and two variants, tagged ``uid``."""
    product = C.Product(
        title=f"{label} {uid}",
        options=[C.ProductOption(name="Size", values=["S", "M"]), C.ProductOption(name="Color", values=["Black"])],
        tags=[uid],
        variants=[
            C.Variant(sku=f"{uid}-{label}-S", option_values={"Size": "S", "Color": "Black"}, prices=[usd(1000)]),
            C.Variant(sku=f"{uid}-{label}-M", option_values={"Size": "M", "Color": "Black"}, prices=[usd(1200)]),
        ],
    )
    for key, value in fields.items():
        if isinstance(value, list):
            getattr(product, key).extend(value)
        else:
            setattr(product, key, value)
    return product


async def reason_of(awaitable: Any) -> str:
    with pytest.raises(DomainError) as err:
        await awaitable
    return err.value.reason.name


async def events_for(db: Database, subject: str) -> list[str]:
    async with db.read() as s:
        rows = await s.scalars(select(OutboxEvent.type).where(OutboxEvent.subject == subject).order_by(OutboxEvent.seq))
        return list(rows)


# -- products -------------------------------------------------------------------------
async def test_create_product_applies_defaults_and_records_event(
    catalog: CatalogService, db: Database, uid: str
) -> None:
    created = await catalog.create_product(C.Product(title=f"Plain Mug {uid}"))
    assert created.slug == f"plain-mug-{uid}"
    assert created.status == C.PRODUCT_STATUS_DRAFT and created.kind == C.PRODUCT_KIND_PHYSICAL
    assert [v.title for v in created.variants] == ["Default"]
    assert created.variants[0].inventory_policy == C.INVENTORY_POLICY_DENY
    assert created.variants[0].name == f"{created.name}/variants/{created.variants[0].id}"
    assert created.etag == "1" and not created.HasField("publish_time")
    assert await events_for(db, created.name) == ["product.created"]
    assert await catalog.get_product(created.name, STAFF) == created


async def test_variant_titles_derive_from_option_values(catalog: CatalogService, uid: str) -> None:
    created = await catalog.create_product(tee(uid))
    assert [v.title for v in created.variants] == ["S / Black", "M / Black"]
    assert [v.prices[0].amount for v in created.variants] == [1000, 1200]


async def test_slugs_are_unique(catalog: CatalogService, uid: str) -> None:
    first = await catalog.create_product(C.Product(title=f"Señor Café {uid}"))
    second = await catalog.create_product(C.Product(title=f"Señor Café {uid}"))
    assert (first.slug, second.slug) == (f"senor-cafe-{uid}", f"senor-cafe-{uid}-2")
    assert await reason_of(catalog.create_product(C.Product(title="x", slug=first.slug))) == "PRODUCT_SLUG_TAKEN"


async def test_taken_sku_fails_without_writing_anything(catalog: CatalogService, uid: str) -> None:
    await catalog.create_product(tee(uid))
    clash = tee(uid, label="Other")
    clash.variants[1].sku = f"{uid}-Blue Tee-S"
    assert await reason_of(catalog.create_product(clash)) == "VARIANT_SKU_TAKEN"
    page = await catalog.list_products(C.ListProductsRequest(tag=uid), STAFF)
    assert [p.title for p in page.products] == [f"Blue Tee {uid}"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        pytest.param({"title": ""}, "VALIDATION_FAILED", id="title-required"),
        pytest.param({"title": "x" * 256}, "VALIDATION_FAILED", id="title-too-long"),
        pytest.param({"status": 7}, "VALIDATION_FAILED", id="unknown-status"),
        pytest.param({"slug": "Not A Slug"}, "VALIDATION_FAILED", id="bad-slug"),
        pytest.param(
            {"categories": ["collections/col_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"]},
            "INVALID_RESOURCE_NAME",
            id="wrong-kind-of-name",
        ),
        pytest.param(
            {"categories": ["categories/cat_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"]}, "CATEGORY_NOT_FOUND", id="unknown-category"
        ),
    ],
)
async def test_create_product_validation(
    catalog: CatalogService, uid: str, change: dict[str, Any], reason: str
) -> None:
    assert await reason_of(catalog.create_product(tee(uid, **change))) == reason


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        pytest.param(
            C.Variant(option_values={"Size": "XL", "Color": "Black"}), "VALIDATION_FAILED", id="unknown-value"
        ),
        pytest.param(C.Variant(option_values={"Size": "S"}), "VALIDATION_FAILED", id="missing-option"),
        pytest.param(
            C.Variant(option_values={"Size": "S", "Color": "Black", "Fit": "Slim"}),
            "VALIDATION_FAILED",
            id="extra-option",
        ),
        pytest.param(
            C.Variant(
                option_values={"Size": "S", "Color": "Black"}, prices=[common_pb2.Money(currency_code="usd", amount=1)]
            ),
            "INVALID_CURRENCY",
            id="lowercase-currency",
        ),
        pytest.param(
            C.Variant(option_values={"Size": "S", "Color": "Black"}, prices=[usd(-1)]),
            "INVALID_PRICE",
            id="negative-price",
        ),
        pytest.param(
            C.Variant(option_values={"Size": "S", "Color": "Black"}, prices=[usd(1), usd(2)]),
            "INVALID_PRICE",
            id="currency-twice",
        ),
        pytest.param(
            C.Variant(option_values={"Size": "S", "Color": "Black"}, inventory_policy=9),
            "VALIDATION_FAILED",
            id="unknown-policy",
        ),
    ],
)
async def test_create_variant_validation(catalog: CatalogService, uid: str, variant: C.Variant, reason: str) -> None:
    product = await catalog.create_product(tee(uid))
    assert await reason_of(catalog.create_variant(product.name, variant)) == reason


async def test_storefronts_see_active_products_only(catalog: CatalogService, uid: str) -> None:
    draft = await catalog.create_product(tee(uid, label="Draft"))
    live = await catalog.create_product(tee(uid, label="Live", status=ACTIVE))
    assert live.HasField("publish_time")
    assert await reason_of(catalog.get_product(draft.name, STORE)) == "PRODUCT_NOT_FOUND"
    assert await reason_of(catalog.lookup_product(draft.slug, STORE)) == "PRODUCT_NOT_FOUND"
    assert (await catalog.lookup_product(live.slug, STORE)).id == live.id
    store_page = await catalog.list_products(C.ListProductsRequest(tag=uid), STORE)
    assert [p.id for p in store_page.products] == [live.id]
    store_drafts = await catalog.list_products(C.ListProductsRequest(tag=uid, status=C.PRODUCT_STATUS_DRAFT), STORE)
    assert list(store_drafts.products) == []
    staff_page = await catalog.list_products(C.ListProductsRequest(tag=uid, status=C.PRODUCT_STATUS_DRAFT), STAFF)
    assert [p.id for p in staff_page.products] == [draft.id]


async def test_update_product_with_mask_etag_and_publish(catalog: CatalogService, db: Database, uid: str) -> None:
    product = await catalog.create_product(tee(uid))
    change = C.Product(name=product.name, title="Renamed", status=ACTIVE, vendor="ignored", etag=product.etag)
    updated = await catalog.update_product(change, FieldMask(paths=["title", "status"]))
    assert (updated.title, updated.vendor, updated.slug, updated.etag) == ("Renamed", "", product.slug, "2")
    assert updated.HasField("publish_time")
    assert await events_for(db, product.name) == ["product.created", "product.updated", "product.published"]
    assert (await catalog.get_product(product.name, STORE)).title == "Renamed"  # cache moved on
    stale = C.Product(name=product.name, title="Again", etag=product.etag)
    assert await reason_of(catalog.update_product(stale, FieldMask())) == "ETAG_MISMATCH"
    assert await reason_of(catalog.update_product(stale, FieldMask(paths=["variants"]))) == "INVALID_FIELD_MASK"


async def test_empty_mask_updates_populated_fields(catalog: CatalogService, uid: str) -> None:
    product = await catalog.create_product(tee(uid, vendor="Acme"))
    updated = await catalog.update_product(C.Product(name=product.name, seo_title="SEO"), FieldMask())
    assert (updated.seo_title, updated.vendor, updated.title) == ("SEO", "Acme", product.title)


async def test_options_change_must_keep_variants_consistent(catalog: CatalogService, uid: str) -> None:
    product = await catalog.create_product(tee(uid))
    shrink = C.Product(name=product.name, options=[C.ProductOption(name="Size", values=["S"])])
    assert await reason_of(catalog.update_product(shrink, FieldMask(paths=["options"]))) == "VALIDATION_FAILED"
    grow = C.Product(
        name=product.name,
        options=[C.ProductOption(name="Size", values=["S", "M", "L"]), C.ProductOption(name="Color", values=["Black"])],
    )
    assert len((await catalog.update_product(grow, FieldMask(paths=["options"]))).options[0].values) == 3


async def test_variant_lifecycle(catalog: CatalogService, db: Database, uid: str) -> None:
    product = await catalog.create_product(C.Product(title=f"Poster {uid}"))
    extra = await catalog.create_variant(product.name, C.Variant(sku=f"{uid}-big", prices=[usd(500)]))
    assert extra.position == 1 and extra.title == "Default"
    changed = await catalog.update_variant(
        C.Variant(name=extra.name, prices=[usd(700), common_pb2.Money(currency_code="JPY", amount=90)]),
        FieldMask(paths=["prices"]),
    )
    assert [(p.currency_code, p.amount) for p in changed.prices] == [("JPY", 90), ("USD", 700)]
    assert changed.sku == f"{uid}-big"
    assert await reason_of(catalog.create_variant(product.name, C.Variant(sku=f"{uid}-big"))) == "VARIANT_SKU_TAKEN"
    await catalog.delete_variant(product.variants[0].name)
    assert await reason_of(catalog.delete_variant(extra.name)) == "LAST_VARIANT"
    assert await reason_of(catalog.delete_variant(product.variants[0].name)) == "VARIANT_NOT_FOUND"
    assert await events_for(db, extra.name) == ["variant.created", "variant.updated"]
    assert (await catalog.get_product(product.name, STAFF)).etag == "4"


async def test_archive_and_delete(catalog: CatalogService, db: Database, uid: str) -> None:
    product = await catalog.create_product(tee(uid, status=ACTIVE))
    assert (await catalog.archive_product(product.name)).status == C.PRODUCT_STATUS_ARCHIVED
    assert await reason_of(catalog.get_product(product.name, STORE)) == "PRODUCT_NOT_FOUND"
    await catalog.delete_product(product.name)
    assert await reason_of(catalog.get_product(product.name, STAFF)) == "PRODUCT_NOT_FOUND"
    assert await events_for(db, product.name) == [
        "product.created",
        "product.published",
        "product.archived",
        "product.deleted",
    ]
    await catalog.create_product(tee(uid))  # its SKUs are free again


# -- listing --------------------------------------------------------------------------
async def test_list_filters_order_and_pages(catalog: CatalogService, clock: FrozenClock, uid: str) -> None:
    made = []
    for i, (title, price) in enumerate([("Alpha", 3000), ("Beta", 1000), ("Gamma 100%", 2000)]):
        product = tee(uid, label=title, description="plain" if i else "under_score")
        for v in product.variants:
            v.prices[0].amount = price
        made.append(await catalog.create_product(product))
        clock.advance(1)

    async def titles(**fields: Any) -> list[str]:
        page = await catalog.list_products(C.ListProductsRequest(tag=uid, **fields), STAFF)
        return [p.title.removesuffix(f" {uid}") for p in page.products]

    assert await titles() == ["Gamma 100%", "Beta", "Alpha"]
    assert await titles(order_by="title") == ["Alpha", "Beta", "Gamma 100%"]
    assert await titles(order_by="price desc, title", currency_code="USD") == ["Alpha", "Gamma 100%", "Beta"]
    assert await titles(currency_code="USD", min_price=1500, max_price=2500) == ["Gamma 100%"]
    assert await titles(query="100%") == ["Gamma 100%"]
    assert await titles(query="R_SC") == ["Alpha"]
    assert await titles(query="nothing_like") == []
    assert await titles(query=uid.upper()) == ["Gamma 100%", "Beta", "Alpha"]  # matches the tag

    first = await catalog.list_products(C.ListProductsRequest(tag=uid, page_size=2, order_by="title"), STAFF)
    assert (len(first.products), first.total_size) == (2, 3) and first.next_page_token
    second = await catalog.list_products(
        C.ListProductsRequest(tag=uid, page_size=2, order_by="title", page_token=first.next_page_token), STAFF
    )
    assert [p.id for p in second.products] == [made[2].id] and second.next_page_token == ""
    other = C.ListProductsRequest(tag=uid, page_size=2, order_by="create_time", page_token=first.next_page_token)
    assert await reason_of(catalog.list_products(other, STAFF)) == "INVALID_PAGE_TOKEN"


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        pytest.param(C.ListProductsRequest(min_price=1), "VALIDATION_FAILED", id="price-without-currency"),
        pytest.param(C.ListProductsRequest(order_by="price"), "VALIDATION_FAILED", id="price-order-without-currency"),
        pytest.param(C.ListProductsRequest(order_by="color"), "INVALID_ORDER_BY", id="unknown-order-field"),
        pytest.param(C.ListProductsRequest(order_by="title sideways"), "INVALID_ORDER_BY", id="unknown-direction"),
        pytest.param(C.ListProductsRequest(currency_code="XXX"), "INVALID_CURRENCY", id="unknown-currency"),
        pytest.param(C.ListProductsRequest(page_size=-1), "INVALID_PAGE_SIZE", id="negative-page-size"),
        pytest.param(C.ListProductsRequest(page_token="garbage"), "INVALID_PAGE_TOKEN", id="garbage-token"),
        pytest.param(
            C.ListProductsRequest(category="products/prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"),
            "INVALID_RESOURCE_NAME",
            id="bad-category-name",
        ),
        pytest.param(
            C.ListProductsRequest(collection="collections/col_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"),
            "COLLECTION_NOT_FOUND",
            id="unknown-collection",
        ),
    ],
)
async def test_list_request_validation(catalog: CatalogService, request_: C.ListProductsRequest, reason: str) -> None:
    assert await reason_of(catalog.list_products(request_, STAFF)) == reason


@contextmanager
def count_queries(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def on_execute(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield statements
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", on_execute)


async def test_listing_runs_a_constant_number_of_queries(catalog: CatalogService, db: Database, uid: str) -> None:
    for i in range(6):
        await catalog.create_product(tee(uid, label=f"P{i}"))
    counts = []
    for size in (1, 6):
        with count_queries(db) as statements:
            page = await catalog.list_products(C.ListProductsRequest(tag=uid, page_size=size), STAFF)
        assert len(page.products) == size
        counts.append(len([s for s in statements if s.lstrip().upper().startswith("SELECT")]))
    assert counts[0] == counts[1] <= 8


async def test_cached_reads_skip_the_database(catalog: CatalogService, db: Database, uid: str) -> None:
    product = await catalog.create_product(tee(uid, status=ACTIVE))
    await catalog.get_product(product.name, STORE)
    await catalog.list_products(C.ListProductsRequest(tag=uid), STORE)
    with count_queries(db) as statements:
        again = await catalog.get_product(product.name, STORE)
        listed = await catalog.list_products(C.ListProductsRequest(tag=uid), STORE)
    assert (again.id, listed.products[0].id, statements) == (product.id, product.id, [])


# -- categories -----------------------------------------------------------------------
async def test_category_tree_cycles_and_delete(catalog: CatalogService, db: Database, uid: str) -> None:
    root = await catalog.create_category(C.Category(title=f"Clothing {uid}"))
    tops = await catalog.create_category(C.Category(title=f"Tops {uid}", parent=root.name))
    tees = await catalog.create_category(C.Category(title=f"Tees {uid}", parent=tops.name))
    assert tees.slug == f"tees-{uid}"
    tree = await catalog.get_category_tree(root.name)
    assert tree.roots[0].children[0].children[0].category.id == tees.id
    for parent in (root.name, tees.name):
        move = C.Category(name=root.name, parent=parent)
        assert await reason_of(catalog.update_category(move, FieldMask(paths=["parent"]))) == "CATEGORY_CYCLE"
    assert await reason_of(catalog.create_category(C.Category(title="x", slug=tees.slug))) == "CATEGORY_SLUG_TAKEN"

    product = await catalog.create_product(tee(uid, categories=[tees.name]))
    assert list(product.categories) == [tees.name]
    in_root = await catalog.list_products(C.ListProductsRequest(category=root.name), STAFF)
    assert [p.id for p in in_root.products] == [product.id]

    await catalog.delete_category(tops.name)
    assert (await catalog.get_category(tees.name)).parent == root.name
    children = await catalog.list_categories(root.name, 0, "")
    assert [c.id for c in children.categories] == [tees.id]
    assert await events_for(db, tops.name) == ["category.created", "category.deleted"]


# -- collections ----------------------------------------------------------------------
async def test_collection_membership(catalog: CatalogService, db: Database, uid: str) -> None:
    a, b, c = [await catalog.create_product(tee(uid, label=t)) for t in ("A", "B", "C")]
    col = await catalog.create_collection(C.Collection(title=f"Summer {uid}"))
    await catalog.add_collection_products(col.name, [a.name, b.name])
    moved = await catalog.add_collection_products(col.name, [c.name, b.name], position=0)
    assert moved.product_count == 3

    async def order() -> list[str]:
        page = await catalog.list_products(C.ListProductsRequest(collection=col.name), STAFF)
        return [p.id for p in page.products]

    assert await order() == [c.id, b.id, a.id]
    await catalog.reorder_collection_products(col.name, [a.name, c.name, b.name])
    assert await order() == [a.id, c.id, b.id]
    assert await reason_of(catalog.reorder_collection_products(col.name, [a.name, b.name])) == "VALIDATION_FAILED"
    assert list((await catalog.get_product(a.name, STAFF)).collections) == [col.name]
    assert (await catalog.remove_collection_products(col.name, [a.name])).product_count == 2
    assert (
        await reason_of(catalog.add_collection_products(col.name, ["products/prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"]))
        == "PRODUCT_NOT_FOUND"
    )
    renamed = await catalog.update_collection(C.Collection(name=col.name, title="Winter"), FieldMask(paths=["title"]))
    assert (renamed.title, renamed.slug) == ("Winter", col.slug)
    await catalog.delete_collection(col.name)
    assert await reason_of(catalog.get_collection(col.name)) == "COLLECTION_NOT_FOUND"
    assert list((await catalog.get_product(b.name, STAFF)).collections) == []
    assert await events_for(db, col.name) == [
        "collection.created", "collection.product_added", "collection.product_added", "collection.reordered",
        "collection.product_removed", "collection.updated", "collection.deleted",
    ]  # fmt: skip
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.subject == col.name)) == 7
