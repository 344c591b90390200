"""The event stream (DECISIONS 24): committed outbox events, in ``seq`` order, for
``EventService.WatchEvents`` (server streaming, SSE on the REST bridge) and ``ListEvents``.

A cursor is the opaque position of an event: base64url of ``"seq:<N>"``; reading
"after a cursor" means ``seq > N``. Events are filtered by the requested types (exact,
``resource.*`` or ``*``) and by what the caller may read: the resource of an event type
(``product`` of ``product.created``) maps to a scope (``products:read``) through
:data:`RESOURCE_SCOPES`; types of unlisted resources need the global ``read`` scope.

Waiting for new events waits on an :class:`~rcommerce.events.wakeup.EventSignal`: a
commit that appended events wakes the watchers at once, in this process (local signal)
or in every process sharing the Redis of ``[cache] url`` (pub/sub, DECISIONS 24). The
outbox stays the source of truth: watchers also re-read every ``poll_interval_s``, so a
lost wake-up (Redis down, a process without Redis) costs latency, never an event.

Known limit: on databases where concurrent transactions can commit sequence numbers out
of order (PostgreSQL, MySQL), an event whose lower ``seq`` commits after a higher one was
already streamed is skipped by a watcher that has passed it. The dispatcher handles that
case with consumer marks; the stream does not yet (SQLite serialises writers).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from google.protobuf.struct_pb2 import Struct
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import or_, select

from rcommerce.auth.principal import Principal
from rcommerce.db.database import Database
from rcommerce.domain.events.errors import INVALID_CURSOR
from rcommerce.errors import FieldViolation, RequestError, invalid
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
_TYPE_PATTERN = re.compile(r"^(\*|[a-z][a-z0-9_]*\.(\*|[a-z][a-z0-9_]*))$")
_CURSOR_PREFIX = "seq:"


def encode_cursor(seq: int) -> str:
    """The opaque cursor of the event with ``seq``."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, field: str = "cursor") -> int:
    """The seq of ``cursor``; 0 for an empty cursor. Raises INVALID_CURSOR otherwise."""
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    number = text[len(_CURSOR_PREFIX) :] if text.startswith(_CURSOR_PREFIX) else ""
    if not number.isdigit() or len(number) > 18 or encode_cursor(int(number)) != cursor.rstrip("="):
        raise RequestError(
            INVALID_CURSOR,
            f"{field} is not an event cursor issued by this server.",
            violations=[FieldViolation(field, "not an event cursor")],
            field=field,
        )
    return int(number)


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


def to_proto(row: OutboxEvent) -> events_pb2.Event:
    stamp = Timestamp()
    stamp.FromDatetime(row.created_at)
    data = Struct()
    data.update(row.data or {})
    return events_pb2.Event(
        id=row.id, type=row.type, subject=row.subject, create_time=stamp, cursor=encode_cursor(row.seq), data=data
    )


class EventStream:
    """Reads the outbox for watchers and catch-up pages."""

    def __init__(
        self,
        db: Database,
        *,
        poll_interval_s: float = DEFAULT_POLL_INTERVAL_S,
        batch_size: int = DEFAULT_BATCH_SIZE,
        signal: EventSignal | None = None,
    ) -> None:
        self._db = db
        self.poll_interval_s = poll_interval_s
        self._batch = batch_size
        self._signal = signal or LocalSignal()

    async def read_batch(
        self, after_seq: int, selection: EventFilter, limit: int
    ) -> tuple[list[OutboxEvent], int, bool]:
        """Up to ``limit`` rows with ``seq > after_seq`` of the requested types, oldest
        first. Returns the rows the caller may see, the last seq examined (``after_seq``
        when none) and whether more rows may follow."""
        query = select(OutboxEvent).where(OutboxEvent.seq > after_seq)
        if not selection.everything:
            # Narrow in SQL; the exact check (LIKE's "_" is a wildcard) happens below.
            conditions = [OutboxEvent.type.in_(sorted(selection.exact))] if selection.exact else []
            conditions += [OutboxEvent.type.like(f"{p}%") for p in selection.prefixes]
            query = query.where(or_(*conditions))
        query = query.order_by(OutboxEvent.seq).limit(limit)
        async with self._db.read() as session:
            rows = list((await session.scalars(query)).all())
        last = rows[-1].seq if rows else after_seq
        return [r for r in rows if selection.allows(r.type)], last, len(rows) == limit

    async def page(self, after_seq: int, selection: EventFilter, size: int) -> tuple[list[events_pb2.Event], int, bool]:
        """One page for ListEvents: events, the last seq examined, whether more follow."""
        rows, last, more = await self.read_batch(after_seq, selection, size)
        return [to_proto(r) for r in rows], last, more

    async def watch(
        self, after_seq: int, selection: EventFilter, *, max_events: int = 0
    ) -> AsyncIterator[events_pb2.Event]:
        """Every visible event after ``after_seq``, in order, then new ones as they are
        committed, until ``max_events`` were sent (0: until the consumer stops).

        Cancellation (the client went away) ends the generator through CancelledError,
        which propagates untouched; closing the generator releases nothing else, since no
        session is held while waiting.
        """
        sent = 0
        position = after_seq
        while True:
            ticket = self._signal.ticket()  # before the read: a commit during it wakes the wait
            rows, position, more = await self.read_batch(position, selection, self._batch)
            for row in rows:
                yield to_proto(row)
                sent += 1
                if max_events and sent >= max_events:
                    return
            if not more:
                await self._signal.wait(self.poll_interval_s, ticket)
