"""Orders: orders, lines, notes, tags, status history, order numbers and draft orders.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "draft_orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("region_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("shipping_address", sa.JSON(), nullable=True),
        sa.Column("billing_address", sa.JSON(), nullable=True),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("coupon_codes", sa.JSON(), nullable=False),
        sa.Column("shipping_title", sa.String(length=255), nullable=False),
        sa.Column("shipping_amount", sa.BigInteger(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_draft_orders"),
    )
    op.create_index("ix_draft_orders_created_at", "draft_orders", ["created_at"])
    op.create_table(
        "order_number_counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_order_number_counters"),
    )
    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("number_value", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("payment_status", sa.String(length=30), nullable=False),
        sa.Column("fulfillment_status", sa.String(length=30), nullable=False),
        sa.Column("region_id", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("customer_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("cart_id", sa.String(length=40), nullable=False),
        sa.Column("shipping_address", sa.JSON(), nullable=True),
        sa.Column("billing_address", sa.JSON(), nullable=True),
        sa.Column("vat_id", sa.String(length=32), nullable=False),
        sa.Column("prices_include_tax", sa.Boolean(), nullable=False),
        sa.Column("reverse_charge_applied", sa.Boolean(), nullable=False),
        sa.Column("tax_exempt", sa.Boolean(), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("discount_total", sa.BigInteger(), nullable=False),
        sa.Column("shipping_total", sa.BigInteger(), nullable=False),
        sa.Column("shipping_discount", sa.BigInteger(), nullable=False),
        sa.Column("item_tax", sa.BigInteger(), nullable=False),
        sa.Column("shipping_tax", sa.BigInteger(), nullable=False),
        sa.Column("tax_total", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("shipping_quote_id", sa.String(length=40), nullable=False),
        sa.Column("shipping_provider", sa.String(length=100), nullable=False),
        sa.Column("shipping_service", sa.String(length=100), nullable=False),
        sa.Column("shipping_method", sa.String(length=255), nullable=False),
        sa.Column("coupon_codes", sa.JSON(), nullable=False),
        sa.Column("promotions", sa.JSON(), nullable=False),
        sa.Column("tax_lines", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("customer_note", sa.Text(), nullable=False),
        sa.Column("ip_address", sa.String(length=45), nullable=False),
        sa.Column("fraud_score", sa.Integer(), nullable=False),
        sa.Column("fraud_recommendation", sa.String(length=20), nullable=False),
        sa.Column("fraud_reasons", sa.JSON(), nullable=False),
        sa.Column("fraud_provider_score", sa.Integer(), nullable=True),
        sa.Column("hold_reason", sa.String(length=50), nullable=False),
        sa.Column("cancel_reason", sa.String(length=50), nullable=False),
        sa.Column("cancel_note", sa.Text(), nullable=False),
        sa.Column("cancelled_by", sa.String(length=100), nullable=False),
        sa.Column("confirmed_at", _UtcDateTime(), nullable=True),
        sa.Column("cancelled_at", _UtcDateTime(), nullable=True),
        sa.Column("completed_at", _UtcDateTime(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("number", name="uq_orders_number"),
    )
    op.create_index("ix_orders_cart_id", "orders", ["cart_id"])
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    op.create_index("ix_orders_customer_id_created_at", "orders", ["customer_id", "created_at"])
    op.create_index("ix_orders_email", "orders", ["email"])
    op.create_index("ix_orders_fulfillment_status", "orders", ["fulfillment_status"])
    op.create_index("ix_orders_payment_status", "orders", ["payment_status"])
    op.create_index("ix_orders_status_created_at", "orders", ["status", "created_at"])
    op.create_index("ix_orders_total", "orders", ["total"])
    op.create_index("ix_orders_updated_at", "orders", ["updated_at"])
    op.create_table(
        "order_lines",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("variant_id", sa.String(length=40), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("variant_title", sa.String(length=255), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("original_unit_price", sa.BigInteger(), nullable=False),
        sa.Column("price_list_id", sa.String(length=40), nullable=False),
        sa.Column("subtotal", sa.BigInteger(), nullable=False),
        sa.Column("discount", sa.BigInteger(), nullable=False),
        sa.Column("tax", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("tax_components", sa.JSON(), nullable=False),
        sa.Column("tax_category", sa.String(length=64), nullable=False),
        sa.Column("requires_shipping", sa.Boolean(), nullable=False),
        sa.Column("quantity_fulfilled", sa.Integer(), nullable=False),
        sa.Column("quantity_returned", sa.Integer(), nullable=False),
        sa.Column("reservation_ids", sa.JSON(), nullable=False),
        sa.Column("source_line_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_order_lines_order_id_orders", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_order_lines"),
    )
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"])
    op.create_index("ix_order_lines_variant_id", "order_lines", ["variant_id"])
    op.create_table(
        "order_notes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("customer_visible", sa.Boolean(), nullable=False),
        sa.Column("author_name", sa.String(length=255), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("system", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_order_notes_order_id_orders", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_order_notes"),
    )
    op.create_index("ix_order_notes_order_id_created_at", "order_notes", ["order_id", "created_at"])
    op.create_table(
        "order_status_changes",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=255), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name="fk_order_status_changes_order_id_orders", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_order_status_changes"),
    )
    op.create_index("ix_order_status_changes_order_id", "order_status_changes", ["order_id"])
    op.create_table(
        "order_tags",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("tag", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_order_tags_order_id_orders", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("order_id", "tag", name="pk_order_tags"),
    )
    op.create_index("ix_order_tags_tag", "order_tags", ["tag"])

    op.bulk_insert(
        sa.table("order_number_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
        [{"name": "default", "value": 1000}],
    )


def downgrade() -> None:
    for table in ("order_tags", "order_status_changes", "order_notes", "order_lines", "orders"):
        op.drop_table(table)
    op.drop_table("order_number_counters")
    op.drop_table("draft_orders")
