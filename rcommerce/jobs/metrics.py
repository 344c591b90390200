"""Prometheus metrics of the job queue and webhook deliveries.

* ``rcommerce_jobs`` (gauge, by ``state`` and ``kind``): rows in ``jobs``, refreshed by
  the worker loop with one ``GROUP BY`` query at most every :data:`REFRESH_INTERVAL_S`.
  Every process sees the same table, so with ``--workers N`` the largest live value is
  reported.
* ``rcommerce_job_failures_total`` (by ``kind``): failed attempts (retried or not).
* ``rcommerce_jobs_dead_total`` (by ``kind``): jobs that ran out of attempts.
* ``rcommerce_webhook_deliveries_total`` (by ``outcome``: succeeded, retrying, failed):
  delivery attempts of ``webhooks.deliver`` jobs.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge
from sqlalchemy import func, select

from rcommerce.db.database import Database
from rcommerce.jobs.models import JobRow

__all__ = ["DELIVERIES", "JOBS", "JOBS_DEAD", "JOB_FAILURES", "REFRESH_INTERVAL_S", "QueueDepth"]

REFRESH_INTERVAL_S = 5.0

JOBS = Gauge("rcommerce_jobs", "Jobs in the queue by state and kind.", ["state", "kind"], multiprocess_mode="livemax")
JOB_FAILURES = Counter("rcommerce_job_failures_total", "Failed job attempts, by kind.", ["kind"])
JOBS_DEAD = Counter("rcommerce_jobs_dead_total", "Jobs that exhausted their attempts, by kind.", ["kind"])
DELIVERIES = Counter("rcommerce_webhook_deliveries_total", "Webhook delivery attempts by outcome.", ["outcome"])


class QueueDepth:
    """Refreshes :data:`JOBS` from the database, at most every ``interval_s``."""

    def __init__(self, db: Database, interval_s: float = REFRESH_INTERVAL_S) -> None:
        self.db = db
        self.interval_s = interval_s
        self._last = float("-inf")
        self._seen: set[tuple[str, str]] = set()

    async def maybe_refresh(self) -> bool:
        """Refresh when the interval has passed; True when it did."""
        now = time.monotonic()
        if now - self._last < self.interval_s:
            return False
        self._last = now
        await self.refresh()
        return True

    async def refresh(self) -> None:
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(JobRow.state, JobRow.kind, func.count()).group_by(JobRow.state, JobRow.kind)
                )
            ).all()
        current = {(str(state), str(kind)): int(count) for state, kind, count in rows}
        for labels in self._seen - current.keys():
            JOBS.labels(*labels).set(0)  # drained since the last refresh
        for labels, count in current.items():
            JOBS.labels(*labels).set(count)
        self._seen |= current.keys()
