"""The job admin service behind ``JobService``: list, retry, cancel."""

from __future__ import annotations

from sqlalchemy import select, update

from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.webhooks.errors import JOB_NOT_CANCELLABLE, JOB_NOT_FOUND, JOB_NOT_RETRYABLE, WebhooksError
from rcommerce.events.convert import job_to_proto
from rcommerce.gen.v1 import webhooks_pb2
from rcommerce.jobs.models import CANCELLED, DEAD, QUEUED, JobRow

__all__ = ["JobAdmin"]


class JobAdmin:
    """Read and steer jobs for administrators."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db, self._clock = db, clock

    async def list_jobs(
        self, offset: int, limit: int, state: str = "", kind: str = ""
    ) -> tuple[list[webhooks_pb2.Job], bool]:
        """A page of jobs, newest first, and whether more follow."""
        query = select(JobRow).order_by(JobRow.created_at.desc(), JobRow.id.desc())
        if state:
            query = query.where(JobRow.state == state)
        if kind:
            query = query.where(JobRow.kind == kind)
        async with self._db.read() as session:
            rows = (await session.execute(query.offset(offset).limit(limit + 1))).scalars().all()
        return [job_to_proto(r) for r in rows[:limit]], len(rows) > limit

    async def _change(self, job_id: str, allowed: tuple[str, ...], values: dict[str, object]) -> webhooks_pb2.Job:
        async with self._db.transaction() as session:
            result = await session.execute(
                update(JobRow).where(JobRow.id == job_id, JobRow.state.in_(allowed)).values(**values)
            )
            row = await session.get(JobRow, job_id, populate_existing=True)
            if row is None:
                raise WebhooksError(JOB_NOT_FOUND, f"Job jobs/{job_id} does not exist.", name=f"jobs/{job_id}")
            if result.rowcount != 1:  # type: ignore[attr-defined]
                reason = JOB_NOT_RETRYABLE if values["state"] == QUEUED else JOB_NOT_CANCELLABLE
                raise WebhooksError(
                    reason,
                    f"Job jobs/{job_id} is {row.state}; {reason.description}",
                    name=f"jobs/{job_id}",
                    state=row.state,
                )
            return job_to_proto(row)

    async def retry(self, job_id: str) -> webhooks_pb2.Job:
        """Queue a dead or cancelled job to run now with a fresh attempt budget."""
        now = self._clock.now()
        return await self._change(
            job_id, (DEAD, CANCELLED), {"state": QUEUED, "attempts": 0, "run_at": now, "updated_at": now}
        )

    async def cancel(self, job_id: str) -> webhooks_pb2.Job:
        """Cancel a queued job."""
        now = self._clock.now()
        return await self._change(job_id, (QUEUED,), {"state": CANCELLED, "updated_at": now})
