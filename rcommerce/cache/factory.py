"""Build the configured cache: memory, or Redis with an in-process memory fallback."""

from __future__ import annotations

from rcommerce.cache.base import Cache
from rcommerce.cache.fallback import FallbackCache
from rcommerce.cache.memory import MemoryCache
from rcommerce.cache.redis import RedisCache
from rcommerce.clock import Clock, SystemClock
from rcommerce.config import CacheSettings


def create_cache(settings: CacheSettings, clock: Clock | None = None) -> Cache:
    """``MemoryCache`` for ``memory://``; otherwise Redis that degrades to memory when down.

    Creating the cache does not connect: a Redis that is down at start-up is noticed (and
    warned about once) by the first operation, and the application starts regardless.
    """
    clock = clock or SystemClock()
    memory = MemoryCache(max_entries=settings.memory_max_entries, clock=clock)
    if settings.url.startswith("memory://"):
        return memory
    return FallbackCache(RedisCache(settings.url), memory, settings.redis_retry_s, clock)
