"""Checkout attempts: one completion per cart, and the reconciler's view of authorizations.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "checkout_attempts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("cart_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("order_number", sa.String(40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("failure_reason", sa.String(100), nullable=False),
        sa.Column("failure_message", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lock_key", sa.String(255), nullable=False),
        sa.Column("locked_at", _UtcDateTime(), nullable=True),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_checkout_attempts"),
        sa.UniqueConstraint("cart_id", name="uq_checkout_attempts_cart_id"),
    )
    op.create_index("ix_checkout_attempts_status", "checkout_attempts", ["status"])


def downgrade() -> None:
    op.drop_index("ix_checkout_attempts_status", table_name="checkout_attempts")
    op.drop_table("checkout_attempts")
