"""Job-queue and webhook-delivery metrics on ``GET /metrics`` of a live server."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx

from rcommerce.ids import new_id
from rcommerce.jobs.queue import Job
from rcommerce.testing.server import LiveServer


async def _metrics_until(server: LiveServer, *needles: str, timeout_s: float = 15.0) -> str:
    """GET /metrics until every needle appears (the worker refreshes the gauge every 5 s)."""
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        while True:
            text = (await http.get("/metrics")).text
            if all(n in text for n in needles) or time.monotonic() > deadline:
                return text
            await asyncio.sleep(0.1)


async def test_queue_depth_failures_and_dead_jobs_are_exported(server: LiveServer) -> None:
    events = server.app.events
    suffix = new_id("tst", datetime.now(UTC))[-10:].lower()
    failing, parked = f"test.fails_{suffix}", f"test.parked_{suffix}"

    async def fail(job: Job) -> None:
        raise RuntimeError("boom")

    events.queue.register(failing, fail, max_attempts=1)
    async with server.app.db.transaction() as session:
        await events.queue.enqueue(session, failing, {})
        # Not registered: no worker claims it, so it stays queued.
        await events.queue.enqueue(session, parked, {})

    text = await _metrics_until(
        server,
        f'rcommerce_jobs_dead_total{{kind="{failing}"}} 1.0',
        f'rcommerce_jobs{{kind="{parked}",state="queued"}} 1.0',
    )
    assert f'rcommerce_job_failures_total{{kind="{failing}"}} 1.0' in text
    assert f'rcommerce_jobs_dead_total{{kind="{failing}"}} 1.0' in text
    assert f'rcommerce_jobs{{kind="{parked}",state="queued"}} 1.0' in text
    assert "# TYPE rcommerce_webhook_deliveries_total counter" in text
