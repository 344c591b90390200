"""WatchOrder: an order's versions as it changes (DECISIONS 24).

The watcher sends the order as it is, then waits on the event signal. Every command that
changes an order records its events in the same transaction, and the signal wakes the
watchers after such a commit, in this process or in every process sharing the Redis of
``[cache] url``. On a wake-up the watcher reads the order again, with the caller's view
(customers do not see the risk figures), and sends it only when its message differs from
the last one sent: a commit about other orders costs one read and sends nothing. Reads
are at least ``min_interval_s`` apart, so a busy shop's commits do not turn each watcher
into a loop of reads, and happen at least every ``poll_interval_s``, so a lost wake-up
costs latency, never a version.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from rcommerce.auth.principal import Principal
from rcommerce.domain.orders.service import OrderService
from rcommerce.events.wakeup import EventSignal
from rcommerce.gen.v1 import orders_pb2 as O

__all__ = ["OrderWatch"]


class OrderWatch:
    """Streams versions of one order to one caller (see the module doc)."""

    def __init__(
        self, orders: OrderService, signal: EventSignal, *, poll_interval_s: float = 5.0, min_interval_s: float = 0.2
    ) -> None:
        self._orders = orders
        self._signal = signal
        self.poll_interval_s = poll_interval_s
        self.min_interval_s = min_interval_s

    async def watch(self, principal: Principal, name: str, *, max_updates: int = 0) -> AsyncIterator[O.Order]:
        """The order now, then each changed version, until ``max_updates`` were sent (0:
        until the consumer stops). The first read checks access as GetOrder does and
        raises before anything is sent."""
        sent = 0
        last = b""
        while True:
            ticket = self._signal.ticket()  # before the read: a commit during it wakes the wait
            read_at = time.monotonic()
            order = await self._orders.get_order(principal, name)
            name = order.name  # an order number resolves to the order's id once
            version = order.SerializeToString(deterministic=True)
            if version != last:
                last = version
                yield order
                sent += 1
                if max_updates and sent >= max_updates:
                    return
            await self._signal.wait(self.poll_interval_s, ticket)
            pause = self.min_interval_s - (time.monotonic() - read_at)
            if pause > 0:
                await asyncio.sleep(pause)
