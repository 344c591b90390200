"""Categories (a tree) and collections (curated, ordered product lists) of the catalog."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.catalog import convert, repository, rules
from rcommerce.domain.catalog._base import ServiceBase
from rcommerce.domain.catalog.errors import (
    CATEGORY_CYCLE,
    CATEGORY_NOT_FOUND,
    CATEGORY_SLUG_TAKEN,
    COLLECTION_NOT_FOUND,
    COLLECTION_SLUG_TAKEN,
    PRODUCT_NOT_FOUND,
    CatalogError,
)
from rcommerce.domain.catalog.models import CategoryRow, CollectionProductRow, CollectionRow, ProductRow
from rcommerce.errors import FieldViolation
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import catalog_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_name
from rcommerce.pagination import page_size

__all__ = ["TaxonomyMixin"]

CATEGORY_PATHS = ("title", "slug", "description", "parent", "position", "image_url")
COLLECTION_PATHS = ("title", "slug", "description")


def _own_violations(title: str, slug: str, paths: Sequence[str], field: str) -> list[FieldViolation]:
    out = rules.check_title(title, f"{field}.title") if "title" in paths else []
    if "slug" in paths and slug:
        out += rules.check_slug(slug, f"{field}.slug")
    return out


class TaxonomyMixin(ServiceBase):
    """Category and collection commands of :class:`CatalogService`."""

    # -- categories ----------------------------------------------------------------------
    async def create_category(self, category: catalog_pb2.Category) -> catalog_pb2.Category:
        """Create ``category``, under ``category.parent`` when set."""
        rules.raise_all(_own_violations(category.title, category.slug, CATEGORY_PATHS, "category"))
        now = self._clock.now()
        async with self._write() as s:
            row = CategoryRow(id=new_id("cat", now), title=category.title, slug="", description=category.description,
                              parent_id=None, position=category.position, image_url=category.image_url, created_at=now, updated_at=now)  # fmt: skip
            row.parent_id = await self._parent_id(s, category.parent, None)
            await self._set_group_slug(s, row, category.slug, category.title)
            s.add(row)
            await s.flush()
            created = convert.category_to_proto(row)
            record_event(s, "category.created", created.name, created, now)
        return created

    async def get_category(self, name: str) -> catalog_pb2.Category:
        category_id = parse_name(name, "categories", "cat")
        async with self._db.read() as s:
            return convert.category_to_proto(await self._category_row(s, category_id))

    async def list_categories(
        self, parent: str, page_size_: int, page_token: str
    ) -> catalog_pb2.ListCategoriesResponse:
        """Children of ``parent`` (roots when empty) by position, then id."""
        size = page_size(page_size_)
        offset = self._tokens.decode(page_token, f"categories:parent={parent}")
        async with self._db.read() as s:
            stmt = select(CategoryRow)
            if parent:
                parent_id = parse_name(parent, "categories", "cat", "parent")
                await self._category_row(s, parent_id)
                stmt = stmt.where(CategoryRow.parent_id == parent_id)
            else:
                stmt = stmt.where(CategoryRow.parent_id.is_(None))
            rows = (
                await s.scalars(stmt.order_by(CategoryRow.position, CategoryRow.id).offset(offset).limit(size + 1))
            ).all()
        token = self._tokens.encode(offset + size, f"categories:parent={parent}") if len(rows) > size else ""
        return catalog_pb2.ListCategoriesResponse(
            categories=[convert.category_to_proto(r) for r in rows[:size]], next_page_token=token
        )

    async def get_category_tree(self, root: str = "") -> catalog_pb2.CategoryTree:
        """The subtree under ``root`` (the whole forest when empty), from one query."""
        root_id = parse_name(root, "categories", "cat", "root") if root else None
        async with self._db.read() as s:
            rows = (await s.scalars(select(CategoryRow).order_by(CategoryRow.position, CategoryRow.id))).all()
        by_id = {r.id: r for r in rows}
        if root_id is not None and root_id not in by_id:
            raise CatalogError(CATEGORY_NOT_FOUND, f"Category {root} does not exist.", category=root)
        children: dict[str | None, list[CategoryRow]] = defaultdict(list)
        for r in rows:
            children[r.parent_id].append(r)

        def node(r: CategoryRow) -> catalog_pb2.CategoryTreeNode:
            return catalog_pb2.CategoryTreeNode(
                category=convert.category_to_proto(r), children=[node(c) for c in children[r.id]]
            )

        tops = [by_id[root_id]] if root_id is not None else children[None]
        return catalog_pb2.CategoryTree(roots=[node(r) for r in tops])

    async def update_category(self, category: catalog_pb2.Category, update_mask: FieldMask) -> catalog_pb2.Category:
        """Change the fields in ``update_mask``; CATEGORY_CYCLE when moving under itself or a descendant."""
        category_id = parse_name(category.name, "categories", "cat", "category.name")
        paths = resolve_mask(update_mask, category, CATEGORY_PATHS)
        rules.raise_all(_own_violations(category.title, category.slug, paths, "category"))
        now = self._clock.now()
        async with self._write() as s:
            row = await self._category_row(s, category_id)
            if "parent" in paths:
                row.parent_id = await self._parent_id(s, category.parent, category_id)
            for path in ("title", "description", "position", "image_url"):
                if path in paths:
                    setattr(row, path, getattr(category, path))
            if "slug" in paths:
                await self._set_group_slug(s, row, category.slug, row.title)
            row.updated_at = now
            await s.flush()
            updated = convert.category_to_proto(row)
            record_event(s, "category.updated", updated.name, updated, now, changed=paths)
        return updated

    async def delete_category(self, name: str) -> None:
        """Delete a category; its children move up to its parent, its products stay."""
        category_id = parse_name(name, "categories", "cat")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._category_row(s, category_id)
            deleted = convert.category_to_proto(row)
            await s.execute(
                update(CategoryRow)
                .where(CategoryRow.parent_id == category_id)
                .values(parent_id=row.parent_id, updated_at=now)
            )
            await s.execute(delete(CategoryRow).where(CategoryRow.id == category_id))
            record_event(s, "category.deleted", deleted.name, deleted, now)

    async def _category_row(self, s: AsyncSession, category_id: str) -> CategoryRow:
        row = await s.get(CategoryRow, category_id)
        if row is None:
            raise CatalogError(
                CATEGORY_NOT_FOUND,
                f"Category categories/{category_id} does not exist.",
                category=f"categories/{category_id}",
            )
        return row

    async def _parent_id(self, s: AsyncSession, parent: str, moving: str | None) -> str | None:
        if not parent:
            return None
        parent_id = parse_name(parent, "categories", "cat", "category.parent")
        await self._category_row(s, parent_id)
        if moving is not None and parent_id in await repository.descendants(s, moving):
            raise CatalogError(CATEGORY_CYCLE, f"Category categories/{moving} cannot move under {parent}, which is itself or one of its descendants.",
                               category=f"categories/{moving}", parent=parent)  # fmt: skip
        return parent_id

    async def _set_group_slug(self, s: AsyncSession, row: CategoryRow | CollectionRow, slug: str, title: str) -> None:
        table = type(row)
        if slug:
            if slug != row.slug and await s.scalar(select(table.id).where(table.slug == slug)) is not None:
                reason_ = CATEGORY_SLUG_TAKEN if table is CategoryRow else COLLECTION_SLUG_TAKEN
                raise CatalogError(
                    reason_,
                    f"Another {table.__tablename__[:-1]} already uses the slug {slug!r}; choose another or leave it empty.",
                    slug=slug,
                )
            row.slug = slug
            return
        base = rules.slugify(title) or "item"
        if row.slug != base and not (row.slug.startswith(base + "-") and row.slug[len(base) + 1 :].isdigit()):
            row.slug = await repository.free_slug(s, table, base)

    # -- collections ---------------------------------------------------------------------
    async def create_collection(self, collection: catalog_pb2.Collection) -> catalog_pb2.Collection:
        rules.raise_all(_own_violations(collection.title, collection.slug, COLLECTION_PATHS, "collection"))
        now = self._clock.now()
        async with self._write() as s:
            row = CollectionRow(
                id=new_id("col", now),
                title=collection.title,
                slug="",
                description=collection.description,
                created_at=now,
                updated_at=now,
            )
            await self._set_group_slug(s, row, collection.slug, collection.title)
            s.add(row)
            await s.flush()
            created = convert.collection_to_proto(row, 0)
            record_event(s, "collection.created", created.name, created, now)
        return created

    async def get_collection(self, name: str) -> catalog_pb2.Collection:
        collection_id = parse_name(name, "collections", "col")
        async with self._db.read() as s:
            return await self._collection_proto(s, await self._collection_row(s, collection_id))

    async def list_collections(self, page_size_: int, page_token: str) -> catalog_pb2.ListCollectionsResponse:
        """Collections, oldest first."""
        size = page_size(page_size_)
        offset = self._tokens.decode(page_token, "collections")
        async with self._db.read() as s:
            rows = (
                await s.scalars(select(CollectionRow).order_by(CollectionRow.id).offset(offset).limit(size + 1))
            ).all()
            counts = await repository.count_collection_products(s, [r.id for r in rows])
        token = self._tokens.encode(offset + size, "collections") if len(rows) > size else ""
        return catalog_pb2.ListCollectionsResponse(
            collections=[convert.collection_to_proto(r, counts.get(r.id, 0)) for r in rows[:size]],
            next_page_token=token,
        )

    async def update_collection(
        self, collection: catalog_pb2.Collection, update_mask: FieldMask
    ) -> catalog_pb2.Collection:
        collection_id = parse_name(collection.name, "collections", "col", "collection.name")
        paths = resolve_mask(update_mask, collection, COLLECTION_PATHS)
        rules.raise_all(_own_violations(collection.title, collection.slug, paths, "collection"))
        now = self._clock.now()
        async with self._write() as s:
            row = await self._collection_row(s, collection_id)
            for path in ("title", "description"):
                if path in paths:
                    setattr(row, path, getattr(collection, path))
            if "slug" in paths:
                await self._set_group_slug(s, row, collection.slug, row.title)
            row.updated_at = now
            await s.flush()
            updated = await self._collection_proto(s, row)
            record_event(s, "collection.updated", updated.name, updated, now, changed=paths)
        return updated

    async def delete_collection(self, name: str) -> None:
        collection_id = parse_name(name, "collections", "col")
        now = self._clock.now()
        async with self._write() as s:
            deleted = await self._collection_proto(s, await self._collection_row(s, collection_id))
            await s.execute(delete(CollectionRow).where(CollectionRow.id == collection_id))
            record_event(s, "collection.deleted", deleted.name, deleted, now)

    async def add_collection_products(
        self, collection: str, products: Sequence[str], position: int | None = None
    ) -> catalog_pb2.Collection:
        """Insert ``products`` at ``position`` (clamped; None appends); members named again move."""
        added = self._product_ids(products)

        def arrange(members: list[str]) -> list[str]:
            rest = [m for m in members if m not in set(added)]
            at = len(rest) if position is None else max(0, min(position, len(rest)))
            return rest[:at] + added + rest[at:]

        return await self._rearrange(collection, added, arrange, "collection.product_added")

    async def remove_collection_products(self, collection: str, products: Sequence[str]) -> catalog_pb2.Collection:
        """Remove ``products``; names that are not members are ignored."""
        removed = set(self._product_ids(products))
        return await self._rearrange(
            collection,
            [],
            lambda members: [m for m in members if m not in removed],
            "collection.product_removed",
            list(removed),
        )

    async def reorder_collection_products(self, collection: str, products: Sequence[str]) -> catalog_pb2.Collection:
        """Set the order; ``products`` must name every member exactly once."""
        order = self._product_ids(products)

        def arrange(members: list[str]) -> list[str]:
            if sorted(order) != sorted(members):
                rules.raise_all(
                    [
                        FieldViolation(
                            "products", "must list every product of the collection exactly once, and nothing else"
                        )
                    ]
                )
            return order

        return await self._rearrange(collection, [], arrange, "collection.reordered")

    def _product_ids(self, products: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(parse_name(p, "products", "prod", f"products[{i}]") for i, p in enumerate(products)))

    async def _rearrange(
        self,
        collection: str,
        must_exist: list[str],
        arrange: Callable[[list[str]], list[str]],
        event: str,
        removed: list[str] | None = None,
    ) -> catalog_pb2.Collection:
        collection_id = parse_name(collection, "collections", "col", "collection")
        now = self._clock.now()
        async with self._write() as s:
            row = await self._collection_row(s, collection_id)
            if must_exist:
                found = set((await s.scalars(select(ProductRow.id).where(ProductRow.id.in_(must_exist)))).all())
                missing = [p for p in must_exist if p not in found]
                if missing:
                    raise CatalogError(
                        PRODUCT_NOT_FOUND, f"Product products/{missing[0]} does not exist.", productId=missing[0]
                    )
            members = list(
                (await s.scalars(select(CollectionProductRow.product_id).where(CollectionProductRow.collection_id == collection_id)
                                 .order_by(CollectionProductRow.position))).all()
            )  # fmt: skip
            arranged: list[str] = arrange(members)
            # Positions stay dense (0..n-1), so rewriting the membership is simplest and
            # keeps the primary key free of transient duplicates.
            await s.execute(delete(CollectionProductRow).where(CollectionProductRow.collection_id == collection_id))
            s.add_all(
                CollectionProductRow(collection_id=collection_id, product_id=p, position=i)
                for i, p in enumerate(arranged)
            )
            row.updated_at = now
            await s.flush()
            result = await self._collection_proto(s, row)
            changed = must_exist or removed or arranged
            record_event(s, event, result.name, result, now, products=[f"products/{p}" for p in changed])
        return result

    async def _collection_row(self, s: AsyncSession, collection_id: str) -> CollectionRow:
        row = await s.get(CollectionRow, collection_id)
        if row is None:
            raise CatalogError(
                COLLECTION_NOT_FOUND,
                f"Collection collections/{collection_id} does not exist.",
                collection=f"collections/{collection_id}",
            )
        return row

    async def _collection_proto(self, s: AsyncSession, row: CollectionRow) -> catalog_pb2.Collection:
        count = await s.scalar(
            select(func.count()).select_from(CollectionProductRow).where(CollectionProductRow.collection_id == row.id)
        )
        return convert.collection_to_proto(row, int(count or 0))
