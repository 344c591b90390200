"""Apply and inspect migrations from inside the running event loop (DESIGN 9)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from rcommerce.db.database import Database, DatabaseBehind

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str = "") -> Config:
    """An Alembic config pointing at our migration scripts (no alembic.ini needed)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migration chain is empty"
    return head


async def current_revision(db: Database) -> str | None:
    def _current(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    async with db.engine.connect() as conn:
        return await conn.run_sync(_current)


async def upgrade(db: Database, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` in one transaction per dialect's rules."""
    cfg = alembic_config(db.settings.url)

    def _upgrade(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade)


async def downgrade(db: Database, revision: str) -> None:
    cfg = alembic_config(db.settings.url)

    def _downgrade(conn: Connection) -> None:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(_downgrade)


async def ensure_current(db: Database, *, auto_migrate: bool) -> None:
    """Make sure the schema is at head before serving.

    The embedded SQLite database migrates itself when ``auto_migrate``; any other
    database that is behind is refused with the command to run.
    """
    current, head = await current_revision(db), head_revision()
    if current == head:
        return
    if db.dialect == "sqlite" and auto_migrate:
        await upgrade(db)
        return
    state = "has no rcommerce schema" if current is None else f"is at revision {current}"
    raise DatabaseBehind(
        f"The database {state}; this version of rcommerce needs revision {head}. "
        "Run `rcommerce migrate` (with the same configuration) and start again."
    )
