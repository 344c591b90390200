"""Fulfilments, order changes (returns, exchanges, claims) and refunds on orders.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def _id() -> sa.Column[str]:
    return sa.Column("id", sa.String(40), nullable=False)


def _order_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=f"fk_{table}_order_id_orders", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "fulfillments",
        _id(),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("location_id", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("tracking_number", sa.String(255), nullable=False),
        sa.Column("carrier", sa.String(100), nullable=False),
        sa.Column("tracking_url", sa.String(2048), nullable=False),
        sa.Column("cancel_reason", sa.String(255), nullable=False),
        sa.Column("shipped_at", _UtcDateTime(), nullable=True),
        sa.Column("delivered_at", _UtcDateTime(), nullable=True),
        sa.Column("cancelled_at", _UtcDateTime(), nullable=True),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fulfillments"),
        _order_fk("fulfillments"),
    )
    op.create_index("ix_fulfillments_order_id_created_at", "fulfillments", ["order_id", "created_at"])
    op.create_table(
        "fulfillment_lines",
        _id(),
        sa.Column("fulfillment_id", sa.String(40), nullable=False),
        sa.Column("line_id", sa.String(40), nullable=False),
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("stock", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fulfillment_lines"),
        sa.ForeignKeyConstraint(
            ["fulfillment_id"], ["fulfillments.id"], name="fk_fulfillment_lines_fulfillment_id_fulfillments",
            ondelete="CASCADE",
        ),
    )  # fmt: skip
    op.create_index("ix_fulfillment_lines_fulfillment_id", "fulfillment_lines", ["fulfillment_id"])
    op.create_table(
        "order_refunds",
        _id(),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("payments", sa.JSON(), nullable=False),
        sa.Column("restock", sa.Boolean(), nullable=False),
        sa.Column("location_id", sa.String(40), nullable=False),
        sa.Column("change_id", sa.String(40), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_refunds"),
        sa.UniqueConstraint("idempotency_key", name="uq_order_refunds_idempotency_key"),
        _order_fk("order_refunds"),
    )
    op.create_index("ix_order_refunds_order_id_created_at", "order_refunds", ["order_id", "created_at"])
    op.create_table(
        "order_refund_lines",
        _id(),
        sa.Column("refund_id", sa.String(40), nullable=False),
        sa.Column("line_id", sa.String(40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("restocked", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_refund_lines"),
        sa.ForeignKeyConstraint(
            ["refund_id"],
            ["order_refunds.id"],
            name="fk_order_refund_lines_refund_id_order_refunds",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_order_refund_lines_refund_id", "order_refund_lines", ["refund_id"])
    op.create_index("ix_order_refund_lines_line_id", "order_refund_lines", ["line_id"])
    op.create_table(
        "order_changes",
        _id(),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("resolution", sa.String(20), nullable=False),
        sa.Column("receive_items", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("replacements", sa.JSON(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("restocked", sa.Boolean(), nullable=False),
        sa.Column("location_id", sa.String(40), nullable=False),
        sa.Column("cancel_reason", sa.String(255), nullable=False),
        sa.Column("received_at", _UtcDateTime(), nullable=True),
        sa.Column("processed_at", _UtcDateTime(), nullable=True),
        sa.Column("cancelled_at", _UtcDateTime(), nullable=True),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_changes"),
        _order_fk("order_changes"),
    )
    op.create_index("ix_order_changes_order_id_created_at", "order_changes", ["order_id", "created_at"])
    op.create_table(
        "order_change_lines",
        _id(),
        sa.Column("change_id", sa.String(40), nullable=False),
        sa.Column("line_id", sa.String(40), nullable=False),
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(100), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_order_change_lines"),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["order_changes.id"],
            name="fk_order_change_lines_change_id_order_changes",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_order_change_lines_change_id", "order_change_lines", ["change_id"])


def downgrade() -> None:
    for table in (
        "order_change_lines",
        "order_changes",
        "order_refund_lines",
        "order_refunds",
        "fulfillment_lines",
        "fulfillments",
    ):
        op.drop_table(table)
