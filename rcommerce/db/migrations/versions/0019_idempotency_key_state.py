"""Payments: index the idempotency keys by state (the reconciler's unfinished captures).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_payment_idempotency_keys_state", "payment_idempotency_keys", ["state"])


def downgrade() -> None:
    op.drop_index("ix_payment_idempotency_keys_state", table_name="payment_idempotency_keys")
