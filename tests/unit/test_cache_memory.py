"""MemoryCache: TTLs on an injected clock, LRU eviction, counters, deletes; and the factory."""

from __future__ import annotations

from rcommerce.cache import Cache, FallbackCache, MemoryCache, RedisCache, create_cache
from rcommerce.clock import FrozenClock
from rcommerce.config import CacheSettings


async def test_get_missing_is_none() -> None:
    assert await MemoryCache().get("nope") is None


async def test_set_and_get_without_ttl_never_expires() -> None:
    clock = FrozenClock()
    cache = MemoryCache(clock=clock)
    await cache.set("k", b"v")
    clock.advance(10**9)
    assert await cache.get("k") == b"v"


async def test_ttl_expiry_on_frozen_clock() -> None:
    clock = FrozenClock()
    cache = MemoryCache(clock=clock)
    await cache.set("k", b"v", ttl_s=30)
    clock.advance(29.9)
    assert await cache.get("k") == b"v"
    clock.advance(0.1)
    assert await cache.get("k") is None


async def test_set_again_replaces_value_and_ttl() -> None:
    clock = FrozenClock()
    cache = MemoryCache(clock=clock)
    await cache.set("k", b"old", ttl_s=5)
    await cache.set("k", b"new")
    clock.advance(60)
    assert await cache.get("k") == b"new"


async def test_lru_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_entries=3)
    for key in ("a", "b", "c"):
        await cache.set(key, key.encode())
    assert await cache.get("a") == b"a"  # "a" is now most recently used; "b" is oldest
    await cache.set("d", b"d")
    assert await cache.get("b") is None
    assert [await cache.get(k) for k in ("a", "c", "d")] == [b"a", b"c", b"d"]


async def test_incr_starts_at_one_and_counts() -> None:
    cache = MemoryCache()
    assert [await cache.incr("n") for _ in range(3)] == [1, 2, 3]
    assert await cache.get("n") == b"3"


async def test_incr_continues_from_a_stored_integer() -> None:
    cache = MemoryCache()
    await cache.set("n", b"41")
    assert await cache.incr("n") == 42


async def test_delete_removes_keys_and_ignores_missing() -> None:
    cache = MemoryCache()
    await cache.set("a", b"1")
    await cache.set("b", b"2")
    await cache.delete("a", "b", "missing")
    await cache.delete()
    assert await cache.get("a") is None
    assert await cache.get("b") is None


async def test_memory_cache_satisfies_protocol() -> None:
    assert isinstance(MemoryCache(), Cache)


async def test_factory_memory_url_gives_memory_cache() -> None:
    cache = create_cache(CacheSettings(url="memory://", memory_max_entries=100))
    assert isinstance(cache, MemoryCache)


async def test_factory_redis_url_gives_fallback_over_redis_without_connecting() -> None:
    cache = create_cache(CacheSettings(url="redis://:secret@127.0.0.1:1/0", redis_retry_s=7))
    try:
        assert isinstance(cache, FallbackCache)
        assert isinstance(cache.primary, RedisCache)
        assert isinstance(cache.fallback, MemoryCache)
        assert cache.retry_s == 7
        assert cache.primary.display_url == "redis://127.0.0.1:1/0"
        assert isinstance(cache, Cache)
    finally:
        await cache.close()
