"""Database-backed jobs: enqueue in the caller's transaction, claim with row locks, retry
with backoff, recurring schedules (DESIGN 7)."""

from rcommerce.jobs.cron import Cron
from rcommerce.jobs.queue import Job, JobHandler, JobKind, JobQueue, RetryAfter, Schedule, exponential_backoff
from rcommerce.jobs.worker import Worker

__all__ = [
    "Cron",
    "Job",
    "JobHandler",
    "JobKind",
    "JobQueue",
    "RetryAfter",
    "Schedule",
    "Worker",
    "exponential_backoff",
]
