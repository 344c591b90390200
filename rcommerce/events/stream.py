"""The event stream (DECISIONS 24): committed outbox events, in ``seq`` order, for
``EventService.WatchEvents`` (server streaming, SSE on the REST bridge) and ``ListEvents``.

A reader's place is a :class:`~rcommerce.events.cursor.Position`: a contiguous frontier
plus a few ranges of seqs above it already delivered, carried by the opaque cursor. A
read takes the rows above the frontier outside those ranges, oldest first; every row read
is added to the position, also the ones the caller does not receive, and each event
carries the cursor of the position after it. So an event whose lower ``seq`` commits
after higher ones were streamed (PostgreSQL, MySQL: seq is allocated at insert, not at
commit) is still read, exactly once, by a watcher and by a client resuming from any
cursor. This costs no latency: events above a hole are delivered at once; the hole only
stays in the cursor. A hole is given up (the frontier moves past it) once the event just
above it is older than ``gap_grace_s`` by the injected clock: events are written at
flush or commit, so a transaction open that long has rolled back. The cursor module
documents the bound on the ranges a cursor carries. The type filter applies to the rows
read, not in SQL: a row the query skipped could not be told apart from one not yet
committed, so a watcher of few types reads past the others, narrow (seq, type and time;
only the events it receives are loaded whole).

Events are filtered by the requested types (exact, ``resource.*`` or ``*``) and by what
the caller may read: the resource of an event type (``product`` of ``product.created``)
maps to a scope (``products:read``) through :data:`RESOURCE_SCOPES`; types of unlisted
resources need the global ``read`` scope.

Waiting for new events waits on an :class:`~rcommerce.events.wakeup.EventSignal`: a
commit that appended events wakes the watchers at once, in this process (local signal)
or in every process sharing the Redis of ``[cache] url`` (pub/sub, DECISIONS 24). The
outbox stays the source of truth: watchers also re-read every ``poll_interval_s``, so a
lost wake-up (Redis down, a process without Redis) costs latency, never an event.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import Row, select

from rcommerce.auth.principal import Principal
from rcommerce.clock import Clock, SystemClock
from rcommerce.db.database import Database
from rcommerce.errors import invalid
from rcommerce.events.cursor import Position, encode_cursor, expire_hole
from rcommerce.events.outbox import OutboxEvent
from rcommerce.events.wakeup import EventSignal, LocalSignal
from rcommerce.gen.v1 import events_pb2

#: Event resource ("product" of "product.created") -> the scope resource whose read
#: scope lets a caller see it. Resources not listed need the global "read" scope.
RESOURCE_SCOPES: dict[str, str] = {
    "api_key": "api_keys",
    "cart": "carts",
    "category": "products",
    "checkout": "checkout",
    "claim": "orders",
    "collection": "products",
    "customer": "customers",
    "customer_address": "customers",
    "customer_group": "customers",
    "exchange": "orders",
    "export": "exports",
    "fulfillment": "orders",
    "import": "imports",
    "inventory": "inventory",
    "inventory_item": "inventory",
    "job": "jobs",
    "media": "media",
    "notification": "notifications",
    "order": "orders",
    "order_change": "orders",
    "payment": "payments",
    "price_list": "products",
    "product": "products",
    "promotion": "promotions",
    "refund": "payments",
    "region": "regions",
    "return": "orders",
    "shipment": "shipping",
    "shipping_profile": "shipping",
    "shipping_rate": "shipping",
    "shipping_rule": "shipping",
    "shipping_zone": "shipping",
    "stock_location": "inventory",
    "subscription": "subscriptions",
    "tax_category": "tax",
    "tax_exemption": "tax",
    "tax_rate": "tax",
    "tax_zone": "tax",
    "variant": "products",
    "webhook_endpoint": "webhooks",
}

DEFAULT_POLL_INTERVAL_S = 0.2
DEFAULT_BATCH_SIZE = 100
DEFAULT_GAP_GRACE_S = 60.0
_TYPE_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*\.(\*|[a-z][a-z0-9_]*))$")


def scope_for(event_type: str) -> str:
    """The scope a caller needs to see events of ``event_type``."""
    resource = event_type.split(".", 1)[0]
    scoped = RESOURCE_SCOPES.get(resource)
    return f"{scoped}:read" if scoped else "read"


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events one caller receives: the requested types and the caller's scopes."""

    exact: frozenset[str]
    prefixes: tuple[str, ...]  # "product." for "product.*"
    everything: bool
    principal: Principal

    @classmethod
    def build(cls, types: Iterable[str], principal: Principal, field: str = "types") -> EventFilter:
        exact: set[str] = set()
        prefixes: list[str] = []
        everything = False
        wanted = list(types)
        for i, text in enumerate(wanted):
            if not _TYPE_PATTERN.match(text):
                raise invalid(f"{field}[{i}]", f"{text!r} is not an event type, 'resource.*' or '*'")
            if text == "*":
                everything = True
            elif text.endswith(".*"):
                prefixes.append(text[:-1])
            else:
                exact.add(text)
        return cls(frozenset(exact), tuple(sorted(set(prefixes))), everything or not wanted, principal)

    def wants_type(self, event_type: str) -> bool:
        return self.everything or event_type in self.exact or event_type.startswith(self.prefixes)

    def allows(self, event_type: str) -> bool:
        return self.wants_type(event_type) and self.principal.allows(scope_for(event_type))


