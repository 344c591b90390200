"""Payments: index the idempotency keys by state (the reconciler's unfinished captures),
and name the payment of the pending automatic captures' keys (``chk-cap:<payment id>``),
which capture/void/refund keys now record when they are claimed.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_payment_idempotency_keys_state", "payment_idempotency_keys", ["state"])
    prefix = "chk-cap:"
    keys = sa.table("payment_idempotency_keys", sa.column("key", sa.String), sa.column("payment_id", sa.String),
                    sa.column("state", sa.String))  # fmt: skip
    op.execute(
        keys.update()
        .where(keys.c.state == "pending", keys.c.key.like(f"{prefix}%"), keys.c.payment_id == "")
        .values(payment_id=sa.func.substr(keys.c.key, len(prefix) + 1))
    )


def downgrade() -> None:
    op.drop_index("ix_payment_idempotency_keys_state", table_name="payment_idempotency_keys")
