"""Wake-ups for event watchers (DECISIONS 24): "the outbox has new events, read it now".

Watchers (``WatchEvents`` streams) read the outbox and then wait. Without a signal they
re-read every poll interval; with one they wake as soon as any process commits an event:

- :class:`LocalSignal` wakes the watchers of this process when this process commits.
- :class:`RedisSignal` also publishes each commit on a Redis pub/sub channel and wakes
  its own watchers for every message on it, so a commit in one process (an API worker, a
  ``rcommerce worker``) wakes the watchers of all of them.

The signal only says *when* to read; the outbox stays the source of truth. A lost
message (Redis down, a reconnect) costs latency, never an event: watchers still re-read
after their poll interval, and a Redis outage is logged once and retried in the background.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from rcommerce.cache.redis import redact_url

log = logging.getLogger("rcommerce.events")

DEFAULT_CHANNEL = "rcommerce:outbox"


class EventSignal(Protocol):
    """What the event stream waits on and what the database pokes after a commit."""

    def committed(self) -> None:
        """Called (synchronously, in the event loop) after a transaction that recorded
        events committed."""

    def ticket(self) -> object:
        """The next wake-up, taken *before* reading the outbox: waiting on it returns at
        once when a commit came between that read and the wait."""

    async def wait(self, timeout_s: float, ticket: object | None = None) -> None:
        """Return at the wake-up of ``ticket`` (the next one when ``None``), or after
        ``timeout_s`` seconds."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class LocalSignal:
    """Wakes this process's waiters; every waiter of a wake-up sees it. Each wake-up sets
    the current event and replaces it: a waiter that took its :meth:`ticket` before its
    read loses no wake-up that comes between the read and the wait."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    def committed(self) -> None:
        self.wake()

    def ticket(self) -> asyncio.Event:
        return self._event

    async def wait(self, timeout_s: float, ticket: object | None = None) -> None:
        event = ticket if isinstance(ticket, asyncio.Event) else self._event
        if event.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout_s)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


class RedisSignal(LocalSignal):
    """A :class:`LocalSignal` whose wake-ups travel between processes over Redis pub/sub."""

    def __init__(self, url: str, *, channel: str = DEFAULT_CHANNEL, retry_s: float = 5.0) -> None:
        super().__init__()
        self.url, self.channel, self.retry_s = url, channel, retry_s
        self._client: aioredis.Redis | None = None
        self._listener: asyncio.Task[None] | None = None
        self._publishes: set[asyncio.Task[None]] = set()
        self._healthy = True
        #: Set once the subscription is live (tests wait on it instead of sleeping).
        self.subscribed = asyncio.Event()

    async def start(self) -> None:
        self._client = aioredis.Redis.from_url(self.url)
        self._listener = asyncio.create_task(self._listen(), name="event-signal-listener")

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._publishes:
            await asyncio.gather(*self._publishes, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()

    def committed(self) -> None:
        self.wake()
        if self._client is not None:
            task = asyncio.create_task(self._publish())
            self._publishes.add(task)
            task.add_done_callback(self._publishes.discard)

    async def _publish(self) -> None:
        assert self._client is not None
        try:
            await self._client.publish(self.channel, b"1")
        except (RedisError, OSError) as exc:
            self._unhealthy(exc)

    async def _listen(self) -> None:
        assert self._client is not None
        while True:
            pubsub = self._client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                self.subscribed.set()
                if not self._healthy:
                    log.info("event wake-ups over Redis at %s work again", redact_url(self.url))
                    self._healthy = True
                    self.wake()  # catch up on whatever was committed meanwhile
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self.wake()
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                self._unhealthy(exc)
                await asyncio.sleep(self.retry_s)  # reconnect back-off, not a test timing
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _unhealthy(self, exc: BaseException) -> None:
        if self._healthy:
            log.warning(
                "event wake-ups over Redis at %s failed (%r); watchers fall back to polling",
                redact_url(self.url), exc,
            )  # fmt: skip
            self._healthy = False


def create_signal(cache_url: str) -> EventSignal:
    """Redis wake-ups when the cache is Redis (the processes share it), else local ones."""
    if cache_url.startswith(("redis://", "rediss://", "unix://")):
        return RedisSignal(cache_url)
    return LocalSignal()
