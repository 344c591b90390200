"""The GCRA rate limiter on a real Redis: same answers as memory, atomic across clients,
degrading to memory when Redis is unreachable.

Runs only with ``RCOMMERCE_TEST_REDIS_URL`` (e.g. redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from rcommerce.clock import FrozenClock
from rcommerce.ratelimit import FallbackRateLimiter, MemoryRateLimiter, Rate, RedisRateLimiter, create_rate_limiter

REDIS_URL = os.environ.get("RCOMMERCE_TEST_REDIS_URL", "")

pytestmark = pytest.mark.skipif(not REDIS_URL, reason="RCOMMERCE_TEST_REDIS_URL is not set")

SIGN_IN = Rate(10, 60.0)
# These tests are about answers and atomicity, not latency: a loaded CI machine can take
# longer than production's fail-fast 0.5 s to answer 50 new connections at once.
PATIENT_S = 10.0


def prefix() -> str:
    return f"test:rl:{uuid.uuid4().hex}:"


async def test_redis_gives_the_same_answers_as_memory() -> None:
    clock = FrozenClock()
    redis_limiter = RedisRateLimiter(REDIS_URL, clock=clock, prefix=prefix(), timeout_s=PATIENT_S)
    memory = MemoryRateLimiter(clock)
    try:
        for step in [0.0] * 12 + [5.9, 0.1, 0.0, 60.0, 0.0]:
            clock.advance(step)
            assert await redis_limiter.hit("ip:1", SIGN_IN) == await memory.hit("ip:1", SIGN_IN)
        await redis_limiter.reset("ip:1")
        assert (await redis_limiter.hit("ip:1", SIGN_IN)).remaining == 9
    finally:
        await redis_limiter.close()


async def test_concurrent_clients_never_exceed_the_burst() -> None:
    """Two processes' worth of clients racing on one key: exactly ``burst`` pass."""
    clock = FrozenClock()
    shared = prefix()
    a = RedisRateLimiter(REDIS_URL, clock=clock, prefix=shared, timeout_s=PATIENT_S)
    b = RedisRateLimiter(REDIS_URL, clock=clock, prefix=shared, timeout_s=PATIENT_S)
    try:
        results = await asyncio.gather(*(lim.hit("email:x", SIGN_IN) for lim in [a, b] * 25))
        assert sum(d.allowed for d in results) == 10
    finally:
        await a.close()
        await b.close()


async def test_the_key_expires_when_the_bucket_is_full_again() -> None:
    import redis.asyncio

    clock = FrozenClock()
    p = prefix()
    limiter = RedisRateLimiter(REDIS_URL, clock=clock, prefix=p, timeout_s=PATIENT_S)
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await limiter.hit("k", SIGN_IN)
        ttl_ms = await client.pttl(p + "k")
        assert 0 < ttl_ms <= 6000  # one request: full again after one interval
    finally:
        await limiter.close()
        await client.aclose()


async def test_unreachable_redis_degrades_to_memory() -> None:
    clock = FrozenClock()
    limiter = create_rate_limiter("redis://127.0.0.1:1/0", retry_s=5, clock=clock)
    assert isinstance(limiter, FallbackRateLimiter)
    try:
        decisions = [await limiter.hit("k", Rate(2, 60.0)) for _ in range(3)]
        assert [d.allowed for d in decisions] == [True, True, False]
        assert limiter.degraded
    finally:
        await limiter.close()
