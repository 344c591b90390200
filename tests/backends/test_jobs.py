"""The job queue and workers on every database in the matrix."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.jobs import Job, JobQueue, RetryAfter, Worker
from rcommerce.jobs.models import JobRow
from tests.backends._events_db import isolated_database

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """This module's own database: the live API server of the session runs a worker on the
    shared one, and its claims (SKIP LOCKED; on MariaDB also gap locks) would interleave
    with these tests' workers (see tests/backends/_events_db.py)."""
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


def _kind() -> str:
    return f"test.{uuid.uuid4().hex[:12]}"


async def _row(db: Database, job_id: str) -> JobRow:
    async with db.read() as session:
        row = await session.get(JobRow, job_id)
    assert row is not None
    return row


def _clock() -> FrozenClock:
    # A real-ish "now", so jobs other tests left due are not ours (workers filter by kind).
    return FrozenClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))


async def test_two_workers_never_run_the_same_job(db: Database) -> None:
    clock, kind = _clock(), _kind()
    ran: Counter[str] = Counter()

    async def handler(job: Job) -> None:
        ran[job.id] += 1
        await asyncio.sleep(0)

    queue = JobQueue(clock)
    queue.register(kind, handler)
    async with db.transaction() as session:
        ids = [await queue.enqueue(session, kind, {"n": n}) for n in range(40)]
    a, b = Worker(db, queue, clock, worker_id="a", batch_size=3), Worker(db, queue, clock, worker_id="b", batch_size=3)
    claimed: Counter[str] = Counter()
    # SKIP LOCKED may pass over rows another transaction holds at that instant (on MariaDB
    # also rows next to them, e.g. the live server's worker scanning the same index), so a
    # round can come back empty while jobs remain: keep claiming until every job ran.
    for _ in range(400):
        if len(claimed) == len(ids):
            break
        batches = await asyncio.gather(a.claim(), b.claim(), a.claim(), b.claim())
        jobs = [job for batch in batches for job in batch]
        claimed.update(job.id for job in jobs)
        owner = {job.id: w for w, batch in zip((a, b, a, b), batches, strict=True) for job in batch}
        await asyncio.gather(*(owner[job.id].run_job(job) for job in jobs))
    assert set(claimed) == set(ids) and set(claimed.values()) == {1}
    assert set(ran) == set(ids) and set(ran.values()) == {1}
    async with db.read() as session:
        states = (await session.execute(select(JobRow.state).where(JobRow.kind == kind))).scalars().all()
    assert set(states) == {"succeeded"}


async def test_failures_back_off_then_the_job_dies(db: Database) -> None:
    clock, kind = _clock(), _kind()
    attempts: list[int] = []

    async def handler(job: Job) -> None:
        attempts.append(job.attempt)
        raise ValueError("boom")

    queue = JobQueue(clock)
    queue.register(kind, handler, max_attempts=3, backoff=lambda n: 10.0 * n)
    async with db.transaction() as session:
        job_id = await queue.enqueue(session, kind, {})
    assert job_id is not None
    worker = Worker(db, queue, clock)
    assert await worker.run_once() == 1
    row = await _row(db, job_id)
    assert (row.state, row.attempts, row.run_at, row.last_error) == (
        "queued",
        1,
        clock.now() + timedelta(seconds=10),
        "ValueError: boom",
    )
    assert await worker.run_once() == 0  # not due yet
    clock.advance(9)
    assert await worker.run_once() == 0
    clock.advance(1)
    assert await worker.run_once() == 1
    row = await _row(db, job_id)
    assert (row.state, row.run_at) == ("queued", clock.now() + timedelta(seconds=20))
    clock.advance(20)
    assert await worker.run_once() == 1
    row = await _row(db, job_id)
    assert (row.state, row.attempts, row.locked_by) == ("dead", 3, None)
    clock.advance(3600)
    assert await worker.run_once() == 0
    assert attempts == [1, 2, 3]


async def test_retry_after_sets_the_delay(db: Database) -> None:
    clock, kind = _clock(), _kind()

    async def handler(job: Job) -> None:
        raise RetryAfter(300, "receiver answered HTTP 500")

    queue = JobQueue(clock)
    queue.register(kind, handler)
    async with db.transaction() as session:
        job_id = await queue.enqueue(session, kind, {})
    assert job_id is not None
    await Worker(db, queue, clock).run_once()
    row = await _row(db, job_id)
    assert (row.state, row.run_at, row.last_error) == (
        "queued",
        clock.now() + timedelta(seconds=300),
        "receiver answered HTTP 500",
    )


