"""Payments: payment sessions, transactions, idempotency keys and inbound webhooks.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from rcommerce.db.base import _UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("target", sa.String(100), nullable=False),
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("method_type", sa.String(50), nullable=False),
        sa.Column("capture_method", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("amount_authorized", sa.BigInteger(), nullable=False),
        sa.Column("amount_captured", sa.BigInteger(), nullable=False),
        sa.Column("amount_refunded", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_before_dispute", sa.String(32), nullable=False),
        sa.Column("gateway_ref", sa.String(255), nullable=False),
        sa.Column("customer_id", sa.String(40), nullable=False),
        sa.Column("customer_email", sa.String(255), nullable=False),
        sa.Column("action_type", sa.String(50), nullable=False),
        sa.Column("action_data", sa.JSON(), nullable=False),
        sa.Column("action_expires_at", _UtcDateTime(), nullable=True),
        sa.Column("error_code", sa.String(100), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("method_details", sa.JSON(), nullable=False),
        sa.Column("provider_data", sa.JSON(), nullable=False),
        sa.Column("lock_key", sa.String(255), nullable=False),
        sa.Column("locked_at", _UtcDateTime(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.Column("updated_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payments"),
    )
    op.create_index("ix_payments_target", "payments", ["target"])
    op.create_index("ix_payments_status", "payments", ["status"])
    op.create_index("ix_payments_action_expires_at", "payments", ["action_expires_at"])
    op.create_index("ix_payments_created_at", "payments", ["created_at"])
    op.create_index("ix_payments_gateway_gateway_ref", "payments", ["gateway", "gateway_ref"])
    op.create_table(
        "payment_transactions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("reference", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("error_code", sa.String(100), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_payment_transactions"),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name="fk_payment_transactions_payment_id_payments", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_payment_transactions_payment_id", "payment_transactions", ["payment_id"])
    op.create_table(
        "payment_idempotency_keys",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("claimed_at", _UtcDateTime(), nullable=True),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("error", sa.JSON(), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("created_at", _UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_payment_idempotency_keys"),
    )
    op.create_index("ix_payment_idempotency_keys_created_at", "payment_idempotency_keys", ["created_at"])
    op.create_table(
        "payment_webhook_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("gateway", sa.String(100), nullable=False),
        sa.Column("event_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("provider_type", sa.String(100), nullable=False),
        sa.Column("gateway_ref", sa.String(255), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("payment_id", sa.String(40), nullable=False),
        sa.Column("received_at", _UtcDateTime(), nullable=False),
        sa.Column("processed_at", _UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_payment_webhook_events"),
        sa.UniqueConstraint("gateway", "event_id", name="uq_payment_webhook_events_gateway_event_id"),
    )


def downgrade() -> None:
    for table in ("payment_webhook_events", "payment_idempotency_keys", "payment_transactions", "payments"):
        op.drop_table(table)
