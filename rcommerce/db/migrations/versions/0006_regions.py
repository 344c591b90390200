"""Regions and price lists.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("prices_include_tax", sa.Boolean(), nullable=False),
        sa.Column("automatic_capture", sa.Boolean(), nullable=False),
        sa.Column("tax_provider", sa.String(100), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_regions"),
    )
    op.create_index("ix_regions_created_at", "regions", ["created_at"])
    op.create_table(
        "region_countries",
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("region_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("country_code", name="pk_region_countries"),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name="fk_region_countries_region_id_regions", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_region_countries_region_id", "region_countries", ["region_id"])
    op.create_table(
        "region_providers",
        sa.Column("region_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("provider_code", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_id", "kind", "provider_code", name="pk_region_providers"),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name="fk_region_providers_region_id_regions", ondelete="CASCADE"
        ),
    )
    op.create_table(
        "price_lists",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("starts_at", _UtcDateTime(), nullable=True),
        sa.Column("ends_at", _UtcDateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_price_lists"),
    )
    op.create_index("ix_price_lists_status", "price_lists", ["status"])
    op.create_index("ix_price_lists_created_at", "price_lists", ["created_at"])
    op.create_table(
        "price_list_prices",
        sa.Column("price_list_id", sa.String(40), nullable=False),
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("price_list_id", "variant_id", "currency_code", name="pk_price_list_prices"),
        sa.ForeignKeyConstraint(
            ["price_list_id"],
            ["price_lists.id"],
            name="fk_price_list_prices_price_list_id_price_lists",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["variants.id"], name="fk_price_list_prices_variant_id_variants", ondelete="CASCADE"
        ),
    )
    op.create_index(
        "ix_price_list_prices_variant_id_currency_code", "price_list_prices", ["variant_id", "currency_code"]
    )
    op.create_table(
        "price_list_customer_groups",
        sa.Column("price_list_id", sa.String(40), nullable=False),
        sa.Column("customer_group_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("price_list_id", "customer_group_id", name="pk_price_list_customer_groups"),
        sa.ForeignKeyConstraint(
            ["price_list_id"],
            ["price_lists.id"],
            name="fk_price_list_customer_groups_price_list_id_price_lists",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_price_list_customer_groups_customer_group_id", "price_list_customer_groups", ["customer_group_id"]
    )


def downgrade() -> None:
    # Dropping a table drops its indexes; MySQL refuses to drop an index a foreign key uses.
    for table in (
        "price_list_customer_groups",
        "price_list_prices",
        "price_lists",
        "region_providers",
        "region_countries",
        "regions",
    ):
        op.drop_table(table)
