"""RedisCache against a real Redis, and FallbackCache against a real outage.

Runs only with ``RCOMMERCE_TEST_REDIS_URL`` (e.g. redis://127.0.0.1:6379/0). When it is set and
Redis does not answer, the tests fail: nothing skips silently.

Outages are real sockets: port 1 (connection refused), a local TCP proxy in front of the real
Redis that can be stopped and started (Redis "goes away" and "comes back"), and a server that
accepts connections but never answers (read timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio

from rcommerce.cache import Cache, FallbackCache, MemoryCache, RedisCache, create_cache
from rcommerce.clock import FrozenClock
from rcommerce.config import CacheSettings

REDIS_URL = os.environ.get("RCOMMERCE_TEST_REDIS_URL", "")

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="RCOMMERCE_TEST_REDIS_URL is not set")

WARNING_TEXT = "using the in-process memory cache until it returns"


def unique(name: str = "k") -> str:
    return f"test:{name}:{uuid.uuid4().hex}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_address(url: str, host: str, port: int) -> str:
    """``url`` (credentials, db) pointing at ``host:port`` instead."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


class TcpProxy:
    """A stoppable TCP relay to the real Redis: stopped means connection refused."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._writers.update((writer, up_writer))
        pipes = [
            asyncio.ensure_future(self._pipe(reader, up_writer)),
            asyncio.ensure_future(self._pipe(up_reader, writer)),
        ]
        self._tasks.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._tasks.difference_update(pipes)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.transport.abort()


@pytest.fixture(scope="module")
async def redis_url() -> str:
    """The configured Redis; unreachable fails the test (never skips)."""
    client = redis.asyncio.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"RCOMMERCE_TEST_REDIS_URL={REDIS_URL} is set but Redis is unreachable: {exc}")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_url)
    yield client
    await client.aclose()


#: For tests about answers and atomicity, not latency: a loaded CI machine can take longer
#: than production's fail-fast 0.5 s to answer many new connections at once.
PATIENT = {"connect_timeout_s": 10.0, "socket_timeout_s": 10.0}


@pytest.fixture
async def cache(redis_url: str) -> AsyncIterator[RedisCache]:
    c = RedisCache(redis_url, **PATIENT)
    yield c
    await c.close()


@pytest.fixture
async def proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    parts = urlsplit(redis_url)
    p = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 6379)
    yield p
    await p.stop()


def proxied(redis_url: str, proxy: TcpProxy) -> str:
    return with_address(redis_url, "127.0.0.1", proxy.port)


def warnings_in(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rcommerce.cache" and r.levelno == logging.WARNING]


# ---------------------------------------------------------------------------------- RedisCache


async def test_redis_cache_satisfies_protocol(cache: RedisCache) -> None:
    assert isinstance(cache, Cache)


async def test_get_set_delete(cache: RedisCache) -> None:
    a, b = unique("a"), unique("b")
    assert await cache.get(a) is None
    await cache.set(a, b"\x00binary\xff")
    await cache.set(b, b"two")
    assert await cache.get(a) == b"\x00binary\xff"
    await cache.delete(a, b, unique("missing"))
    await cache.delete()
    assert await cache.get(a) is None
    assert await cache.get(b) is None


async def test_keys_carry_the_prefix(redis_url: str, raw: redis.asyncio.Redis) -> None:
    key = unique()
    default, custom = RedisCache(redis_url), RedisCache(redis_url, prefix="other:")
    try:
        await default.set(key, b"1")
        await custom.set(key, b"2")
        assert await raw.get("rc:" + key) == b"1"
        assert await raw.get("other:" + key) == b"2"
        assert await custom.get(key) == b"2"
    finally:
        await raw.delete("rc:" + key, "other:" + key)
        await default.close()
        await custom.close()


async def test_ttl_is_set_in_milliseconds_and_expires(cache: RedisCache, raw: redis.asyncio.Redis) -> None:
    key, forever = unique("ttl"), unique("forever")
    await cache.set(key, b"v", ttl_s=1.5)
    await cache.set(forever, b"v")
    pttl = await raw.pttl("rc:" + key)
    assert 1000 < pttl <= 1500
    assert await raw.pttl("rc:" + forever) == -1
    await cache.set(key, b"short", ttl_s=0.05)
    await asyncio.sleep(0.15)
    assert await cache.get(key) is None
    await cache.delete(forever)


async def test_non_positive_ttl_means_already_expired(cache: RedisCache) -> None:
    key = unique()
    await cache.set(key, b"v")
    await cache.set(key, b"v2", ttl_s=0)
    assert await cache.get(key) is None


async def test_incr_is_atomic_across_instances(redis_url: str, cache: RedisCache) -> None:
    key = unique("n")
    other = RedisCache(redis_url, **PATIENT)
    try:
        results = await asyncio.gather(*(c.incr(key) for _ in range(50) for c in (cache, other)))
        assert sorted(results) == list(range(1, 101))
        assert await other.get(key) == b"100"
    finally:
        await cache.delete(key)
        await other.close()


async def test_two_instances_share_state_for_invalidation(redis_url: str) -> None:
    """Two processes' caches: a write or delete through one is seen by the other at once."""
    key = unique("product")
    one, two = RedisCache(redis_url), RedisCache(redis_url)
    try:
        await one.set(key, b"v1", ttl_s=60)
        assert await two.get(key) == b"v1"
        await two.set(key, b"v2", ttl_s=60)
        assert await one.get(key) == b"v2"
        await one.delete(key)
        assert await two.get(key) is None
    finally:
        await one.close()
        await two.close()


