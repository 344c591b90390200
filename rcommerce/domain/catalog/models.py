"""Tables of the catalog context.

Options, images, option values and compare-at prices are JSON on their owner's row
because nothing filters on them; prices, tags, categories and collections are rows
because list filters and ordering need them in SQL. Foreign keys cascade, so deleting a
product removes its variants, prices and memberships in the database itself.
Relationships are deliberately not mapped: every load is an explicit batch query
(see ``repository.py``), so there is no lazy I/O to forget.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = [
    "CategoryRow",
    "CollectionProductRow",
    "CollectionRow",
    "ProductCategoryRow",
    "ProductRow",
    "ProductTagRow",
    "VariantPriceRow",
    "VariantRow",
]


class ProductRow(Base):
    """A product. ``revision`` counts updates and is the etag."""

    __tablename__ = "products"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text)
    #: "draft", "active" or "archived".
    status: Mapped[str] = mapped_column(String(20), index=True)
    #: "physical", "digital" or "bundle".
    kind: Mapped[str] = mapped_column(String(20))
    #: [{"name": "Size", "values": ["S", "M"]}]
    options: Mapped[list[dict[str, Any]]]
    #: [{"url", "alt_text", "width", "height"}]
    images: Mapped[list[dict[str, Any]]]
    vendor: Mapped[str] = mapped_column(String(255))
    #: Code of a tax category ("" = standard rate); not a foreign key, checked on write.
    tax_category: Mapped[str] = mapped_column(String(64), server_default="")
    seo_title: Mapped[str] = mapped_column(String(255))
    seo_description: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata")
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
    #: The CreateProduct request_id that created this product, so a retried create
    #: returns it instead of creating a twin (AIP-155).
    create_request_id: Mapped[str | None] = mapped_column(String(100), unique=True)


class VariantRow(Base):
    """A purchasable variant. ``sku`` is NULL when unset so the unique index allows many."""

    __tablename__ = "variants"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    product_id: Mapped[PrefixedId] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    sku: Mapped[str | None] = mapped_column(String(100), unique=True)
    barcode: Mapped[str] = mapped_column(String(100))
    option_values: Mapped[dict[str, Any]]
    #: [{"currency_code": "USD", "amount": 1999}]
    compare_at_prices: Mapped[list[dict[str, Any]]]
    #: "deny" or "continue".
    inventory_policy: Mapped[str] = mapped_column(String(20))
    manage_inventory: Mapped[bool]
    inventory_quantity: Mapped[int] = mapped_column(BigInteger)
    weight_grams: Mapped[int] = mapped_column(BigInteger)
    length_mm: Mapped[int] = mapped_column(BigInteger)
    width_mm: Mapped[int] = mapped_column(BigInteger)
    height_mm: Mapped[int] = mapped_column(BigInteger)
    requires_shipping: Mapped[bool]
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VariantPriceRow(Base):
    """One price of a variant: minor units of ``currency_code``."""

    __tablename__ = "variant_prices"
    __table_args__ = (Index("ix_variant_prices_currency_code_amount", "currency_code", "amount"),)

    variant_id: Mapped[PrefixedId] = mapped_column(ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True)
    currency_code: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount: Mapped[int] = mapped_column(BigInteger)


class ProductTagRow(Base):
    """A tag of a product; ``position`` keeps the client's order."""

    __tablename__ = "product_tags"

    product_id: Mapped[PrefixedId] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class CategoryRow(Base):
    """A node of the category tree (adjacency list)."""

    __tablename__ = "categories"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("categories.id", ondelete="SET NULL"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    image_url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ProductCategoryRow(Base):
    """Product ↔ category membership; ``position`` keeps the product's order of categories."""

    __tablename__ = "product_categories"

    product_id: Mapped[PrefixedId] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[PrefixedId] = mapped_column(
        ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)


class CollectionRow(Base):
    """A manually curated collection."""

    __tablename__ = "collections"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(255))
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CollectionProductRow(Base):
    """A product in a collection at ``position`` (zero-based, dense)."""

    __tablename__ = "collection_products"

    collection_id: Mapped[PrefixedId] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[PrefixedId] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