def to_proto(row: OutboxEvent, position: Position) -> events_pb2.Event:
    """The event of ``row``; ``position`` is the reader's position once it was delivered."""
    stamp = Timestamp()
    stamp.FromDatetime(row.created_at)
    data = Struct()
    data.update(row.data or {})
    return events_pb2.Event(
        id=row.id,
        type=row.type,
        subject=row.subject,
        create_time=stamp,
        cursor=encode_cursor(position),
        data=data,
    )


@dataclass(frozen=True, slots=True)
class Batch:
    """One read of the outbox: the events the caller may see (each with the cursor of the
    position after it), the position after every row read with expired holes given up,
    and whether more rows may follow at once."""

    events: list[events_pb2.Event]
    position: Position
    more: bool


class EventStream:
    """Reads the outbox for watchers and catch-up pages."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock | None = None,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        batch_size: int = DEFAULT_BATCH_SIZE,
        gap_grace_s: float = DEFAULT_GAP_GRACE_S,
        signal: EventSignal | None = None,
    ) -> None:
        self._db = db
        self._clock = clock or SystemClock()
        self.poll_interval_s = poll_interval_s
        self._batch = batch_size
        self._gap_grace = timedelta(seconds=gap_grace_s)
        self._signal = signal or LocalSignal()

    async def page(self, position: Position, selection: EventFilter, limit: int) -> Batch:
        """Up to ``limit`` rows not covered by ``position``, oldest first, as a batch.

        Every row read counts as examined, so the filter cannot run in SQL (a row left out
        there would look like one not yet committed). The rows are therefore read narrow
        first (seq, type, time) and only the ones the caller receives are loaded whole: a
        watcher of a few types does not pull every other event's payload."""
        heads = await self._unseen(position, limit)
        rows = await self._rows([head.seq for head in heads if selection.allows(head.type)])
        events: list[events_pb2.Event] = []
        for head in heads:
            position = position.after_examining(head.seq)
            row = rows.get(head.seq)
            if row is not None:
                events.append(to_proto(row, position))
        position = await self._expire_holes(position, {head.seq: head.created_at for head in heads})
        return Batch(events, position, len(heads) == limit)

    async def _unseen(self, position: Position, limit: int) -> Sequence[Row[int, str, datetime]]:
        query = (
            select(OutboxEvent.seq, OutboxEvent.type, OutboxEvent.created_at)
            .where(OutboxEvent.seq > position.frontier, *(~OutboxEvent.seq.between(a, b) for a, b in position.seen))
            .order_by(OutboxEvent.seq)
            .limit(limit)
        )
        async with self._db.read() as session:
            return (await session.execute(query)).all()

    async def _rows(self, seqs: Sequence[int]) -> dict[int, OutboxEvent]:
        if not seqs:
            return {}
        async with self._db.read() as session:
            return {row.seq: row for row in await session.scalars(select(OutboxEvent).where(OutboxEvent.seq.in_(seqs)))}

    async def _expire_holes(self, position: Position, created: Mapping[int, datetime]) -> Position:
        """Give up the holes above the frontier whose next event is older than the grace
        period, lowest first. ``created`` has the rows just read; another range start
        costs one primary-key lookup (at most one per hole given up, plus one)."""
        deadline = self._clock.now() - self._gap_grace
        while position.seen:
            start = position.seen[0][0]
            start_created = created[start] if start in created else await self._created_at(start)
            expired = expire_hole(position, start_created, deadline)
            if expired == position:
                return position
            position = expired
        return position

    async def _created_at(self, seq: int) -> datetime | None:
        async with self._db.read() as session:
            return await session.scalar(select(OutboxEvent.created_at).where(OutboxEvent.seq == seq))

    async def watch(
        self, start: Position, selection: EventFilter, *, max_events: int = 0
    ) -> AsyncIterator[events_pb2.Event]:
        """Every visible event after ``start``, in seq order within a read (a lower seq
        committed late comes in a later read), then new ones as they are committed, until
        ``max_events`` were sent (0: until the consumer stops).

        Cancellation (the client went away) ends the generator through CancelledError,
        which propagates untouched; closing the generator releases nothing else, since no
        session is held while waiting.
        """
        sent = 0
        position = start
        while True:
            ticket = self._signal.ticket()  # before the read: a commit during it wakes the wait
            batch = await self.page(position, selection, self._batch)
            for event in batch.events:
                yield event
                sent += 1
                if max_events and sent >= max_events:
                    return
            position = batch.position
            if not batch.more:
                await self._signal.wait(self.poll_interval_s, ticket)
