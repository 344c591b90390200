"""Carts and their lines.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "carts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("region_id", sa.String(40), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("shipping_address", sa.JSON(), nullable=True),
        sa.Column("billing_address", sa.JSON(), nullable=True),
        sa.Column("vat_id", sa.String(32), nullable=False),
        sa.Column("coupon_codes", sa.JSON(), nullable=False),
        sa.Column("shipping_quote_id", sa.String(40), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("converted_to", sa.String(40), nullable=True),
        sa.Column("expires_at", _UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_carts"),
        sa.UniqueConstraint("token_hash", name="uq_carts_token_hash"),
    )
    op.create_index("ix_carts_customer_id_status", "carts", ["customer_id", "status"])
    op.create_index("ix_carts_expires_at", "carts", ["expires_at"])
    op.create_table(
        "cart_lines",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("cart_id", sa.String(40), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("variant_title", sa.String(255), nullable=False),
        sa.Column("sku", sa.String(100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("original_unit_price", sa.BigInteger(), nullable=False),
        sa.Column("price_list_id", sa.String(40), nullable=False),
        sa.Column("requires_shipping", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cart_lines"),
        sa.ForeignKeyConstraint(["cart_id"], ["carts.id"], name="fk_cart_lines_cart_id_carts", ondelete="CASCADE"),
        sa.UniqueConstraint("cart_id", "variant_id", name="uq_cart_lines_cart_id_variant_id"),
    )


def downgrade() -> None:
    op.drop_table("cart_lines")
    op.drop_index("ix_carts_expires_at", table_name="carts")
    op.drop_index("ix_carts_customer_id_status", table_name="carts")
    op.drop_table("carts")
