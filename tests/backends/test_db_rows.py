"""Rows inserted without the unit of work (``rcommerce.db.rows.insert_rows``) are stored
as the unit of work would store them, on every database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from rcommerce.db import Database
from rcommerce.db.rows import insert_rows
from rcommerce.domain.admin.models import ApiKeyRow
from rcommerce.ids import new_id

pytestmark = pytest.mark.backends

T0 = datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _key(label: str) -> ApiKeyRow:
    key_id = new_id("key", T0)
    # revoke_reason and last_used_at are left unset: the column default and NULL apply.
    return ApiKeyRow(
        id=key_id, display_name=label, kind="secret", prefix=key_id[-12:], key_sha256=key_id.ljust(64, "0"),
        scopes=["orders.read", "orders.write"], created_at=T0, expires_at=None, revoked_at=None,
    )  # fmt: skip


async def test_one_row_and_several_rows_are_stored_with_their_column_defaults(db: Database) -> None:
    one, several = _key("one"), [_key("two"), _key("three")]
    async with db.transaction() as s:
        await insert_rows(s, [one])
        await insert_rows(s, several)
        await insert_rows(s, [])
        assert one not in s  # the objects stay transient
    async with db.read() as s:
        rows = {r.id: r for r in (await s.scalars(select(ApiKeyRow).where(ApiKeyRow.id.like("key_%")))).all()}
    for written in (one, *several):
        stored = rows[written.id]
        assert (stored.display_name, stored.scopes, stored.created_at) == (written.display_name, written.scopes, T0)
        assert stored.revoke_reason == "" and stored.last_used_at is None and stored.expires_at is None


async def test_rows_are_rolled_back_with_the_transaction(db: Database) -> None:
    row = _key("rolled back")
    with pytest.raises(RuntimeError):
        async with db.transaction() as s:
            await insert_rows(s, [row])
            raise RuntimeError("rolled back")
    async with db.read() as s:
        assert await s.get(ApiKeyRow, row.id) is None
