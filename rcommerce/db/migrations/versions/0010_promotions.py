"""Promotions: coupons, automatic promotions and usage.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _promotion_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["promotion_id"], ["promotions.id"], name=f"fk_{table}_promotion_id_promotions", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("code", sa.String(50), nullable=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("percent", sa.Numeric(9, 6), nullable=False),
        sa.Column("buy_quantity", sa.Integer(), nullable=False),
        sa.Column("get_quantity", sa.Integer(), nullable=False),
        sa.Column("starts_at", _UtcDateTime(), nullable=True),
        sa.Column("ends_at", _UtcDateTime(), nullable=True),
        sa.Column("usage_limit", sa.BigInteger(), nullable=True),
        sa.Column("usage_limit_per_customer", sa.BigInteger(), nullable=True),
        sa.Column("usage_count", sa.BigInteger(), nullable=False),
        sa.Column("new_customers_only", sa.Boolean(), nullable=False),
        sa.Column("combinable", sa.Boolean(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_promotions"),
        sa.UniqueConstraint("code", name="uq_promotions_code"),
    )
    op.create_index("ix_promotions_status", "promotions", ["status"])
    op.create_index("ix_promotions_created_at", "promotions", ["created_at"])
    op.create_table(
        "promotion_currencies",
        sa.Column("promotion_id", sa.String(40), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("max_discount", sa.BigInteger(), nullable=True),
        sa.Column("minimum_subtotal", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("promotion_id", "currency_code", name="pk_promotion_currencies"),
        _promotion_fk("promotion_currencies"),
    )
    op.create_table(
        "promotion_targets",
        sa.Column("promotion_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("target_id", sa.String(40), nullable=False),
        sa.Column("exclude", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("promotion_id", "kind", "target_id", name="pk_promotion_targets"),
        _promotion_fk("promotion_targets"),
    )
    op.create_table(
        "promotion_eligibility",
        sa.Column("promotion_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("subject_id", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("promotion_id", "kind", "subject_id", name="pk_promotion_eligibility"),
        _promotion_fk("promotion_eligibility"),
    )
    op.create_table(
        "promotion_usages",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("promotion_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("used_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_usages"),
        sa.ForeignKeyConstraint(
            ["promotion_id"], ["promotions.id"], name="fk_promotion_usages_promotion_id_promotions", ondelete="RESTRICT"
        ),
        sa.UniqueConstraint("promotion_id", "order_id", name="uq_promotion_usages_promotion_id_order_id"),
    )
    op.create_index("ix_promotion_usages_promotion_id", "promotion_usages", ["promotion_id"])
    op.create_index("ix_promotion_usages_customer_id", "promotion_usages", ["customer_id"])
    op.create_table(
        "promotion_customer_usages",
        sa.Column("promotion_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("usage_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("promotion_id", "customer_id", name="pk_promotion_customer_usages"),
        _promotion_fk("promotion_customer_usages"),
    )


def downgrade() -> None:
    op.drop_table("promotion_customer_usages")
    op.drop_index("ix_promotion_usages_customer_id", table_name="promotion_usages")
    op.drop_index("ix_promotion_usages_promotion_id", table_name="promotion_usages")
    op.drop_table("promotion_usages")
    op.drop_table("promotion_eligibility")
    op.drop_table("promotion_targets")
    op.drop_table("promotion_currencies")
    op.drop_index("ix_promotions_created_at", table_name="promotions")
    op.drop_index("ix_promotions_status", table_name="promotions")
    op.drop_table("promotions")
