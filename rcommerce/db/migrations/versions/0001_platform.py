"""Platform tables: API keys, store settings and the event outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import BIGSERIAL, _UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("prefix", sa.String(20), nullable=False),
        sa.Column("key_sha256", sa.String(64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("expires_at", _UtcDateTime(), nullable=True),
        sa.Column("revoked_at", _UtcDateTime(), nullable=True),
        sa.Column("revoke_reason", sa.String(500), nullable=False),
        sa.Column("last_used_at", _UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_sha256", name="uq_api_keys_key_sha256"),
    )
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])
    op.create_table(
        "store_settings",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_store_settings"),
    )
    op.create_table(
        "outbox_events",
        sa.Column("seq", BIGSERIAL, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox_events"),
        sa.UniqueConstraint("id", name="uq_outbox_events_id"),
    )
    op.create_index("ix_outbox_events_type_seq", "outbox_events", ["type", "seq"])


def downgrade() -> None:
    op.drop_index("ix_outbox_events_type_seq", "outbox_events")
    op.drop_table("outbox_events")
    op.drop_table("store_settings")
    op.drop_index("ix_api_keys_prefix", "api_keys")
    op.drop_table("api_keys")
