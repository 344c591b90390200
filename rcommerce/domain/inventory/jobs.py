"""The reservation expiry sweep: a recurring job on the job queue (DESIGN 7), so any
number of worker processes share it and a slot runs once."""

from __future__ import annotations

from rcommerce.domain.inventory.service import InventoryService
from rcommerce.jobs.queue import Job, JobQueue

__all__ = ["EXPIRE_KIND", "register_inventory_jobs"]

EXPIRE_KIND = "inventory.expire_reservations"


def register_inventory_jobs(queue: JobQueue, service: InventoryService) -> None:
    """Register the sweep and schedule it every minute."""

    async def expire(_job: Job) -> None:
        await service.expire_reservations()

    queue.register(EXPIRE_KIND, expire, max_attempts=3, timeout_s=120.0)
    queue.schedule("inventory-reservation-expiry", "* * * * *", EXPIRE_KIND)
