"""The catalog service: products and variants here, categories and collections in
``taxonomy.py``. Every command is one unit of work that also appends its events to the
outbox; reads of products are cached as serialized protos per catalog generation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce import money
from rcommerce.auth.principal import Principal
from rcommerce.domain.catalog import convert, repository, rules
from rcommerce.domain.catalog.errors import (
    CATEGORY_NOT_FOUND,
    INVALID_CURRENCY,
    INVENTORY_QUANTITY_READ_ONLY,
    LAST_VARIANT,
    PRODUCT_NOT_FOUND,
    PRODUCT_SLUG_TAKEN,
    UNKNOWN_TAX_CATEGORY,
    VARIANT_NOT_FOUND,
    VARIANT_SKU_TAKEN,
    CatalogError,
)
from rcommerce.domain.catalog.models import (
    CategoryRow,
    ProductCategoryRow,
    ProductRow,
    ProductTagRow,
    VariantPriceRow,
    VariantRow,
)
from rcommerce.domain.catalog.taxonomy import TaxonomyMixin
from rcommerce.domain.inventory.models import InventoryLevelRow
from rcommerce.domain.tax.models import TaxCategoryRow
from rcommerce.errors import ETAG_MISMATCH, FieldViolation, RequestError, invalid
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import catalog_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_child_name, parse_name, variant_name
from rcommerce.pagination import fingerprint, page_size

__all__ = ["CatalogService"]

PRODUCT_PATHS = (
    "title", "slug", "description", "status", "kind", "options", "images", "categories",
    "tags", "vendor", "seo_title", "seo_description", "metadata", "tax_category",
)  # fmt: skip
VARIANT_PATHS = (
    "title", "sku", "barcode", "option_values", "prices", "compare_at_prices", "inventory_policy",
    "manage_inventory", "inventory_quantity", "weight_grams", "dimensions", "requires_shipping", "position",
)  # fmt: skip
_ACTIVE = "active"


def _visibility(principal: Principal) -> str:
    return "staff" if principal.is_staff else "store"


def _not_found(product_id: str) -> CatalogError:
    return CatalogError(PRODUCT_NOT_FOUND, f"Product products/{product_id} does not exist.", productId=product_id)


def _product_violations(p: catalog_pb2.Product, paths: Sequence[str], field: str) -> list[FieldViolation]:
    """Violations of the product's own fields named in ``paths``."""
    out: list[FieldViolation] = []
    if "title" in paths:
        out += rules.check_title(p.title, f"{field}.title")
    if "slug" in paths and p.slug:
        out += rules.check_slug(p.slug, f"{field}.slug")
    if "status" in paths:
        out += rules.check_enum(p.status, [0, *convert.STATUS_TO_DB], f"{field}.status")
    if "kind" in paths:
        out += rules.check_enum(p.kind, [0, *convert.KIND_TO_DB], f"{field}.kind")
    if "options" in paths:
        out += rules.check_options(p.options, f"{field}.options")
    if "images" in paths:
        out += [
            FieldViolation(f"{field}.images[{i}].url", "must be an http(s) URL")
            for i, image in enumerate(p.images)
            if not image.url.startswith(("https://", "http://"))
        ]
    if "tags" in paths:
        out += [
            FieldViolation(f"{field}.tags[{i}]", "must be 1 to 255 characters")
            for i, t in enumerate(p.tags)
            if not 0 < len(t.strip()) <= 255
        ]
    return out