async def test_a_hanging_job_times_out(db: Database) -> None:
    clock, kind = _clock(), _kind()

    async def handler(job: Job) -> None:
        await asyncio.Event().wait()

    queue = JobQueue(clock)
    queue.register(kind, handler, timeout_s=0.05, max_attempts=1)
    async with db.transaction() as session:
        job_id = await queue.enqueue(session, kind, {})
    assert job_id is not None
    await Worker(db, queue, clock).run_once()
    row = await _row(db, job_id)
    assert (row.state, row.last_error) == ("dead", "timed out after 0.05 s")


async def test_dedupe_key_enqueues_once(db: Database) -> None:
    clock, kind = _clock(), _kind()
    queue = JobQueue(clock)
    key = f"dedupe:{kind}"
    async with db.transaction() as session:
        first = await queue.enqueue(session, kind, {}, dedupe_key=key)
        second = await queue.enqueue(session, kind, {}, dedupe_key=key)
    async with db.transaction() as session:
        third = await queue.enqueue(session, kind, {}, dedupe_key=key)
    assert first is not None and second is None and third is None
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(JobRow).where(JobRow.kind == kind)) == 1


async def test_enqueue_rolls_back_with_the_callers_transaction(db: Database) -> None:
    clock, kind = _clock(), _kind()
    queue = JobQueue(clock)
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await queue.enqueue(session, kind, {})
            raise RuntimeError("business change failed")
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(JobRow).where(JobRow.kind == kind)) == 0


async def test_a_dead_workers_job_is_reclaimed_after_its_lease(db: Database) -> None:
    clock, kind = _clock(), _kind()
    done: list[tuple[str, int]] = []

    async def handler(job: Job) -> None:
        done.append((job.id, job.attempt))

    queue = JobQueue(clock)
    queue.register(kind, handler, timeout_s=10)
    async with db.transaction() as session:
        job_id = await queue.enqueue(session, kind, {})
    crashed, survivor = Worker(db, queue, clock, worker_id="crashed"), Worker(db, queue, clock, worker_id="survivor")
    assert [j.id for j in await crashed.claim()] == [job_id]  # ... and never finishes
    assert await survivor.run_once() == 0
    clock.advance(10 + 30 + 1)  # timeout + lease margin
    assert await survivor.run_once() == 1
    assert done == [(job_id, 2)]
    assert (await _row(db, job_id)).state == "succeeded"


def _ticking(clock: FrozenClock) -> tuple[JobQueue, list[str]]:
    """A queue with one job kind scheduled every 5 minutes, and what its runs saw."""
    kind = _kind()
    ran: list[str] = []

    async def handler(job: Job) -> None:
        ran.append(job.payload["what"])

    queue = JobQueue(clock)
    queue.register(kind, handler)
    queue.schedule(f"sched-{kind}", "*/5 * * * *", kind, {"what": "tick"})
    return queue, ran


async def test_cron_schedule_enqueues_each_slot_once(db: Database) -> None:
    clock = _clock()
    queue, ran = _ticking(clock)
    first, second = Worker(db, queue, clock, worker_id="one"), Worker(db, queue, clock, worker_id="two")
    assert await first.run_once() == 1
    assert await second.run_once() == 0  # same slot: deduped
    clock.advance(minutes=4)
    assert await first.run_once() == 0
    clock.advance(minutes=1)
    assert await second.run_once() == 1
    assert ran == ["tick", "tick"]


async def test_a_worker_without_schedules_runs_only_what_others_enqueued(db: Database) -> None:
    clock = _clock()
    queue, ran = _ticking(clock)
    quiet = Worker(db, queue, clock, worker_id="quiet", run_schedules=False)
    assert await quiet.run_once() == 0  # the slot is due, but this worker does not schedule
    assert ran == []
    await Worker(db, queue, clock, worker_id="scheduler").enqueue_schedules()
    assert await quiet.run_once() == 1  # it runs the slot another worker enqueued
    assert ran == ["tick"]
