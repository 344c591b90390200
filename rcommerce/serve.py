"""Running the server: one process, or N worker processes sharing both ports.

Each worker binds the gRPC and HTTP ports with SO_REUSEPORT, so the kernel spreads
connections across processes (DESIGN 4: processes, not threads, are the unit of
scale). SIGTERM/SIGINT drain in-flight requests within ``server.shutdown_grace_s``.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import tempfile

from rcommerce.app import App
from rcommerce.config import Settings
from rcommerce.db.database import Database
from rcommerce.db.migrate import ensure_current
from rcommerce.logs import configure_logging

log = logging.getLogger("rcommerce")


async def run_process(settings: Settings) -> None:
    """Serve until SIGTERM or SIGINT, then drain and return."""
    app = App(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    try:
        await stop.wait()
        log.info("signal received; draining for up to %ss", settings.server.shutdown_grace_s)
    finally:
        await app.stop()


async def run_worker(settings: Settings) -> None:
    """Run only the outbox dispatcher and the job worker until SIGTERM or SIGINT."""
    app = App(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.build()
    await app.event_signal.start()  # events recorded by jobs wake the servers' watchers
    await app.events.start()
    log.info("rcommerce worker running (dispatcher and jobs)")
    try:
        await stop.wait()
    finally:
        await app.events.stop()
        await app.event_signal.stop()
        await app.cache.close()
        await app.db.dispose()
        log.info("rcommerce worker stopped")


def worker(settings: Settings) -> int:
    configure_logging(settings.logging)
    asyncio.run(run_worker(settings))
    return 0


def _run(settings: Settings) -> None:
    configure_logging(settings.logging)
    if settings.server.event_loop == "uvloop":
        import uvloop

        uvloop.run(run_process(settings))
    else:
        asyncio.run(run_process(settings))


def _worker(settings: Settings) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns Ctrl-C into SIGTERM
    _run(settings)


async def _prepare_schema(settings: Settings) -> None:
    db = Database(settings.database)
    try:
        await ensure_current(db, auto_migrate=settings.database.auto_migrate_embedded)
    finally:
        await db.dispose()


def serve(settings: Settings) -> int:
    """Run ``settings.server.workers`` processes; returns the exit code."""
    workers = settings.server.workers
    if workers == 1:
        _run(settings)
        return 0
    configure_logging(settings.logging)
    if settings.cache.url == "memory://":
        log.warning(
            "%d workers with the in-process memory cache: a catalog write invalidates the cache of the "
            "process that made it only; others may serve stale reads for up to cache.catalog_ttl_s (%ss). "
            "Set cache.url to a Redis URL to share invalidation across processes.",
            workers,
            settings.cache.catalog_ttl_s,
        )
    # Migrate once, before the workers race to do it.
    asyncio.run(_prepare_schema(settings))
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="rcommerce-metrics-"))
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_worker, args=(settings,), name=f"rcommerce-worker-{i}") for i in range(workers)]
    for proc in procs:
        proc.start()

    def _forward(signum: int, _frame: object) -> None:
        for proc in procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    code = 0
    for proc in procs:
        proc.join()
        code = code or (proc.exitcode or 0)
    print(f"rcommerce: {workers} workers stopped", file=sys.stderr)
    return code
