"""The outbox dispatcher: committed events, in ``seq`` order, to plugin hooks and webhooks.

Per event (at least once; receivers dedupe on the event id):

(a) every plugin's ``rcommerce_on_event`` is awaited through ``plugin_emit``. When any
    fails, an ``events.plugin_hook`` job re-emits the event later with backoff. The retry
    reaches every plugin again, not only the failed one, because the host delivers an
    event to all implementations at once; a plugin never blocks webhooks or later events.
(b) one ``webhooks.deliver`` job per enabled endpoint subscribed to the type, with the
    dedupe key ``whd:<endpoint>:<event>``, so dispatching an event twice (after a crash,
    or on a second process) never sends it twice.

A poll handles its batch in one transaction (lease renewal, the jobs of every event, the
in-transaction consumers, the marks); the plugin hooks of the batch run before it. When a
consumer raises, that transaction rolls back and the batch is committed event by event
instead, so the events before the failing one are kept and it alone is retried.

Progress is persisted per consumer (``event_consumers``), so a restart resumes where the
last run stopped, and a lease on that row makes one process the active dispatcher.

The gap problem: ``seq`` is allocated when a row is inserted, not when its transaction
commits, so seq 7 can become visible after seq 8 (and a rolled-back insert leaves a
hole forever). A plain "last seq seen" cursor would skip 7 for good. So the cursor only
moves over a contiguous prefix of handled events; an event handled above a hole is
recorded in ``event_consumer_marks`` (and is never handled twice). A hole is given up
on, and the cursor moves past it, only once the event just above it is older than
``gap_grace_s`` (default 5 minutes): a transaction open that long has almost surely
rolled back. Holes therefore never delay delivery; they only keep a few marks around.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, exists, false, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.events.models import EventConsumer, EventConsumerMark, WebhookEndpointRow
from rcommerce.events.outbox import OutboxEvent
from rcommerce.events.webhooks import DELIVER_KIND, endpoint_matches
from rcommerce.ids import new_id
from rcommerce.jobs.queue import Job, JobQueue
from rcommerce.jobs.worker import local_process_gone
from rcommerce.plugins.providers import Event

__all__ = ["PLUGIN_HOOK_KIND", "Dispatcher", "InTransactionConsumer", "PluginEmit"]

log = logging.getLogger(__name__)

#: Delivers an event to every plugin; returns the failures (``PluginHost.emit_event``).
PluginEmit = Callable[[Event], Awaitable[Sequence[Any]]]
#: Called with each event inside the dispatcher's transaction for it (the notification
#: rules, for one); it may add rows and jobs but must not commit. Raising rolls the
#: event back and it is handled again on the next poll.
InTransactionConsumer = Callable[[AsyncSession, Event], Awaitable[object]]
PLUGIN_HOOK_KIND = "events.plugin_hook"


_INSERT_MARK = insert(cast(Table, EventConsumerMark.__table__))


def to_event(row: OutboxEvent) -> Event:
    return Event(id=row.id, type=row.type, subject=row.subject, data=row.data, created_at=row.created_at)


@dataclass(slots=True)
class _Pending:
    """An event of the batch being handled, with how its plugin hooks went."""

    seq: int
    event: Event
    plugins_failed: bool = False


class Dispatcher:
    """Reads the outbox for one consumer and fans events out (see the module doc)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        queue: JobQueue,
        plugin_emit: PluginEmit | None = None,
        *,
        consumer: str = "dispatcher",
        owner: str = "",
        batch_size: int = 100,
        gap_grace_s: float = 300.0,
        lease_s: float = 120.0,
        extra_consumers: Sequence[InTransactionConsumer] = (),
    ) -> None:
        self.db, self.clock, self.queue = db, clock, queue
        self.plugin_emit = plugin_emit
        self.extra_consumers = tuple(extra_consumers)
        self.consumer = consumer
        # host:pid:suffix like job workers, so a restarted process can tell that the
        # lease holder died (SIGKILL) and take over at once instead of after lease_s.
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{new_id('dsp', clock.now())[-6:]}"
        self.batch_size = batch_size
        self.gap_grace = timedelta(seconds=gap_grace_s)
        self.lease = timedelta(seconds=lease_s)

    def register_jobs(self) -> None:
        """Register the plugin-hook retry job kind on the queue."""
        self.queue.register(PLUGIN_HOOK_KIND, self._retry_plugins, max_attempts=8, timeout_s=120.0)

    async def _retry_plugins(self, job: Job) -> None:
        if self.plugin_emit is None:
            return
        async with self.db.read() as session:
            row = (
                await session.execute(select(OutboxEvent).where(OutboxEvent.id == job.payload["event_id"]))
            ).scalar_one_or_none()
        if row is None:
            return
        failures = await self.plugin_emit(to_event(row))
        if failures:
            raise RuntimeError(f"{len(failures)} plugin event hook(s) failed for {row.id}")

    # -- lease and progress ---------------------------------------------------------
    async def _acquire(self) -> int | None:
        """Take or renew the lease; the consumer's last_seq, or None when another holds it."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            holder_row = (
                await session.execute(select(EventConsumer.lease_owner).where(EventConsumer.name == self.consumer))
            ).first()
            if holder_row is None:
                try:
                    async with session.begin_nested():
                        session.add(
                            EventConsumer(
                                name=self.consumer, last_seq=0, lease_owner=None, lease_until=None, updated_at=now
                            )
                        )
                except IntegrityError:
                    pass  # another process created it first
                holder = await session.scalar(
                    select(EventConsumer.lease_owner).where(EventConsumer.name == self.consumer)
                )
            else:
                holder = holder_row[0]
            host = socket.gethostname()
            holder_dead = bool(holder) and str(holder).startswith(f"{host}:") and local_process_gone(str(holder), host)
            result = await session.execute(
                update(EventConsumer)
                .where(
                    EventConsumer.name == self.consumer,
                    or_(
                        EventConsumer.lease_owner == self.owner,
                        EventConsumer.lease_owner == holder if holder_dead else false(),
                        EventConsumer.lease_until.is_(None),
                        EventConsumer.lease_until < now,
                    ),
                )
                .values(lease_owner=self.owner, lease_until=now + self.lease, updated_at=now)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return int(
                await session.scalar(select(EventConsumer.last_seq).where(EventConsumer.name == self.consumer)) or 0
            )

    async def release(self) -> None:
        """Give the lease up (on clean shutdown) so another process need not wait."""
        async with self.db.transaction() as session:
            await session.execute(
                update(EventConsumer)
                .where(EventConsumer.name == self.consumer, EventConsumer.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )

    def _unhandled(self, last_seq: Any) -> Any:
        marked = exists().where(EventConsumerMark.consumer == self.consumer, EventConsumerMark.seq == OutboxEvent.seq)
        return (OutboxEvent.seq > last_seq) & ~marked

    async def _advance(self, last_seq: int) -> int:
        """Move the cursor over handled events and old holes; drop marks below it."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            first_unhandled = await session.scalar(select(func.min(OutboxEvent.seq)).where(self._unhandled(last_seq)))
            marks = (
                await session.execute(
                    select(EventConsumerMark.seq, EventConsumerMark.event_created_at)
                    .where(EventConsumerMark.consumer == self.consumer, EventConsumerMark.seq > last_seq)
                    .order_by(EventConsumerMark.seq)
                )
            ).all()
            cursor = last_seq
            for seq, created_at in marks:
                if first_unhandled is not None and seq > first_unhandled:
                    break
                # Every existing row below first_unhandled is marked, so a hole here is
                # rows not (yet) visible: skip it only once it is old (module doc).
                if seq != cursor + 1 and created_at > now - self.gap_grace:
                    break
                cursor = seq
            if cursor != last_seq:
                await session.execute(
                    update(EventConsumer)
                    .where(EventConsumer.name == self.consumer, EventConsumer.lease_owner == self.owner)
                    .values(last_seq=cursor, updated_at=now)
                )
                await session.execute(
                    delete(EventConsumerMark).where(
                        EventConsumerMark.consumer == self.consumer, EventConsumerMark.seq <= cursor
                    )
                )
        return cursor

    # -- fan-out -------------------------------------------------------------------------
    async def run_once(self) -> int:
        """Handle one batch of events in seq order. Returns how many were handled (0 when
        there were none or another process holds the lease)."""
        # A read first: idle polls then never take a write lock (SQLite has only one).
        async with self.db.read() as session:
            known = select(EventConsumer.last_seq).where(EventConsumer.name == self.consumer).scalar_subquery()
            pending, marked = (
                await session.execute(
                    select(
                        exists().where(self._unhandled(func.coalesce(known, 0))),
                        exists().where(EventConsumerMark.consumer == self.consumer),
                    )
                )
            ).one()
        if not pending and not marked:
            return 0  # nothing to handle and no hole waiting to be passed
        last_seq = await self._acquire()
        if last_seq is None:
            return 0
        async with self.db.read() as session:
            rows = (
                await session.execute(
                    select(
                        OutboxEvent.seq,
                        OutboxEvent.id,
                        OutboxEvent.type,
                        OutboxEvent.subject,
                        OutboxEvent.data,
                        OutboxEvent.created_at,
                    )
                    .where(self._unhandled(last_seq))
                    .order_by(OutboxEvent.seq)
                    .limit(self.batch_size)
                )
            ).all()
            endpoints = (
                await session.execute(
                    select(WebhookEndpointRow.id, WebhookEndpointRow.event_types).where(
                        WebhookEndpointRow.disabled.is_(False)
                    )
                )
            ).all()
        events = [
            _Pending(seq, Event(id=id_, type=type_, subject=subject, data=data, created_at=created_at))
            for seq, id_, type_, subject, data, created_at in rows
        ]
        for pending_event in events:
            pending_event.plugins_failed = await self._emit_plugins(pending_event.event)
        targets = [(str(endpoint_id), list(types)) for endpoint_id, types in endpoints]
        try:
            handled = await self._commit(events, targets)
        except Exception:
            if len(events) == 1:
                raise
            # A consumer raised: the whole batch rolled back. Commit the events one by one
            # instead, so those before the failing one are kept and it alone is retried.
            handled = 0
            for pending_event in events:
                if not await self._commit([pending_event], targets):
                    break
                handled += 1
        await self._advance(last_seq)
        return handled

    async def _emit_plugins(self, event: Event) -> bool:
        """Deliver ``event`` to the plugins; True when a hook failed (retried by a job)."""
        if self.plugin_emit is None:
            return False
        try:
            return bool(await self.plugin_emit(event))
        except Exception:
            log.exception("dispatcher: plugin event hooks raised for %s", event.id)
            return True

    async def _commit(self, events: Sequence[_Pending], endpoints: Sequence[tuple[str, list[str]]]) -> int:
        """Enqueue the webhook deliveries and plugin retries of ``events``, run the
        in-transaction consumers and mark the events handled, all in one transaction.
        Returns how many were handled: all of them, or 0 when the lease was lost."""
        if not events:
            return 0
        now = self.clock.now()
        async with self.db.transaction() as session:
            renewed = await session.execute(
                update(EventConsumer)
                .where(EventConsumer.name == self.consumer, EventConsumer.lease_owner == self.owner)
                .values(lease_until=now + self.lease)
            )
            if renewed.rowcount != 1:  # type: ignore[attr-defined]
                log.warning("dispatcher %s lost its lease on %s; stopping this batch", self.owner, self.consumer)
                return 0
            for pending_event in events:
                event = pending_event.event
                for endpoint_id, event_types in endpoints:
                    if endpoint_matches(event_types, event.type):
                        await self.queue.enqueue(
                            session,
                            DELIVER_KIND,
                            {"endpoint_id": endpoint_id, "event_id": event.id},
                            dedupe_key=f"whd:{endpoint_id}:{event.id}",
                        )
                if pending_event.plugins_failed:
                    await self.queue.enqueue(
                        session,
                        PLUGIN_HOOK_KIND,
                        {"event_id": event.id},
                        run_at=now + timedelta(seconds=5),
                        dedupe_key=f"plugin:{event.id}",
                    )
                for consume in self.extra_consumers:
                    await consume(session, event)
            await session.execute(
                _INSERT_MARK,
                [{"consumer": self.consumer, "seq": p.seq, "event_created_at": p.event.created_at} for p in events],
            )
        return len(events)

    async def run_forever(self, poll_interval_s: float = 0.5) -> None:
        """Poll until cancelled; errors are logged and retried."""
        while True:
            try:
                handled = await self.run_once()
            except Exception:
                log.exception("dispatcher %s: polling failed; retrying", self.owner)
                handled = 0
            if handled == 0:
                await asyncio.sleep(poll_interval_s)
