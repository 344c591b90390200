"""Catalog queries. Functions take an ``AsyncSession``, return rows or protos, never commit.

:func:`load_products` is the only way products are read: it loads any number of products
with their variants, prices, tags, categories and collections in six queries, whatever
the page size (no N+1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce import money
from rcommerce.domain.catalog import convert
from rcommerce.domain.catalog.models import (
    CategoryRow,
    CollectionProductRow,
    CollectionRow,
    ProductCategoryRow,
    ProductRow,
    ProductTagRow,
    VariantPriceRow,
    VariantRow,
)
from rcommerce.gen.v1 import catalog_pb2

__all__ = ["ProductFilter", "count_collection_products", "descendants", "free_slug", "load_products", "product_page"]

_SlugTable = type[ProductRow] | type[CategoryRow] | type[CollectionRow]


async def load_products(session: AsyncSession, ids: Sequence[str]) -> list[catalog_pb2.Product]:
    """The products with ``ids`` as protos, in the order of ``ids`` (missing ids skipped)."""
    if not ids:
        return []
    rows = {r.id: r for r in (await session.scalars(select(ProductRow).where(ProductRow.id.in_(ids)))).all()}
    variants = (
        await session.scalars(
            select(VariantRow).where(VariantRow.product_id.in_(ids)).order_by(VariantRow.position, VariantRow.id)
        )
    ).all()
    prices: dict[str, list[VariantPriceRow]] = defaultdict(list)
    price_rows = await session.scalars(
        select(VariantPriceRow)
        .join(VariantRow, VariantRow.id == VariantPriceRow.variant_id)
        .where(VariantRow.product_id.in_(ids))
    )
    for price in price_rows:
        prices[price.variant_id].append(price)
    by_product: dict[str, list[catalog_pb2.Variant]] = defaultdict(list)
    for variant in variants:
        by_product[variant.product_id].append(convert.variant_to_proto(variant, prices[variant.id]))
    tags: dict[str, list[str]] = defaultdict(list)
    for tag in await session.scalars(
        select(ProductTagRow).where(ProductTagRow.product_id.in_(ids)).order_by(ProductTagRow.position)
    ):
        tags[tag.product_id].append(tag.tag)
    categories: dict[str, list[str]] = defaultdict(list)
    category_rows = await session.scalars(
        select(ProductCategoryRow).where(ProductCategoryRow.product_id.in_(ids)).order_by(ProductCategoryRow.position)
    )
    for link in category_rows:
        categories[link.product_id].append(link.category_id)
    collections: dict[str, list[str]] = defaultdict(list)
    collection_rows = await session.scalars(
        select(CollectionProductRow)
        .where(CollectionProductRow.product_id.in_(ids))
        .order_by(CollectionProductRow.collection_id)
    )
    for member in collection_rows:
        collections[member.product_id].append(member.collection_id)
    return [
        convert.product_to_proto(rows[i], by_product[i], tags[i], categories[i], collections[i])
        for i in ids
        if i in rows
    ]


async def free_slug(session: AsyncSession, table: _SlugTable, base: str) -> str:
    """``base`` or the first of ``base-2``, ``base-3``... no row of ``table`` uses."""
    base = base or "item"
    pattern = base.replace("!", "!!").replace("%", "!%").replace("_", "!_") + "-%"
    taken = set(
        (
            await session.scalars(
                select(table.slug).where(or_(table.slug == base, table.slug.like(pattern, escape="!")))
            )
        ).all()
    )
    if base not in taken:
        return base
    n = 2
    while (candidate := f"{base[: 200 - len(str(n)) - 1]}-{n}") in taken:
        n += 1
    return candidate


async def descendants(session: AsyncSession, category_id: str) -> set[str]:
    """``category_id`` and every category below it, from one query of the whole tree."""
    children: dict[str | None, list[str]] = defaultdict(list)
    for cid, parent in await session.execute(select(CategoryRow.id, CategoryRow.parent_id)):
        children[parent].append(cid)
    found, stack = {category_id}, [category_id]
    while stack:
        for child in children[stack.pop()]:
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


async def count_collection_products(session: AsyncSession, ids: Sequence[str]) -> dict[str, int]:
    rows = await session.execute(
        select(CollectionProductRow.collection_id, func.count())
        .where(CollectionProductRow.collection_id.in_(ids))
        .group_by(CollectionProductRow.collection_id)
    )
    return {cid: int(n) for cid, n in rows}


@dataclass(frozen=True, slots=True)
class ProductFilter:
    """Validated ListProducts filters; ``category_ids`` already includes descendants."""

    status: str | None = None
    category_ids: frozenset[str] | None = None
    collection_id: str | None = None
    query: str = ""
    tag: str = ""
    currency_code: str = ""
    min_price: int | None = None
    max_price: int | None = None
    order: tuple[tuple[str, bool], ...] = (("create_time", True),)


def _like(text: str) -> str:
    return "%" + text.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_") + "%"


def _conditions(f: ProductFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.status is not None:
        where.append(ProductRow.status == f.status)
    if f.category_ids is not None:
        where.append(
            exists().where(
                ProductCategoryRow.product_id == ProductRow.id, ProductCategoryRow.category_id.in_(f.category_ids)
            )
        )
    if f.tag:
        where.append(exists().where(ProductTagRow.product_id == ProductRow.id, ProductTagRow.tag == f.tag))
    if f.query:
        pattern = _like(f.query)
        where.append(
            or_(
                *(
                    func.lower(col).like(pattern, escape="!")
                    for col in (ProductRow.title, ProductRow.description, ProductRow.vendor)
                ),
                exists().where(
                    ProductTagRow.product_id == ProductRow.id, func.lower(ProductTagRow.tag).like(pattern, escape="!")
                ),
            )
        )
    if f.min_price is not None or f.max_price is not None:
        price_ok = [VariantPriceRow.currency_code == f.currency_code]
        if f.min_price is not None:
            price_ok.append(VariantPriceRow.amount >= f.min_price)
        if f.max_price is not None:
            price_ok.append(VariantPriceRow.amount <= f.max_price)
        where.append(
            select(VariantPriceRow.variant_id)
            .join(VariantRow, VariantRow.id == VariantPriceRow.variant_id)
            .where(VariantRow.product_id == ProductRow.id, *price_ok)
            .exists()
        )
    return where


def _ordered(stmt: Select[Any], f: ProductFilter) -> Select[Any]:
    columns = {"create_time": ProductRow.created_at, "update_time": ProductRow.updated_at, "title": ProductRow.title}
    clauses = []
    for name, desc in f.order:
        if name == "price":
            # Cheapest price in the currency; products without one sort last either way.
            cheapest = (
                select(func.min(VariantPriceRow.amount))
                .join(VariantRow, VariantRow.id == VariantPriceRow.variant_id)
                .where(VariantRow.product_id == ProductRow.id, VariantPriceRow.currency_code == f.currency_code)
                .scalar_subquery()
            )
            column = func.coalesce(cheapest, -1 if desc else money.MAX_AMOUNT + 1)
            clauses.append(column.desc() if desc else column.asc())
        else:
            clauses.append(columns[name].desc() if desc else columns[name].asc())
    if f.collection_id is not None and f.order == (("create_time", True),):
        clauses = [CollectionProductRow.position.asc()]
    return stmt.order_by(*clauses, ProductRow.id.asc())


async def product_page(session: AsyncSession, f: ProductFilter, offset: int, limit: int) -> tuple[list[str], int]:
    """Ids of the products on one page and the number matching ``f`` across all pages."""
    stmt = select(ProductRow.id).where(*_conditions(f))
    if f.collection_id is not None:
        stmt = stmt.join(
            CollectionProductRow,
            and_(
                CollectionProductRow.product_id == ProductRow.id, CollectionProductRow.collection_id == f.collection_id
            ),
        )
    total = await session.scalar(select(func.count()).select_from(stmt.subquery()))
    ids = (await session.scalars(_ordered(stmt, f).offset(offset).limit(limit))).all()
    return [str(i) for i in ids], int(total or 0)