def _variant_violations(
    v: catalog_pb2.Variant, options: Sequence[catalog_pb2.ProductOption], paths: Sequence[str], field: str
) -> list[FieldViolation]:
    out: list[FieldViolation] = []
    if "title" in paths and len(v.title) > rules.MAX_TITLE:
        out.append(FieldViolation(f"{field}.title", f"must be at most {rules.MAX_TITLE} characters"))
    if "sku" in paths and len(v.sku) > 100:
        out.append(FieldViolation(f"{field}.sku", "must be at most 100 characters"))
    if "barcode" in paths and len(v.barcode) > 100:
        out.append(FieldViolation(f"{field}.barcode", "must be at most 100 characters"))
    if "option_values" in paths:
        out += rules.check_option_values(v.option_values, options, f"{field}.option_values")
    if "inventory_policy" in paths:
        out += rules.check_enum(v.inventory_policy, [0, *convert.POLICY_TO_DB], f"{field}.inventory_policy")
    if "prices" in paths:
        rules.check_prices(v.prices, f"{field}.prices")
    if "compare_at_prices" in paths:
        rules.check_prices(v.compare_at_prices, f"{field}.compare_at_prices")
    return out


def _apply_variant(
    row: VariantRow, v: catalog_pb2.Variant, paths: Sequence[str], options: Sequence[catalog_pb2.ProductOption]
) -> None:
    """Copy the fields in ``paths`` (already validated) from ``v`` onto ``row``; prices are rows of their own."""
    for path in paths:
        if path == "title":
            row.title = v.title or rules.variant_title(v.option_values, options)
        elif path == "sku":
            row.sku = v.sku or None
        elif path == "option_values":
            row.option_values = dict(v.option_values)
            if "title" not in paths and not v.title:
                row.title = rules.variant_title(v.option_values, options)
        elif path == "compare_at_prices":
            row.compare_at_prices = convert.money_to_db(v.compare_at_prices)
        elif path == "inventory_policy":
            row.inventory_policy = convert.POLICY_TO_DB.get(v.inventory_policy, "deny")
        elif path == "dimensions":
            row.length_mm, row.width_mm, row.height_mm = (
                v.dimensions.length_mm,
                v.dimensions.width_mm,
                v.dimensions.height_mm,
            )
        elif path == "requires_shipping":
            row.requires_shipping = v.requires_shipping if v.HasField("requires_shipping") else True
        elif path in ("barcode", "manage_inventory", "inventory_quantity", "weight_grams", "position"):
            setattr(row, path, getattr(v, path))


async def _check_stock_not_in_levels(s: AsyncSession, name: str) -> None:
    """``inventory_quantity`` opens a variant's stock; once inventory keeps it per location
    (a level exists) the catalog's figure is their total, written by inventory, and setting
    it here would show stock that is not there."""
    variant_id = name.rsplit("/", 1)[-1]
    levels = select(InventoryLevelRow.variant_id).where(InventoryLevelRow.variant_id == variant_id).limit(1)
    if await s.scalar(levels) is not None:
        raise CatalogError(
            INVENTORY_QUANTITY_READ_ONLY,
            f"The stock of {name} is kept per stock location; change it with SetInventory, AdjustInventory or "
            "ReceiveInventory on its inventory.",
            variant=name, inventory=f"{name}/inventory",
        )  # fmt: skip


def _new_variant(product_id: str, v: catalog_pb2.Variant, options: Sequence[catalog_pb2.ProductOption], position: int, now: datetime,
                 *, digital: bool = False) -> VariantRow:  # fmt: skip
    row = VariantRow(
        id=new_id("var", now), product_id=product_id, title="", sku=None, barcode="", option_values={}, compare_at_prices=[],
        inventory_policy="deny", manage_inventory=False, inventory_quantity=0, weight_grams=0, length_mm=0, width_mm=0,
        height_mm=0, requires_shipping=True, position=position, created_at=now, updated_at=now,
    )  # fmt: skip
    paths = [p for p in VARIANT_PATHS if p not in ("prices", "position")]
    _apply_variant(row, v, paths, options)
    if digital and not v.HasField("requires_shipping"):
        row.requires_shipping = False
    if v.position:
        row.position = v.position
    return row


def _price_rows(variant_id: str, v: catalog_pb2.Variant) -> list[VariantPriceRow]:
    return [VariantPriceRow(variant_id=variant_id, currency_code=p.currency_code, amount=p.amount) for p in v.prices]


