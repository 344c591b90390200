"""Customers: accounts, addresses, groups, sessions and password resets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _times() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("phone", sa.String(50), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=True),
        sa.Column("is_guest", sa.Boolean(), nullable=False),
        sa.Column("accepts_marketing", sa.Boolean(), nullable=False),
        sa.Column("tax_exempt", sa.Boolean(), nullable=False),
        sa.Column("vat_id", sa.String(50), nullable=False),
        sa.Column("currency_code", sa.String(3), nullable=False),
        sa.Column("orders_count", sa.Integer(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("last_sign_in_at", _UtcDateTime(), nullable=True),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_customers"),
        sa.UniqueConstraint("email", name="uq_customers_email"),
    )
    op.create_index("ix_customers_created_at", "customers", ["created_at"])
    op.create_table(
        "customer_addresses",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("company", sa.String(255), nullable=False),
        sa.Column("address1", sa.String(255), nullable=False),
        sa.Column("address2", sa.String(255), nullable=False),
        sa.Column("city", sa.String(100), nullable=False),
        sa.Column("province", sa.String(100), nullable=False),
        sa.Column("postal_code", sa.String(20), nullable=False),
        sa.Column("country_code", sa.String(2), nullable=False),
        sa.Column("phone", sa.String(50), nullable=False),
        sa.Column("is_default_shipping", sa.Boolean(), nullable=False),
        sa.Column("is_default_billing", sa.Boolean(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_customer_addresses"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_customer_addresses_customer_id_customers", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_customer_addresses_customer_id", "customer_addresses", ["customer_id"])
    op.create_table(
        "customer_groups",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        *_times(),
        sa.PrimaryKeyConstraint("id", name="pk_customer_groups"),
        sa.UniqueConstraint("name", name="uq_customer_groups_name"),
    )
    op.create_index("ix_customer_groups_created_at", "customer_groups", ["created_at"])
    op.create_table(
        "customer_group_members",
        sa.Column("customer_group_id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_group_id", "customer_id", name="pk_customer_group_members"),
        sa.ForeignKeyConstraint(
            ["customer_group_id"],
            ["customer_groups.id"],
            name="fk_customer_group_members_customer_group_id_customer_groups",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_group_members_customer_id_customers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_customer_group_members_customer_id", "customer_group_members", ["customer_id"])
    op.create_table(
        "customer_sessions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("expires_at", _UtcDateTime(), nullable=False),
        sa.Column("last_used_at", _UtcDateTime(), nullable=False),
        sa.Column("revoked_at", _UtcDateTime(), nullable=True),
        sa.Column("revoke_reason", sa.String(50), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customer_sessions"),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name="fk_customer_sessions_customer_id_customers", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_customer_sessions_customer_id", "customer_sessions", ["customer_id"])
    op.create_table(
        "customer_refresh_tokens",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(40), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("expires_at", _UtcDateTime(), nullable=False),
        sa.Column("rotated_at", _UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_sha256", name="pk_customer_refresh_tokens"),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["customer_sessions.id"],
            name="fk_customer_refresh_tokens_session_id_customer_sessions",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_customer_refresh_tokens_session_id", "customer_refresh_tokens", ["session_id"])
    op.create_table(
        "customer_password_resets",
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("expires_at", _UtcDateTime(), nullable=False),
        sa.Column("used_at", _UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("token_sha256", name="pk_customer_password_resets"),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_customer_password_resets_customer_id_customers",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_customer_password_resets_customer_id", "customer_password_resets", ["customer_id"])


def downgrade() -> None:
    for table in (
        "customer_password_resets",
        "customer_refresh_tokens",
        "customer_sessions",
        "customer_group_members",
        "customer_groups",
        "customer_addresses",
        "customers",
    ):
        op.drop_table(table)
