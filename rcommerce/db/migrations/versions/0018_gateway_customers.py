"""Payments: gateway customers, public transaction id and receipt URL, refund notes.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_gateway_customers",
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("gateway_customer_id", sa.String(255), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "gateway", name="pk_payment_gateway_customers"),
    )
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("transaction_id", sa.String(255), nullable=False, server_default=""))
        batch.add_column(sa.Column("receipt_url", sa.String(1000), nullable=False, server_default=""))
    with op.batch_alter_table("payment_transactions") as batch:
        batch.add_column(sa.Column("note", sa.String(500), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("payment_transactions") as batch:
        batch.drop_column("note")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("receipt_url")
        batch.drop_column("transaction_id")
    op.drop_table("payment_gateway_customers")
