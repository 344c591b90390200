"""Workers: claim due jobs, run their handlers, record the outcome.

Claiming (DESIGN 7): on PostgreSQL, MySQL 8+ and MariaDB 10.6+ due rows are selected
``FOR UPDATE SKIP LOCKED`` and marked running in the same transaction, so concurrent
workers never see the same row. SQLite has no row locks; there each candidate is
claimed with a conditional UPDATE whose ``rowcount`` says whether this worker won
(write transactions are serialised by ``BEGIN IMMEDIATE`` in any case).

A claimed job carries a lease (``locked_until`` = now + the kind's timeout + margin). A
worker that dies mid-job leaves the row ``running``; once the lease passes any worker
reclaims it, and that counts as a further attempt.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.ids import new_id
from rcommerce.jobs.metrics import JOB_FAILURES, JOBS_DEAD, QueueDepth
from rcommerce.jobs.models import DEAD, QUEUED, RUNNING, SUCCEEDED, JobRow
from rcommerce.jobs.queue import Job, JobQueue, RetryAfter

__all__ = ["Worker"]

log = logging.getLogger(__name__)

#: Added to a kind's timeout to form the lease, so a slow commit never looks like a crash.
LEASE_MARGIN_S = 30.0
_ERROR_CHARS = 2000


class Worker:
    """Runs due jobs of the kinds registered on ``queue``.

    :meth:`run_once` claims one batch and runs it to completion, in claim order: tests
    drive it with a :class:`~rcommerce.clock.FrozenClock` and never sleep.
    :meth:`run_forever` polls; its owner cancels it to stop (a job cut off mid-run is
    reclaimed after its lease).
    """

    def __init__(
        self, db: Database, queue: JobQueue, clock: Clock, *, worker_id: str = "", batch_size: int = 10,
        run_schedules: bool = True,
    ) -> None:  # fmt: skip
        self.db, self.queue, self.clock = db, queue, clock
        #: Enqueue the recurring jobs' slots (``[server] run_schedules``); off, this
        #: worker runs only what others enqueued.
        self.run_schedules = run_schedules
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{new_id('wrk', clock.now())[-6:]}"
        self.batch_size = batch_size
        self.depth = QueueDepth(db)

    def _due(self) -> ColumnElement[bool]:
        now = self.clock.now()
        return and_(
            JobRow.kind.in_(list(self.queue.kinds)),
            or_(
                and_(JobRow.state == QUEUED, JobRow.run_at <= now),
                and_(JobRow.state == RUNNING, JobRow.locked_until < now),
            ),
        )

    async def enqueue_schedules(self) -> None:
        """Enqueue the current slot of every recurring schedule (idempotent)."""
        if not self.queue.schedules:
            return
        now = self.clock.now()
        async with self.db.transaction() as session:
            for sched in self.queue.schedules:
                slot = sched.cron.latest(now)
                await self.queue.enqueue(
                    session,
                    sched.kind,
                    dict(sched.payload),
                    run_at=slot,
                    dedupe_key=f"cron:{sched.name}:{slot.isoformat()}",
                )

    async def claim(self, limit: int | None = None) -> list[Job]:
        """Claim up to ``limit`` due jobs for this worker and return them."""
        now = self.clock.now()
        limit = limit or self.batch_size
        claimed: list[Job] = []
        # A read first: idle polls then never take a write lock (SQLite has only one).
        async with self.db.read() as session:
            if (await session.execute(select(JobRow.id).where(self._due()).limit(1))).first() is None:
                return claimed
        async with self.db.transaction() as session:
            query = (
                select(JobRow.id, JobRow.kind, JobRow.payload, JobRow.attempts, JobRow.max_attempts)
                .where(self._due())
                .order_by(JobRow.run_at, JobRow.id)
                .limit(limit)
            )
            if self.db.dialect != "sqlite":
                query = query.with_for_update(skip_locked=True)
            for job_id, kind, payload, attempts, max_attempts in (await session.execute(query)).all():
                lease = timedelta(seconds=self.queue.kinds[kind].timeout_s + LEASE_MARGIN_S)
                result = await session.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, self._due(), or_(JobRow.locked_until.is_(None), JobRow.locked_until < now))
                    .values(
                        state=RUNNING, attempts=JobRow.attempts + 1, locked_by=self.worker_id,
                        locked_until=now + lease, updated_at=now,
                    )
                )  # fmt: skip
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    continue  # SQLite: another worker won this row
                claimed.append(Job(job_id, kind, dict(payload), attempts + 1, max_attempts))
        return claimed

    async def run_once(self) -> int:
        """Enqueue due schedules, claim one batch, run it. Returns how many jobs ran."""
        if self.run_schedules:
            await self.enqueue_schedules()
        jobs = await self.claim()
        # The batch runs concurrently: each job is its own units of work, and a slow
        # receiver must neither hold up the rest nor let their leases run out unstarted.
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(self.run_job(job))
        return len(jobs)

    async def run_job(self, job: Job) -> None:
        """Run one claimed job under its kind's timeout and record the outcome."""
        kind = self.queue.kinds[job.kind]
        try:
            async with asyncio.timeout(kind.timeout_s):
                await kind.handler(job)
        except TimeoutError:
            await self._failed(job, f"timed out after {kind.timeout_s:g} s", None)
        except RetryAfter as exc:
            await self._failed(job, str(exc), exc.delay_s)
        except Exception as exc:
            log.warning("job %s (%s) attempt %d failed: %r", job.id, job.kind, job.attempt, exc)
            await self._failed(job, f"{type(exc).__name__}: {exc}", None)
        else:
            await self._finish(job, state=SUCCEEDED, last_error="")

    async def _failed(self, job: Job, error: str, delay_s: float | None) -> None:
        JOB_FAILURES.labels(job.kind).inc()
        if job.is_last_attempt:
            JOBS_DEAD.labels(job.kind).inc()
            log.error("job %s (%s) is dead after %d attempts: %s", job.id, job.kind, job.attempt, error)
            await self._finish(job, state=DEAD, last_error=error)
            return
        delay = timedelta(seconds=delay_s) if delay_s is not None else self.queue.delay_after(job.kind, job.attempt)
        await self._finish(job, state=QUEUED, last_error=error, run_at=self.clock.now() + delay)

    async def _finish(self, job: Job, *, state: str, last_error: str, run_at: object = None) -> None:
        now = self.clock.now()
        values: dict[str, object] = {
            "state": state, "last_error": last_error[:_ERROR_CHARS], "locked_by": None, "locked_until": None, "updated_at": now,
        }  # fmt: skip
        if run_at is not None:
            values["run_at"] = run_at
        async with self.db.transaction() as session:
            # Only while we still hold the lease: a reclaimed job belongs to its new worker.
            await session.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.locked_by == self.worker_id, JobRow.state == RUNNING)
                .values(**values)
            )

    async def reclaim_orphans(self) -> int:
        """Requeue jobs left ``running`` by a worker of this host whose process is gone.

        Worker ids are ``host:pid:suffix``. After a crash (SIGKILL, OOM) the restarted
        process would otherwise wait for the dead worker's lease (the kind's timeout plus
        :data:`LEASE_MARGIN_S`, a minute for webhook deliveries) before the work resumes.
        The requeue counts as the attempt the dead worker used up. Returns how many jobs
        were requeued.
        """
        host = socket.gethostname()
        async with self.db.read() as session:
            owners = (
                (
                    await session.execute(
                        select(JobRow.locked_by)
                        .where(JobRow.state == RUNNING, JobRow.locked_by.like(f"{host}:%"))
                        .distinct()
                    )
                )
                .scalars()
                .all()
            )
        dead = [owner for owner in owners if owner and local_process_gone(owner, host)]
        if not dead:
            return 0
        now = self.clock.now()
        async with self.db.transaction() as session:
            result = await session.execute(
                update(JobRow)
                .where(JobRow.state == RUNNING, JobRow.locked_by.in_(dead))
                .values(state=QUEUED, locked_by=None, locked_until=None, run_at=now, updated_at=now)
            )
        count = int(result.rowcount or 0)  # type: ignore[attr-defined]
        if count:
            log.warning("job worker %s: requeued %d job(s) of dead worker(s) %s", self.worker_id, count, dead)
        return count

    async def run_forever(self, poll_interval_s: float = 0.5) -> None:
        """Poll until cancelled. Errors (database down) are logged and retried. Jobs left
        running by dead processes of this host are requeued first (:meth:`reclaim_orphans`),
        and the queue-depth gauge is refreshed every few seconds."""
        try:
            await self.reclaim_orphans()
        except Exception:
            log.exception("job worker %s: could not reclaim orphaned jobs", self.worker_id)
        while True:
            try:
                await self.depth.maybe_refresh()
            except Exception:
                log.warning("job worker %s: queue depth refresh failed", self.worker_id, exc_info=True)
            try:
                ran = await self.run_once()
            except Exception:
                log.exception("job worker %s: polling failed; retrying", self.worker_id)
                ran = 0
            if ran == 0:
                await asyncio.sleep(poll_interval_s)


def local_process_gone(owner: str, host: str) -> bool:
    """True when ``owner`` (``host:pid:suffix``) names a process of ``host`` that no longer runs."""
    parts = owner[len(host) + 1 :].split(":")
    if len(parts) != 2 or not parts[0].isdigit():
        return False
    pid = int(parts[0])
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # exists, owned by another user
    return False
