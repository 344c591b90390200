"""Catalog tables: products, variants, prices, tags, categories, collections.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("images", sa.JSON(), nullable=False),
        sa.Column("vendor", sa.String(255), nullable=False),
        sa.Column("seo_title", sa.String(255), nullable=False),
        sa.Column("seo_description", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        *_times(),
        sa.Column("published_at", _UtcDateTime(), nullable=True),
        sa.Column("create_request_id", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
        sa.UniqueConstraint("slug", name="uq_products_slug"),
        sa.UniqueConstraint("create_request_id", name="uq_products_create_request_id"),
    )
    op.create_index("ix_products_status", "products", ["status"])
    op.create_index("ix_products_created_at", "products", ["created_at"])
    op.create_table(
        "variants",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("sku", sa.String(100), nullable=True),
        sa.Column("barcode", sa.String(100), nullable=False),
        sa.Column("option_values", sa.JSON(), nullable=False),
        sa.Column("compare_at_prices", sa.JSON(), nullable=False),
        sa.Column("inventory_policy", sa.String(20), nullable=False),
        sa.Column("manage_inventory", sa.Boolean(), nullable=False),
        sa.Column("inventory_quantity", sa.BigInteger(), nullable=False),
        sa.Column("weight_grams", sa.BigInteger(), nullable=False),
        sa.Column("length_mm", sa.BigInteger(), nullable=False),
        sa.Column("width_mm", sa.BigInteger(), nullable=False),
        sa.Column("height_mm", sa.BigInteger(), nullable=False),
        sa.Column("requires_shipping", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_variants"),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_variants_product_id_products", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("sku", name="uq_variants_sku"),
    )
    op.create_index("ix_variants_product_id", "variants", ["product_id"])
    op.create_table(
        "variant_prices",
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("variant_id", "currency_code", name="pk_variant_prices"),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["variants.id"], name="fk_variant_prices_variant_id_variants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_variant_prices_currency_code_amount", "variant_prices", ["currency_code", "amount"])
    op.create_table(
        "product_tags",
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("tag", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "tag", name="pk_product_tags"),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_product_tags_product_id_products", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_product_tags_tag", "product_tags", ["tag"])
    op.create_table(
        "categories",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.String(40), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("image_url", sa.Text(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["categories.id"], name="fk_categories_parent_id_categories", ondelete="SET NULL"
        ),
        sa.UniqueConstraint("slug", name="uq_categories_slug"),
    )
    op.create_index("ix_categories_parent_id", "categories", ["parent_id"])
    op.create_table(
        "product_categories",
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("category_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "category_id", name="pk_product_categories"),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_product_categories_product_id_products", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name="fk_product_categories_category_id_categories", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_product_categories_category_id", "product_categories", ["category_id"])
    op.create_table(
        "collections",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("slug", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_collections"),
        sa.UniqueConstraint("slug", name="uq_collections_slug"),
    )
    op.create_table(
        "collection_products",
        sa.Column("collection_id", sa.String(40), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("collection_id", "product_id", name="pk_collection_products"),
        sa.ForeignKeyConstraint(
            ["collection_id"],
            ["collections.id"],
            name="fk_collection_products_collection_id_collections",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name="fk_collection_products_product_id_products", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_collection_products_product_id", "collection_products", ["product_id"])


def downgrade() -> None:
    # Dropping a table drops its indexes; MySQL refuses to drop an index a foreign key uses.
    for table in (
        "collection_products",
        "collections",
        "product_categories",
        "categories",
        "product_tags",
        "variant_prices",
        "variants",
        "products",
    ):
        op.drop_table(table)
