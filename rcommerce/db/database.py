"""Engine, sessions and units of work.

One :class:`Database` per process. A unit of work is one ``AsyncSession`` and one
transaction: :meth:`Database.transaction` for commands, :meth:`Database.read` for
queries. On SQLite, write transactions start with ``BEGIN IMMEDIATE`` so two writers
queue on the busy timeout instead of failing with "database is locked" when a read
transaction tries to upgrade; and the writers of one process queue first on an
``asyncio.Lock`` (SQLite has one writer at a time anyway): SQLite's busy handler waits by
sleeping and retrying, so under load a writer could sleep long after the lock was free
(checkout p99 in seconds), while the in-process queue hands the lock over at once, in
arrival order. Writers in other processes still meet on the busy timeout.

Pooled server connections are checked before use only after they sat idle for
``ping_after_idle_s``: SQLAlchemy's ``pool_pre_ping`` checks every checkout, which on
asyncpg is three round trips (BEGIN, a no-op, ROLLBACK) before every transaction, a
third of a checkout's statements. A connection in steady use was proven alive by its
last transaction; one that broke under it anyway fails that one call as a disconnect,
which also retires every connection opened before it.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from rcommerce.clock import Clock, SystemClock
from rcommerce.config import DatabaseSettings

log = logging.getLogger(__name__)

_BEGIN_MODE = "rcommerce_sqlite_begin"
_IDLE_SINCE = "rcommerce_idle_since"

#: ``session.info`` key set by ``record_event``: the transaction appended to the outbox.
OUTBOX_WRITTEN = "rcommerce.outbox_written"


class DatabaseBehind(Exception):
    """The database schema is older than this code; the message says what to run."""


def is_unique_violation(exc: IntegrityError) -> bool:
    """True when ``exc`` is a unique-constraint violation on any supported dialect."""
    text_ = str(exc.orig).lower()
    return "unique" in text_ or "duplicate" in text_ or getattr(exc.orig, "sqlstate", "") == "23505"


def _sqlite_file(url: str) -> Path | None:
    path = url.split(":///", 1)[1] if ":///" in url else ""
    path = path.split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


class Database:
    """The process's engine and session factory."""

    def __init__(self, settings: DatabaseSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.dialect = settings.dialect
        kwargs: dict[str, Any] = {"echo": settings.echo}
        if self.dialect == "sqlite":
            file = _sqlite_file(settings.url)
            if file is not None:
                file.parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": settings.sqlite_busy_timeout_s}
        else:
            kwargs |= {"pool_size": settings.pool_size, "max_overflow": settings.max_overflow, "pool_recycle": 1800}
        if self.dialect == "mysql":
            kwargs["isolation_level"] = "READ COMMITTED"
        self.engine: AsyncEngine = create_async_engine(settings.url, **kwargs)
        if self.dialect == "sqlite":
            self._configure_sqlite()
        else:
            self._ping_idle_connections(settings.ping_after_idle_s, clock or SystemClock())
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._writer = asyncio.Lock() if self.dialect == "sqlite" else None
        #: Called after a transaction that appended events committed (wakes event watchers).
        self.on_outbox_commit: Callable[[], None] | None = None

    def _configure_sqlite(self) -> None:
        sync_engine = self.engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event below emit BEGIN itself.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in (
                "journal_mode=WAL",
                "foreign_keys=ON",
                f"busy_timeout={round(self.settings.sqlite_busy_timeout_s * 1000)}",
                "synchronous=NORMAL",
            ):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()

        @event.listens_for(sync_engine, "begin")
        def _on_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get(_BEGIN_MODE, "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

    def _ping_idle_connections(self, after_s: float, clock: Clock) -> None:
        sync_engine = self.engine.sync_engine
        dialect = sync_engine.dialect

        @event.listens_for(sync_engine, "checkin")
        def _on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
            record.info[_IDLE_SINCE] = clock.monotonic()

        @event.listens_for(sync_engine, "checkout")
        def _on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
            idle_since = record.info.get(_IDLE_SINCE)  # None: connected just now
            if idle_since is None or clock.monotonic() - idle_since < after_s:
                return
            try:
                alive = dialect.do_ping(dbapi_connection)
            except dialect.loaded_dbapi.Error as exc:
                if not dialect.is_disconnect(exc, dbapi_connection, None):
                    raise
                alive = False
            if not alive:
                # The pool discards this connection and checks out another (or connects).
                raise DisconnectionError("pooled connection was closed while idle")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that writes: commits on success, rolls back on any exception."""
        if self._writer is None:
            async with self._unit_of_work() as session:
                yield session
            return
        try:
            async with asyncio.timeout(self.settings.sqlite_busy_timeout_s):
                await self._writer.acquire()
        except TimeoutError:
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked")) from None
        try:
            async with self._unit_of_work() as session:
                yield session
        finally:
            self._writer.release()

    @asynccontextmanager
    async def _unit_of_work(self) -> AsyncIterator[AsyncSession]:
        async with self.sessions() as session:
            if self.dialect == "sqlite":
                # Starts the transaction with BEGIN IMMEDIATE (see _on_begin).
                await session.connection(execution_options={_BEGIN_MODE: "IMMEDIATE"})
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
            if session.info.pop(OUTBOX_WRITTEN, False) and self.on_outbox_commit is not None:
                self.on_outbox_commit()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that only reads; rolled back at the end."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Raise when the database cannot be reached."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()