async def test_unreachable_redis_raises_fast() -> None:
    cache = RedisCache("redis://127.0.0.1:1/0")
    started = time.monotonic()
    try:
        with pytest.raises(Exception) as info:
            await cache.get(unique())
        assert isinstance(info.value, redis.exceptions.ConnectionError | OSError)
    finally:
        await cache.close()
    assert time.monotonic() - started < 1.5


# ------------------------------------------------------------------------------- FallbackCache


async def test_fallback_serves_from_memory_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    clock = FrozenClock()
    cache = FallbackCache(RedisCache("redis://:hunter2@127.0.0.1:1/0"), MemoryCache(clock=clock), 5, clock)
    key, counter = unique(), unique("n")
    caplog.set_level(logging.DEBUG, logger="rcommerce.cache")
    try:
        assert await cache.get(key) is None
        assert cache.degraded
        await cache.set(key, b"v", ttl_s=10)
        assert await cache.get(key) == b"v"
        assert [await cache.incr(counter) for _ in range(3)] == [1, 2, 3]
        await asyncio.gather(*(cache.get(unique()) for _ in range(20)))
        clock.advance(5)  # a retry that fails again does not warn again
        assert await cache.get(key) == b"v"
        clock.advance(4)
        await cache.delete(key)
        assert await cache.get(key) is None
    finally:
        await cache.close()
    warnings = warnings_in(caplog)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Redis unreachable at redis://127.0.0.1:1/0; {WARNING_TEXT}")
    assert not any("hunter2" in r.getMessage() for r in caplog.records)


async def test_factory_cache_survives_unreachable_redis(caplog: pytest.LogCaptureFixture) -> None:
    cache = create_cache(CacheSettings(url="redis://127.0.0.1:1/0"))
    try:
        key = unique()
        await cache.set(key, b"v")
        assert await cache.get(key) == b"v"
        assert await cache.incr(unique("n")) == 1
    finally:
        await cache.close()
    assert len(warnings_in(caplog)) == 1


async def test_fallback_recovers_after_retry_interval(
    redis_url: str, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """Down at start: memory until ``retry_s`` has passed, then Redis again."""
    clock = FrozenClock()
    direct = RedisCache(redis_url)
    cache = FallbackCache(RedisCache(proxied(redis_url, proxy)), MemoryCache(clock=clock), 5, clock)
    key, fresh = unique(), unique("fresh")
    caplog.set_level(logging.INFO, logger="rcommerce.cache")
    try:
        await cache.set(key, b"local")  # proxy not started: connection refused
        assert cache.degraded
        assert await direct.get(key) is None

        await proxy.start()  # Redis is back ...
        clock.advance(4.9)  # ... but the retry interval has not passed
        await cache.set(key, b"still-local")
        assert cache.degraded
        assert await direct.get(key) is None

        clock.advance(0.1)
        await direct.set(fresh, b"from-redis")
        assert await cache.get(fresh) == b"from-redis"
        assert not cache.degraded
        assert await cache.get(key) is None  # written only to memory during the outage: dropped
        await cache.set(key, b"shared")
        assert await direct.get(key) == b"shared"
    finally:
        await direct.delete(key, fresh)
        await direct.close()
        await cache.close()
    assert len(warnings_in(caplog)) == 1
    infos = [r.getMessage() for r in caplog.records if r.name == "rcommerce.cache" and r.levelno == logging.INFO]
    assert len(infos) == 1
    assert "reachable again" in infos[0]


async def test_outage_mid_flight_then_recovery_replays_invalidations(
    redis_url: str, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis goes away under a running cache and comes back; nothing raises, nothing stale."""
    clock = FrozenClock()
    other_process = RedisCache(redis_url)
    cache = FallbackCache(RedisCache(proxied(redis_url, proxy)), MemoryCache(clock=clock), 5, clock)
    product, touched, counter = unique("product"), unique("touched"), unique("gen")
    await proxy.start()
    try:
        await cache.set(product, b"v1")
        await cache.incr(counter)
        assert not cache.degraded

        await proxy.stop()  # outage: pooled connections are cut, new ones refused
        await cache.delete(product)  # an invalidation Redis never received
        await cache.set(touched, b"outage-value")
        assert await cache.incr(counter) == 1  # degraded counters use memory
        assert cache.degraded
        assert await other_process.get(product) == b"v1"  # stale in Redis for now

        await proxy.start()
        clock.advance(5)
        assert await cache.get(product) is None  # invalidation replayed before the read
        assert not cache.degraded
        assert await other_process.get(product) is None
        assert await other_process.get(touched) is None
        assert await other_process.get(counter) == b"2"  # bumped forward, never reset
        assert await cache.fallback.get(touched) is None  # no leftovers for a later outage
    finally:
        await other_process.delete(product, touched, counter)
        await other_process.close()
        await cache.close()
    assert len(warnings_in(caplog)) == 1


async def test_unanswered_requests_time_out_fast(caplog: pytest.LogCaptureFixture) -> None:
    """A Redis that accepts connections but never answers is treated as down within ~1 s."""
    held: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(OSError):
            await reader.read()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clock = FrozenClock()
    cache = FallbackCache(RedisCache(f"redis://127.0.0.1:{port}/0"), MemoryCache(clock=clock), 5, clock)
    try:
        started = time.monotonic()
        assert await cache.get(unique()) is None
        assert time.monotonic() - started < 2.5
        assert cache.degraded
    finally:
        await cache.close()
        for writer in held:
            writer.transport.abort()
        server.close()
    assert len(warnings_in(caplog)) == 1
