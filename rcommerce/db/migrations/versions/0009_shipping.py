"""Shipping: profiles, zones, rate tables, rules and stored quotes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "shipping_profiles",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("product_ids", sa.JSON(), nullable=False),
        *_times(),
        sa.Column("create_request_id", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_shipping_profiles"),
        sa.UniqueConstraint("create_request_id", name="uq_shipping_profiles_create_request_id"),
    )
    op.create_table(
        "shipping_zones",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("exclude_countries", sa.JSON(), nullable=False),
        sa.Column("states", sa.JSON(), nullable=False),
        sa.Column("postal_codes", sa.JSON(), nullable=False),
        sa.Column("postal_ranges", sa.JSON(), nullable=False),
        *_times(),
        sa.Column("create_request_id", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_shipping_zones"),
        sa.UniqueConstraint("create_request_id", name="uq_shipping_zones_create_request_id"),
    )
    op.create_index("ix_shipping_zones_position", "shipping_zones", ["position"])
    op.create_table(
        "shipping_rates",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("zone_id", sa.String(40), nullable=False),
        sa.Column("profile_id", sa.String(40), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("service_code", sa.String(100), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("per_unit_amount", sa.BigInteger(), nullable=False),
        sa.Column("weight_unit", sa.String(4), nullable=False),
        sa.Column("brackets", sa.JSON(), nullable=False),
        sa.Column("tiers", sa.JSON(), nullable=False),
        sa.Column("handling_fee", sa.BigInteger(), nullable=False),
        sa.Column("fuel_surcharge_percent", sa.Numeric(9, 6), nullable=False),
        sa.Column("free_over", sa.BigInteger(), nullable=True),
        sa.Column("min_weight_grams", sa.BigInteger(), nullable=False),
        sa.Column("max_weight_grams", sa.BigInteger(), nullable=True),
        sa.Column("volumetric", sa.String(40), nullable=False),
        sa.Column("min_days", sa.Integer(), nullable=True),
        sa.Column("max_days", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *_times(),
        sa.Column("create_request_id", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_shipping_rates"),
        sa.UniqueConstraint("create_request_id", name="uq_shipping_rates_create_request_id"),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["shipping_zones.id"], name="fk_shipping_rates_zone_id_shipping_zones", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_shipping_rates_zone_id", "shipping_rates", ["zone_id"])
    op.create_index("ix_shipping_rates_profile_id", "shipping_rates", ["profile_id"])
    op.create_table(
        "shipping_rules",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("condition", sa.JSON(), nullable=False),
        sa.Column("action", sa.JSON(), nullable=False),
        *_times(),
        sa.Column("create_request_id", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_shipping_rules"),
        sa.UniqueConstraint("create_request_id", name="uq_shipping_rules_create_request_id"),
    )
    op.create_table(
        "shipping_quotes",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("cart_id", sa.String(40), nullable=False),
        sa.Column("provider", sa.String(100), nullable=False),
        sa.Column("service_code", sa.String(100), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("min_days", sa.Integer(), nullable=True),
        sa.Column("max_days", sa.Integer(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("expires_at", _UtcDateTime(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shipping_quotes"),
    )
    op.create_index("ix_shipping_quotes_cart_id", "shipping_quotes", ["cart_id"])
    op.create_index("ix_shipping_quotes_expires_at", "shipping_quotes", ["expires_at"])


def downgrade() -> None:
    op.drop_table("shipping_quotes")
    op.drop_table("shipping_rules")
    op.drop_table("shipping_rates")
    op.drop_table("shipping_zones")
    op.drop_table("shipping_profiles")
