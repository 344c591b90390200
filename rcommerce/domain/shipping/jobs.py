"""The expired-quote sweep: a recurring job on the job queue (DESIGN 7), so any number
of worker processes share it and a slot runs once."""

from __future__ import annotations

from rcommerce.domain.shipping.service import ShippingService
from rcommerce.jobs.queue import Job, JobQueue

__all__ = ["PURGE_KIND", "register_shipping_jobs"]

PURGE_KIND = "shipping.purge_expired_quotes"


def register_shipping_jobs(queue: JobQueue, service: ShippingService) -> None:
    """Register the sweep and schedule it hourly."""

    async def purge(_job: Job) -> None:
        await service.purge_expired_quotes()

    queue.register(PURGE_KIND, purge, max_attempts=3, timeout_s=300.0)
    queue.schedule("shipping-quote-purge", "17 * * * *", PURGE_KIND)
