"""The migration chain on every database in the matrix."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection

from rcommerce.config import DatabaseSettings
from rcommerce.db import Database, DatabaseBehind
from rcommerce.db.migrate import current_revision, ensure_current, head_revision
from rcommerce.db.registry import metadata
from tests.conftest import database_url


async def test_migrations_match_the_models(db: Database) -> None:
    """Autogenerate finds nothing to do: the hand-written chain equals the models."""

    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return [
            d
            for d in compare_metadata(context, metadata)
            if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == "alembic_version")
        ]

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
    assert await current_revision(db) == head_revision()


async def test_embedded_sqlite_migrates_itself(tmp_path: Path) -> None:
    db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"))
    try:
        await ensure_current(db, auto_migrate=True)
        assert await current_revision(db) == head_revision()
    finally:
        await db.dispose()


async def test_database_behind_is_refused_with_the_command(tmp_path: Path) -> None:
    # Same code path as a PostgreSQL/MySQL database that is behind: no auto-migration.
    db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"))
    try:
        with pytest.raises(DatabaseBehind, match="rcommerce migrate"):
            await ensure_current(db, auto_migrate=False)
    finally:
        await db.dispose()


def test_matrix_urls_are_real(database_name: str, tmp_path: Path) -> None:
    assert database_url(database_name, tmp_path).split("+")[0] in ("sqlite", "postgresql", "mysql")


async def test_chain_downgrades_to_base_and_back(tmp_path: Path) -> None:
    from rcommerce.db.migrate import downgrade, upgrade

    db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'roundtrip.db'}"))
    try:
        await upgrade(db)
        await downgrade(db, "base")
        assert await current_revision(db) is None
        await upgrade(db)
        assert await current_revision(db) == head_revision()
    finally:
        await db.dispose()


async def test_0019_names_the_payment_of_pending_automatic_capture_keys(tmp_path: Path) -> None:
    from sqlalchemy import text

    from rcommerce.db.migrate import upgrade

    db = Database(DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}"))
    rows = [  # key, state, payment_id
        ("chk-cap:pay_01PENDING", "pending", ""),
        ("chk-cap:pay_01DONE", "done", ""),
        ("cap-staff-1", "pending", ""),
    ]
    try:
        await upgrade(db, "0018")
        async with db.engine.begin() as conn:
            for key, state, payment_id in rows:
                await conn.execute(
                    text(
                        "INSERT INTO payment_idempotency_keys (key, operation, request_hash, state, claimed_at,"
                        " response, error, payment_id, created_at) VALUES (:key, 'CapturePayment', '', :state, NULL,"
                        " '', '{}', :payment_id, '2026-11-01 00:00:00')"
                    ),
                    {"key": key, "state": state, "payment_id": payment_id},
                )
        await upgrade(db)
        async with db.engine.connect() as conn:
            got = dict((await conn.execute(text("SELECT key, payment_id FROM payment_idempotency_keys"))).all())
        assert got == {"chk-cap:pay_01PENDING": "pay_01PENDING", "chk-cap:pay_01DONE": "", "cap-staff-1": ""}
    finally:
        await db.dispose()