def _default_variant(options: Sequence[catalog_pb2.ProductOption]) -> catalog_pb2.Variant:
    # A product is sellable only through a variant; without options it is the whole product.
    return catalog_pb2.Variant(title="Default", option_values={o.name: o.values[0] for o in options if o.values})


class CatalogService(TaxonomyMixin):
    """Products, variants, categories and collections.

    Methods take request values and return proto messages; they raise :class:`CatalogError`
    or ``RequestError`` for every expected failure. Reads that depend on who is asking take
    the ``principal``: anyone but staff sees active products only, and a draft is
    PRODUCT_NOT_FOUND for them.
    """

    # -- products: reads -----------------------------------------------------------------
    async def get_product(self, name: str, principal: Principal) -> catalog_pb2.Product:
        """The product named ``name`` ("products/{id}")."""
        product_id = parse_name(name, "products", "prod")

        async def build() -> catalog_pb2.Product:
            async with self._db.read() as s:
                found = await repository.load_products(s, [product_id])
            if not found or (not principal.is_staff and found[0].status != catalog_pb2.PRODUCT_STATUS_ACTIVE):
                raise _not_found(product_id)
            return found[0]

        return await self._cached(
            f"product:{_visibility(principal)}:{product_id}", catalog_pb2.Product.FromString, build
        )

    async def lookup_product(self, slug: str, principal: Principal) -> catalog_pb2.Product:
        """The product whose slug is ``slug``."""

        async def build() -> catalog_pb2.Product:
            async with self._db.read() as s:
                product_id = await s.scalar(select(ProductRow.id).where(ProductRow.slug == slug))
                found = await repository.load_products(s, [product_id] if product_id else [])
            if not found or (not principal.is_staff and found[0].status != catalog_pb2.PRODUCT_STATUS_ACTIVE):
                raise CatalogError(PRODUCT_NOT_FOUND, f"No product has the slug {slug!r}.", slug=slug)
            return found[0]

        key = hashlib.sha256(slug.encode()).hexdigest()
        return await self._cached(f"slug:{_visibility(principal)}:{key}", catalog_pb2.Product.FromString, build)

    async def list_products(
        self, request: catalog_pb2.ListProductsRequest, principal: Principal
    ) -> catalog_pb2.ListProductsResponse:
        """One page of products matching the request's filters (see ListProductsRequest)."""
        key = hashlib.sha256(request.SerializeToString(deterministic=True)).hexdigest()
        return await self._cached(
            f"list:{_visibility(principal)}:{key}",
            catalog_pb2.ListProductsResponse.FromString,
            lambda: self._list_products(request, principal),
        )

    async def _list_products(
        self, request: catalog_pb2.ListProductsRequest, principal: Principal
    ) -> catalog_pb2.ListProductsResponse:
        size = page_size(request.page_size)
        filters_fp = f"{_visibility(principal)}:{fingerprint(request)}"
        offset = self._tokens.decode(request.page_token, filters_fp)
        rules.raise_all(rules.check_enum(request.status, [0, *convert.STATUS_TO_DB], "status"))
        order = rules.parse_order_by(request.order_by)
        if request.currency_code and not money.is_currency(request.currency_code):
            raise invalid(
                "currency_code",
                f"{request.currency_code!r} is not an ISO 4217 code such as USD",
                INVALID_CURRENCY,
                currencyCode=request.currency_code,
            )
        needs_currency = (
            request.HasField("min_price") or request.HasField("max_price") or any(f == "price" for f, _ in order)
        )
        if needs_currency and not request.currency_code:
            raise invalid("currency_code", "is required to filter or order by price")
        status = _ACTIVE if not principal.is_staff else convert.STATUS_TO_DB.get(request.status)
        if not principal.is_staff and request.status not in (0, catalog_pb2.PRODUCT_STATUS_ACTIVE):
            # Storefronts only ever see active products: asking for drafts finds none.
            return catalog_pb2.ListProductsResponse()
        async with self._db.read() as s:
            category_ids = None
            if request.category:
                category_id = parse_name(request.category, "categories", "cat", "category")
                if await s.get(CategoryRow, category_id) is None:
                    raise CatalogError(
                        CATEGORY_NOT_FOUND, f"Category {request.category} does not exist.", category=request.category
                    )
                category_ids = frozenset(await repository.descendants(s, category_id))
            collection_id = None
            if request.collection:
                collection_id = parse_name(request.collection, "collections", "col", "collection")
                await self._collection_row(s, collection_id)
            f = repository.ProductFilter(
                status=status, category_ids=category_ids, collection_id=collection_id, query=request.query.strip(),
                tag=request.tag, currency_code=request.currency_code,
                min_price=request.min_price if request.HasField("min_price") else None,
                max_price=request.max_price if request.HasField("max_price") else None, order=tuple(order),
            )  # fmt: skip
            ids, total = await repository.product_page(s, f, offset, size)
            products = await repository.load_products(s, ids)
        token = self._tokens.encode(offset + size, filters_fp) if offset + size < total else ""
        return catalog_pb2.ListProductsResponse(products=products, next_page_token=token, total_size=total)

    # -- products: writes ----------------------------------------------------------------
    async def create_product(self, product: catalog_pb2.Product, request_id: str = "") -> catalog_pb2.Product:
        """Create ``product`` with its variants (one "Default" variant when none is given).

        A non-empty ``request_id`` makes the create idempotent: a retry (sequential or
        concurrent) with the same id returns the product the first call created.
        """
        if len(request_id) > 100:
            raise invalid("request_id", "must be at most 100 characters")
        if request_id:
            existing = await self._created_by_request(request_id)
            if existing is not None:
                return existing
        violations = _product_violations(product, PRODUCT_PATHS, "product")
        for i, v in enumerate(product.variants):
            violations += _variant_violations(v, product.options, VARIANT_PATHS, f"product.variants[{i}]")
        rules.raise_all(violations)
        skus = [v.sku for v in product.variants if v.sku]
        if len(set(skus)) != len(skus):
            dup = next(s for s in skus if skus.count(s) > 1)
            raise CatalogError(
                VARIANT_SKU_TAKEN, f"SKU {dup!r} appears on two variants; give each variant its own SKU.", sku=dup
            )
        category_ids = [
            parse_name(c, "categories", "cat", f"product.categories[{i}]") for i, c in enumerate(product.categories)
        ]
        now = self._clock.now()
        try:
            return await self._insert_product(product, request_id, skus, category_ids, now)
        except (IntegrityError, CatalogError):
            # A concurrent retry with the same request_id won the race (its insert hit the
            # slug, SKU or request_id unique index first); answer with its product.
            replay = await self._created_by_request(request_id) if request_id else None
            if replay is None:
                raise
            return replay

    async def _created_by_request(self, request_id: str) -> catalog_pb2.Product | None:
        async with self._db.read() as s:
            found = (
                await s.execute(select(ProductRow.id).where(ProductRow.create_request_id == request_id))
            ).scalar_one_or_none()
            return None if found is None else await self._product_for_event(s, found)

    async def _insert_product(
        self, product: catalog_pb2.Product, request_id: str, skus: list[str], category_ids: list[str], now: datetime
    ) -> catalog_pb2.Product:
        async with self._write() as s:
            row = ProductRow(id=new_id("prod", now), revision=1, created_at=now, updated_at=now, published_at=None,
                             slug="", status="draft", kind="physical", options=[], images=[], extra={},
                             create_request_id=request_id or None)  # fmt: skip
            await self._apply_product(s, row, product, PRODUCT_PATHS, category_ids, creating=True)
            await self._check_skus(s, skus)
            variants = list(product.variants) or [_default_variant(product.options)]
            for position, v in enumerate(variants):
                variant = _new_variant(row.id, v, product.options, position, now, digital=row.kind == "digital")
                s.add(variant)
                await s.flush()
                s.add_all(_price_rows(variant.id, v))
            created = await self._product_for_event(s, row.id)
            record_event(s, "product.created", created.name, created, now)
            if row.status == _ACTIVE:
                record_event(s, "product.published", created.name, created, now)
        return created

    async def update_product(self, product: catalog_pb2.Product, update_mask: FieldMask) -> catalog_pb2.Product:
        """Change the fields in ``update_mask`` (see UpdateProductRequest); variants are untouched."""
        product_id = parse_name(product.name, "products", "prod", "product.name")
        paths = resolve_mask(update_mask, product, PRODUCT_PATHS)
        rules.raise_all(_product_violations(product, paths, "product"))
        category_ids = [
            parse_name(c, "categories", "cat", f"product.categories[{i}]") for i, c in enumerate(product.categories)
        ]
        now = self._clock.now()
        async with self._write() as s:
            row = await self._product_row(s, product_id, product.etag)
            was_published = row.published_at is not None
            if "options" in paths:
                await self._check_variants_fit(s, product_id, product.options)
            await self._apply_product(s, row, product, paths, category_ids, creating=False)
            row.revision += 1
            row.updated_at = now
            await s.flush()
            updated = await self._product_for_event(s, product_id)
            record_event(s, "product.updated", updated.name, updated, now, changed=paths)
            if row.status == _ACTIVE and not was_published:
                record_event(s, "product.published", updated.name, updated, now)
        return updated

    async def archive_product(self, name: str) -> catalog_pb2.Product:
        """Set the product's status to ARCHIVED (hidden from storefronts, kept for history)."""
        product_id = parse_name(name, "products", "prod")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._product_row(s, product_id)
            row.status, row.revision, row.updated_at = "archived", row.revision + 1, now
            await s.flush()
            archived = await self._product_for_event(s, product_id)
            record_event(s, "product.archived", archived.name, archived, now)
        return archived

    async def delete_product(self, name: str) -> None:
        """Delete the product, its variants, prices and memberships."""
        product_id = parse_name(name, "products", "prod")
        now = self._clock.now()
        async with self._write() as s:
            await self._product_row(s, product_id)
            deleted = await self._product_for_event(s, product_id)
            await s.execute(delete(ProductRow).where(ProductRow.id == product_id))
            record_event(s, "product.deleted", deleted.name, deleted, now)

    # -- variants ------------------------------------------------------------------------
    async def create_variant(self, parent: str, variant: catalog_pb2.Variant) -> catalog_pb2.Variant:
        """Add ``variant`` to the product ``parent``; appended unless ``position`` is set."""
        product_id = parse_name(parent, "products", "prod", "parent")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._product_row(s, product_id)
            options = convert.options_from_db(row.options)
            rules.raise_all(_variant_violations(variant, options, VARIANT_PATHS, "variant"))
            await self._check_skus(s, [variant.sku] if variant.sku else [])
            count = await s.scalar(
                select(func.count()).select_from(VariantRow).where(VariantRow.product_id == product_id)
            )
            new = _new_variant(product_id, variant, options, int(count or 0), now, digital=row.kind == "digital")
            s.add(new)
            await s.flush()
            s.add_all(_price_rows(new.id, variant))
            row.revision, row.updated_at = row.revision + 1, now
            created = await self._variant_for_event(s, product_id, new.id)
            record_event(s, "variant.created", created.name, created, now)
        return created

    async def update_variant(self, variant: catalog_pb2.Variant, update_mask: FieldMask) -> catalog_pb2.Variant:
        """Change the variant fields in ``update_mask`` (see UpdateVariantRequest)."""
        product_id, variant_id = parse_child_name(variant.name, "products", "prod", "variants", "var", "variant.name")
        paths = resolve_mask(update_mask, variant, VARIANT_PATHS)
        now = self._clock.now()
        async with self._write() as s:
            product = await self._product_row(s, product_id)
            row = await self._variant_row(s, product_id, variant_id)
            options = convert.options_from_db(product.options)
            rules.raise_all(_variant_violations(variant, options, paths, "variant"))
            if "sku" in paths and variant.sku and variant.sku != row.sku:
                await self._check_skus(s, [variant.sku])
            if "inventory_quantity" in paths and variant.inventory_quantity != row.inventory_quantity:
                await _check_stock_not_in_levels(s, variant.name)
            _apply_variant(row, variant, paths, options)
            row.updated_at = now
            if "prices" in paths:
                await s.execute(delete(VariantPriceRow).where(VariantPriceRow.variant_id == variant_id))
                s.add_all(_price_rows(variant_id, variant))
            product.revision, product.updated_at = product.revision + 1, now
            await s.flush()
            updated = await self._variant_for_event(s, product_id, variant_id)
            record_event(s, "variant.updated", updated.name, updated, now, changed=paths)
        return updated

    async def delete_variant(self, name: str) -> None:
        """Delete a variant; LAST_VARIANT when it is the product's only one."""
        product_id, variant_id = parse_child_name(name, "products", "prod", "variants", "var")
        now = self._clock.now()
        async with self._write() as s:
            product = await self._product_row(s, product_id)
            await self._variant_row(s, product_id, variant_id)
            count = await s.scalar(
                select(func.count()).select_from(VariantRow).where(VariantRow.product_id == product_id)
            )
            if (count or 0) <= 1:
                raise CatalogError(
                    LAST_VARIANT,
                    f"Variant {name} is the last variant of products/{product_id}; delete the product instead.",
                    variant=name,
                    productId=product_id,
                )
            deleted = await self._variant_for_event(s, product_id, variant_id)
            await s.execute(delete(VariantRow).where(VariantRow.id == variant_id))
            product.revision, product.updated_at = product.revision + 1, now
            record_event(s, "variant.deleted", deleted.name, deleted, now)

    # -- helpers -------------------------------------------------------------------------
    async def _product_row(self, s: AsyncSession, product_id: str, etag: str = "") -> ProductRow:
        row = await s.scalar(select(ProductRow).where(ProductRow.id == product_id).with_for_update())
        if row is None:
            raise _not_found(product_id)
        if etag and etag != str(row.revision):
            raise RequestError(ETAG_MISMATCH, f"Product products/{product_id} changed since etag {etag} (now {row.revision}); read it again and retry.",
                               etag=etag, currentEtag=row.revision)  # fmt: skip
        return row

    async def _variant_row(self, s: AsyncSession, product_id: str, variant_id: str) -> VariantRow:
        row = await s.get(VariantRow, variant_id)
        if row is None or row.product_id != product_id:
            name = variant_name(product_id, variant_id)
            raise CatalogError(VARIANT_NOT_FOUND, f"Variant {name} does not exist.", variant=name)
        return row

    async def _product_for_event(self, s: AsyncSession, product_id: str) -> catalog_pb2.Product:
        await s.flush()
        return (await repository.load_products(s, [product_id]))[0]

    async def _variant_for_event(self, s: AsyncSession, product_id: str, variant_id: str) -> catalog_pb2.Variant:
        product = await self._product_for_event(s, product_id)
        variant: catalog_pb2.Variant = next(v for v in product.variants if v.id == variant_id)
        return variant

    async def _check_skus(self, s: AsyncSession, skus: Sequence[str]) -> None:
        if not skus:
            return
        taken = await s.scalar(select(VariantRow.sku).where(VariantRow.sku.in_(skus)).limit(1))
        if taken is not None:
            raise CatalogError(
                VARIANT_SKU_TAKEN, f"SKU {taken!r} is already used by another variant; choose another SKU.", sku=taken
            )

    async def _check_variants_fit(
        self, s: AsyncSession, product_id: str, options: Sequence[catalog_pb2.ProductOption]
    ) -> None:
        """New options must still describe every existing variant (DECISIONS: variants are
        managed separately, so an option change cannot silently orphan one)."""
        violations: list[FieldViolation] = []
        for variant_id, values in await s.execute(
            select(VariantRow.id, VariantRow.option_values).where(VariantRow.product_id == product_id)
        ):
            for v in rules.check_option_values(values, options, "product.options"):
                violations.append(
                    FieldViolation(
                        v.field, f"variant {variant_id}: {v.description}; update or delete the variant first"
                    )
                )
        rules.raise_all(violations)

    @staticmethod
    async def _tax_category(s: AsyncSession, code: str) -> str:
        code = code.strip()
        if code and await s.scalar(select(TaxCategoryRow.id).where(TaxCategoryRow.code == code)) is None:
            raise invalid(
                "product.tax_category", f"no tax category has the code {code!r}", UNKNOWN_TAX_CATEGORY, taxCategory=code
            )
        return code

    async def _apply_product(self, s: AsyncSession, row: ProductRow, p: catalog_pb2.Product, paths: Sequence[str],
                             category_ids: list[str], *, creating: bool) -> None:  # fmt: skip
        for path in paths:
            if path in ("title", "description", "vendor", "seo_title", "seo_description"):
                setattr(row, path, getattr(p, path))
            elif path == "status":
                row.status = convert.STATUS_TO_DB.get(p.status, "draft")
                if row.status == _ACTIVE and row.published_at is None:
                    row.published_at = self._clock.now()
            elif path == "kind":
                row.kind = convert.KIND_TO_DB.get(p.kind, "physical")
            elif path == "options":
                row.options = convert.options_to_db(p.options)
            elif path == "images":
                row.images = convert.images_to_db(p.images)
            elif path == "metadata":
                row.extra = convert.struct_to_db(p.metadata)
            elif path == "tax_category":
                row.tax_category = await self._tax_category(s, p.tax_category)
        if "slug" in paths or creating:
            await self._set_product_slug(s, row, p.slug, p.title)
        if creating:
            # No mapped relationships, so the row must exist before rows that refer to it.
            s.add(row)
            await s.flush()
        if "tags" in paths:
            if not creating:
                await s.execute(delete(ProductTagRow).where(ProductTagRow.product_id == row.id))
            tags = list(dict.fromkeys(t.strip() for t in p.tags))
            s.add_all(ProductTagRow(product_id=row.id, tag=t, position=i) for i, t in enumerate(tags))
        if "categories" in paths:
            await self._set_categories(s, row.id, category_ids, creating=creating)

    async def _set_product_slug(self, s: AsyncSession, row: ProductRow, slug: str, title: str) -> None:
        if slug:
            if slug != row.slug and await s.scalar(select(ProductRow.id).where(ProductRow.slug == slug)) is not None:
                raise CatalogError(
                    PRODUCT_SLUG_TAKEN,
                    f"Another product already uses the slug {slug!r}; choose another or leave it empty.",
                    slug=slug,
                )
            row.slug = slug
        else:
            base = rules.slugify(title or row.title) or "product"
            if row.slug != base and not (row.slug.startswith(base + "-") and row.slug[len(base) + 1 :].isdigit()):
                row.slug = await repository.free_slug(s, ProductRow, base)

    async def _set_categories(
        self, s: AsyncSession, product_id: str, category_ids: list[str], *, creating: bool
    ) -> None:
        wanted = list(dict.fromkeys(category_ids))
        known = (
            set((await s.scalars(select(CategoryRow.id).where(CategoryRow.id.in_(wanted)))).all()) if wanted else set()
        )
        missing = [c for c in wanted if c not in known]
        if missing:
            raise CatalogError(
                CATEGORY_NOT_FOUND,
                f"Category categories/{missing[0]} does not exist; create it first.",
                category=f"categories/{missing[0]}",
            )
        if not creating:
            await s.execute(delete(ProductCategoryRow).where(ProductCategoryRow.product_id == product_id))
        s.add_all(ProductCategoryRow(product_id=product_id, category_id=c, position=i) for i, c in enumerate(wanted))
