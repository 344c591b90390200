"""ReferenceCache: one load per generation and key, bumps, TTL on an injected clock, a bounded
memo, a lost generation counter, and readers without a memo."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from rcommerce.cache import MemoryCache
from rcommerce.cache.reference import ReferenceCache, generation_key, through
from rcommerce.clock import FrozenClock


class Loader:
    """Counts loads; each load returns a new object."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, value: str = "v") -> Callable[[], Awaitable[tuple[str, int]]]:
        async def load() -> tuple[str, int]:
            self.calls += 1
            return value, self.calls

        return load


async def test_a_hit_returns_the_loaded_object_without_loading_again() -> None:
    memo, load = ReferenceCache(MemoryCache()), Loader()
    first = await memo.get("regions", "reg_1", load())
    assert await memo.get("regions", "reg_1", load()) is first
    assert load.calls == 1
    await memo.get("regions", "reg_2", load())
    await memo.get("tax", "reg_1", load())
    assert load.calls == 3  # keys and namespaces are apart


async def test_a_bump_reloads_only_its_namespace() -> None:
    memo, load = ReferenceCache(MemoryCache()), Loader()
    await memo.get("regions", "k", load())
    await memo.get("tax", "k", load())
    await memo.bump("regions")
    assert await memo.get("regions", "k", load()) == ("v", 3)
    assert await memo.get("tax", "k", load()) == ("v", 2)


async def test_a_bump_through_a_shared_cache_reaches_another_memo() -> None:
    shared = MemoryCache()  # stands for Redis shared by two processes
    reader, writer, load = ReferenceCache(shared), ReferenceCache(shared), Loader()
    await reader.get("shipping", "zones", load("old"))
    await writer.bump("shipping")
    assert await reader.get("shipping", "zones", load("new")) == ("new", 2)


async def test_entries_expire_after_the_ttl() -> None:
    clock = FrozenClock()
    memo, load = ReferenceCache(MemoryCache(), clock, ttl_s=60), Loader()
    await memo.get("tax", "DE", load())
    clock.advance(59.9)
    await memo.get("tax", "DE", load())
    assert load.calls == 1
    clock.advance(0.1)
    assert await memo.get("tax", "DE", load()) == ("v", 2)


async def test_the_memo_keeps_at_most_max_entries_least_recently_used_first_out() -> None:
    memo, load = ReferenceCache(MemoryCache(), max_entries=2), Loader()
    await memo.get("regions", "a", load())
    await memo.get("regions", "b", load())
    await memo.get("regions", "a", load())  # a is now the most recent
    await memo.get("regions", "c", load())  # evicts b
    assert load.calls == 3
    await memo.get("regions", "a", load())
    assert load.calls == 3
    await memo.get("regions", "b", load())
    assert load.calls == 4


async def test_a_lost_generation_counter_drops_the_namespace() -> None:
    cache = MemoryCache()
    memo, load = ReferenceCache(cache), Loader()
    await memo.bump("regions")
    await memo.get("regions", "k", load())  # filed under generation 1
    await cache.delete(generation_key("regions"))  # evicted, or Redis flushed
    await memo.get("regions", "k", load())  # generation 0 < 1: forget what was seen
    await cache.incr(generation_key("regions"))  # a writer counts from 0 again, to 1
    assert await memo.get("regions", "k", load()) == ("v", 3)


async def test_without_a_memo_every_read_loads() -> None:
    load = Loader()
    await through(None, "regions", "k", load())
    await through(None, "regions", "k", load())
    assert load.calls == 2
