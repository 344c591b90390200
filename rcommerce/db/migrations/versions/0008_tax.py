"""Tax: zones, categories, rates, exemptions and VAT id checks.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
    ]


def _validity() -> list[sa.Column[object]]:
    return [
        sa.Column("valid_from", _UtcDateTime(), nullable=True),
        sa.Column("valid_until", _UtcDateTime(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "tax_zones",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("region_code", sa.String(10), nullable=False),
        sa.Column("postal_patterns", sa.Text(), nullable=False),
        sa.Column("zone_type", sa.String(20), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_tax_zones"),
        sa.UniqueConstraint("code", name="uq_tax_zones_code"),
    )
    op.create_index("ix_tax_zones_country_code", "tax_zones", ["country_code"])
    op.create_table(
        "tax_categories",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_tax_categories"),
        sa.UniqueConstraint("code", name="uq_tax_categories_code"),
    )
    op.create_table(
        "tax_rates",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("zone_id", sa.String(40), nullable=False),
        sa.Column("category_id", sa.String(40), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("rate", sa.Numeric(9, 6), nullable=False),
        sa.Column("applies_to_shipping", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        *_validity(),
        *_times(),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["tax_zones.id"], name="fk_tax_rates_zone_id_tax_zones", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["category_id"], ["tax_categories.id"], name="fk_tax_rates_category_id_tax_categories"),
        sa.PrimaryKeyConstraint("id", name="pk_tax_rates"),
    )
    op.create_index("ix_tax_rates_zone_id_category_id", "tax_rates", ["zone_id", "category_id"])
    op.create_index("ix_tax_rates_category_id", "tax_rates", ["category_id"])
    op.create_table(
        "tax_exemptions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("zone_id", sa.String(40), nullable=True),
        sa.Column("exemption_type", sa.String(20), nullable=False),
        sa.Column("certificate_number", sa.String(100), nullable=False),
        *_validity(),
        sa.Column("active", sa.Boolean(), nullable=False),
        *_times(),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["tax_zones.id"], name="fk_tax_exemptions_zone_id_tax_zones", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tax_exemptions"),
    )
    op.create_index("ix_tax_exemptions_customer_id", "tax_exemptions", ["customer_id"])
    op.create_table(
        "vat_validations",
        sa.Column("vat_id", sa.String(32), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("business_name", sa.String(255), nullable=False),
        sa.Column("business_address", sa.Text(), nullable=False),
        sa.Column("checked_by", sa.String(64), nullable=False),
        sa.Column("validated_at", _UtcDateTime(), nullable=False),
        sa.Column("expires_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("vat_id", name="pk_vat_validations"),
    )
    op.create_table(
        "tax_transactions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("order_id", sa.String(40), nullable=False),
        sa.Column("order_line_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("taxable_amount", sa.BigInteger(), nullable=False),
        sa.Column("tax_amount", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.Numeric(9, 6), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("jurisdiction", sa.String(64), nullable=False),
        sa.Column("rate_id", sa.String(40), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("region_code", sa.String(10), nullable=False),
        sa.Column("reverse_charge", sa.Boolean(), nullable=False),
        sa.Column("exempt", sa.Boolean(), nullable=False),
        sa.Column("period", sa.String(7), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tax_transactions"),
    )
    op.create_index("ix_tax_transactions_order_id", "tax_transactions", ["order_id"])
    op.create_index("ix_tax_transactions_created_at", "tax_transactions", ["created_at"])
    op.create_index("ix_tax_transactions_country_code_period", "tax_transactions", ["country_code", "period"])


def downgrade() -> None:
    op.drop_table("tax_transactions")
    op.drop_table("vat_validations")
    op.drop_table("tax_exemptions")
    op.drop_table("tax_rates")
    op.drop_table("tax_categories")
    op.drop_table("tax_zones")
