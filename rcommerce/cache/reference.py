"""Reference data (regions, tax zones, shipping tables) memoised in the process.

Reference data is read by every cart pricing and changes rarely, so the readers keep the
immutable objects they build (frozen dataclasses, tuples) in a bounded in-process memo
instead of reloading rows. Nothing is serialised: a hit returns the very object built by
the miss, so callers must treat it as read-only.

Invalidation works like the catalog's: each namespace ("regions", "tax", "shipping") has a
generation counter in the shared :class:`~rcommerce.cache.base.Cache`, part of every memo
key. The owning context's writers call :meth:`ReferenceCache.bump` after their transaction
commits; with Redis every process sees the new generation on its next read, with the memory
cache only this process does (other processes catch up when their entries expire). Each
entry also expires ``ttl_s`` after it was loaded, the safety net for a lost bump.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import TypeVar, cast

from rcommerce.cache.base import Cache
from rcommerce.clock import Clock, SystemClock

__all__ = ["ReferenceCache", "generation_key", "through"]

T = TypeVar("T")


def generation_key(namespace: str) -> str:
    """The shared cache key of ``namespace``'s generation counter."""
    return f"reference:{namespace}:gen"


class ReferenceCache:
    """A bounded LRU of reference objects keyed by (namespace, generation, key), with a TTL."""

    def __init__(
        self, cache: Cache, clock: Clock | None = None, *, ttl_s: float = 300, max_entries: int = 10_000
    ) -> None:
        self._cache = cache
        self._clock = clock or SystemClock()
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[tuple[str, int, Hashable], tuple[object, float]] = OrderedDict()
        #: The highest generation read per namespace; a lower one means the counter was lost.
        self._seen: dict[str, int] = {}

    async def get(self, namespace: str, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The memoised value of ``key`` for the current generation, or ``load()``'s (kept).

        The generation is read before ``load`` runs, so a value loaded while a writer commits
        is filed under the generation the writer's bump leaves behind."""
        full = (namespace, await self._generation(namespace), key)
        entry = self._entries.get(full)
        if entry is not None:
            value, expires = entry
            if expires > self._clock.monotonic():
                self._entries.move_to_end(full)
                return cast(T, value)
            del self._entries[full]
        loaded = await load()
        self._entries[full] = (loaded, self._clock.monotonic() + self._ttl_s)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return loaded

    async def bump(self, namespace: str) -> None:
        """Move ``namespace`` to a new generation (call after the write committed)."""
        await self._cache.incr(generation_key(namespace))
        self._forget(namespace)

    async def _generation(self, namespace: str) -> int:
        value = await self._cache.get(generation_key(namespace))
        generation = int(value) if value is not None else 0
        if generation < self._seen.get(namespace, 0):
            # The counter went back (evicted, Redis flushed): entries filed under the
            # numbers it will reach again may predate writes, so drop them.
            self._forget(namespace)
        self._seen[namespace] = generation
        return generation

    def _forget(self, namespace: str) -> None:
        for full in [k for k in self._entries if k[0] == namespace]:
            del self._entries[full]


async def through(
    reference: ReferenceCache | None, namespace: str, key: Hashable, load: Callable[[], Awaitable[T]]
) -> T:
    """``load()`` through ``reference`` when one is configured, else straight from the database."""
    if reference is None:
        return await load()
    return await reference.get(namespace, key, load)
