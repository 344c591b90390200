"""Inventory: stock locations, levels, movements and reservations.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

#: Same value as rcommerce.domain.inventory._store.DEFAULT_LOCATION_ID (kept literal:
#: a migration must not change when the code does).
DEFAULT_LOCATION_ID = "sloc_00000000000000000000000000"


def upgrade() -> None:
    locations = op.create_table(
        "stock_locations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("address", sa.JSON(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stock_locations"),
        sa.UniqueConstraint("code", name="uq_stock_locations_code"),
    )
    op.create_table(
        "inventory_levels",
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("location_id", sa.String(40), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("on_hand", sa.BigInteger(), nullable=False),
        sa.Column("reserved", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("variant_id", "location_id", name="pk_inventory_levels"),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["variants.id"], name="fk_inventory_levels_variant_id_variants", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name="fk_inventory_levels_location_id_stock_locations",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_inventory_levels_location_id", "inventory_levels", ["location_id"])
    op.create_index("ix_inventory_levels_product_id", "inventory_levels", ["product_id"])
    op.create_table(
        "inventory_items",
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("stock_status", sa.String(20), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("variant_id", name="pk_inventory_items"),
        sa.ForeignKeyConstraint(
            ["variant_id"], ["variants.id"], name="fk_inventory_items_variant_id_variants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_inventory_items_product_id", "inventory_items", ["product_id"])
    op.create_index("ix_inventory_items_stock_status", "inventory_items", ["stock_status"])
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("location_id", sa.String(40), nullable=False),
        sa.Column("movement_type", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("quantity_before", sa.BigInteger(), nullable=False),
        sa.Column("quantity_after", sa.BigInteger(), nullable=False),
        sa.Column("cost_per_unit", sa.BigInteger(), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("reference", sa.String(255), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("transfer_id", sa.String(40), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stock_movements"),
    )
    op.create_index("ix_stock_movements_variant_id_created_at", "stock_movements", ["variant_id", "created_at"])
    op.create_index("ix_stock_movements_product_id", "stock_movements", ["product_id"])
    op.create_index("ix_stock_movements_location_id", "stock_movements", ["location_id"])
    op.create_index("ix_stock_movements_movement_type", "stock_movements", ["movement_type"])
    op.create_index("ix_stock_movements_reference", "stock_movements", ["reference"])
    op.create_index("ix_stock_movements_created_at", "stock_movements", ["created_at"])
    op.create_table(
        "stock_reservations",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("location_id", sa.String(40), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("converted_quantity", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.String(255), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("policy", sa.String(20), nullable=False),
        sa.Column("expires_at", _UtcDateTime(), nullable=True),
        sa.Column("released_at", _UtcDateTime(), nullable=True),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stock_reservations"),
    )
    op.create_index("ix_stock_reservations_status_expires_at", "stock_reservations", ["status", "expires_at"])
    op.create_index("ix_stock_reservations_variant_id", "stock_reservations", ["variant_id"])
    op.create_index("ix_stock_reservations_reference", "stock_reservations", ["reference"])
    op.create_table(
        "stock_alerts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("variant_id", sa.String(40), nullable=False),
        sa.Column("product_id", sa.String(40), nullable=False),
        sa.Column("alert_level", sa.String(20), nullable=False),
        sa.Column("current_stock", sa.BigInteger(), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("recommended_reorder_quantity", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_by", sa.String(200), nullable=False),
        sa.Column("acknowledged_at", _UtcDateTime(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_stock_alerts"),
    )
    op.create_index("ix_stock_alerts_variant_id", "stock_alerts", ["variant_id"])
    op.create_index("ix_stock_alerts_alert_level", "stock_alerts", ["alert_level"])
    op.create_index("ix_stock_alerts_acknowledged", "stock_alerts", ["acknowledged"])
    op.create_index("ix_stock_alerts_created_at", "stock_alerts", ["created_at"])
    now = datetime(2026, 11, 24, tzinfo=UTC)
    op.bulk_insert(
        locations,
        [{
            "id": DEFAULT_LOCATION_ID, "name": "Default location", "code": "default", "address": {},
            "is_active": True, "is_default": True, "created_at": now, "updated_at": now,
        }],
    )  # fmt: skip


def downgrade() -> None:
    for table in (
        "stock_alerts",
        "stock_reservations",
        "stock_movements",
        "inventory_items",
        "inventory_levels",
        "stock_locations",
    ):
        op.drop_table(table)
