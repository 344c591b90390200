"""Notifications: template overrides, rules and notifications.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_templates",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("variables", sa.JSON(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_notification_templates"),
    )
    op.create_table(
        "notification_rules",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("recipient", sa.String(500), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notification_rules"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(50), nullable=False),
        sa.Column("recipient", sa.String(500), nullable=False),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=False),
        sa.Column("message_id", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("rule_id", sa.String(40), nullable=False),
        sa.Column("dedupe_key", sa.String(100), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.Column("sent_at", _UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_notifications"),
        sa.UniqueConstraint("dedupe_key", name="uq_notifications_dedupe_key"),
    )
    op.create_index("ix_notifications_status_created_at", "notifications", ["status", "created_at"])
    op.create_index("ix_notifications_channel_created_at", "notifications", ["channel", "created_at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("notification_rules")
    op.drop_table("notification_templates")
