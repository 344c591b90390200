"""Builds the event and job services for the composition root (``rcommerce/app.py``).

Usage from ``App.build``/``App.start``::

    self.events = build_event_services(self.db, self.clock, self.plugins.emit_event, tokens,
                                       allow_private_targets=s.webhooks.allow_private_targets)
    ... servicers += self.events.servicers()
    await self.events.start()      # when the in-process worker should run
    ...
    await self.events.stop()       # before db.dispose()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from rcommerce.api.servicers.jobs import JobServicer
from rcommerce.api.servicers.webhooks import WebhookServicer
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.events.dispatcher import Dispatcher, InTransactionConsumer, PluginEmit
from rcommerce.events.endpoints import WebhookEndpoints
from rcommerce.events.targets import Resolver, system_resolver
from rcommerce.events.webhooks import DELIVER_KIND, MAX_ATTEMPTS, WebhookDeliverer, WebhookSender
from rcommerce.gen.v1 import webhooks_pb2_grpc
from rcommerce.jobs.admin import JobAdmin
from rcommerce.jobs.queue import JobQueue
from rcommerce.jobs.worker import Worker
from rcommerce.pagination import PageTokens

__all__ = ["EventServices", "build_event_services"]

log = logging.getLogger(__name__)

ServicerEntry = tuple[str, Any, Callable[[Any, grpc.aio.Server], None]]


@dataclass
class EventServices:
    """Everything of events and jobs in one process. ``start`` runs the dispatcher and a
    worker as background tasks owned here; ``stop`` cancels and awaits them."""

    queue: JobQueue
    worker: Worker
    dispatcher: Dispatcher
    sender: WebhookSender
    deliverer: WebhookDeliverer
    endpoints: WebhookEndpoints
    jobs: JobAdmin
    page_tokens: PageTokens
    poll_interval_s: float = 0.5
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def servicers(self) -> list[ServicerEntry]:
        """``(service full name, servicer, add function)`` like ``App._servicers``."""
        return [
            (
                "rcommerce.v1.WebhookService",
                WebhookServicer(self.endpoints, self.page_tokens),
                webhooks_pb2_grpc.add_WebhookServiceServicer_to_server,
            ),
            (
                "rcommerce.v1.JobService",
                JobServicer(self.jobs, self.page_tokens),
                webhooks_pb2_grpc.add_JobServiceServicer_to_server,
            ),
        ]

    async def start(self) -> None:
        """Start the dispatcher and worker loops (idempotent)."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self.dispatcher.run_forever(self.poll_interval_s), name="events-dispatcher"),
            asyncio.create_task(self.worker.run_forever(self.poll_interval_s), name="jobs-worker"),
        ]

    async def stop(self) -> None:
        """Cancel the loops, wait for them, release the dispatcher lease, close HTTP."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await self.dispatcher.release()
        except Exception:
            log.warning("could not release the dispatcher lease; it expires by itself", exc_info=True)
        await self.sender.aclose()


def build_event_services(
    db: Database,
    clock: Clock,
    plugin_emit: PluginEmit | None,
    page_tokens: PageTokens,
    *,
    allow_private_targets: bool = False,
    webhook_timeout_s: float = 10.0,
    disable_after_failures: int = 5,
    poll_interval_s: float = 0.5,
    resolver: Resolver = system_resolver,
    event_consumers: Sequence[InTransactionConsumer] = (),
    run_schedules: bool = True,
) -> EventServices:
    """Wire the job queue, worker, dispatcher, webhook sender and admin services.

    :param plugin_emit: ``PluginHost.emit_event`` (or ``None`` for no plugin hooks).
    :param page_tokens: the process's :class:`PageTokens`, shared with other services.
    :param allow_private_targets: ``[webhooks] allow_private_targets``.
    :param event_consumers: called with each event inside the dispatcher's transaction
        for it (``NotificationService.on_event``).
    :param run_schedules: ``[server] run_schedules``: the worker enqueues recurring jobs.
    """
    queue = JobQueue(clock)
    sender = WebhookSender(allow_private_targets=allow_private_targets, timeout_s=webhook_timeout_s, resolver=resolver)
    deliverer = WebhookDeliverer(db, clock, sender, disable_after=disable_after_failures)
    # The deliverer chooses each retry's delay itself (RetryAfter); the job's timeout
    # only needs to cover one HTTP attempt plus its bookkeeping.
    queue.register(DELIVER_KIND, deliverer.run, max_attempts=MAX_ATTEMPTS, timeout_s=webhook_timeout_s + 20)
    dispatcher = Dispatcher(db, clock, queue, plugin_emit, extra_consumers=event_consumers)
    dispatcher.register_jobs()
    return EventServices(
        queue=queue,
        worker=Worker(db, queue, clock, run_schedules=run_schedules),
        dispatcher=dispatcher,
        sender=sender,
        deliverer=deliverer,
        endpoints=WebhookEndpoints(db, clock, deliverer),
        jobs=JobAdmin(db, clock),
        page_tokens=page_tokens,
        poll_interval_s=poll_interval_s,
    )
