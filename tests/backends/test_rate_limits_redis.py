"""Call limits on Redis: every process shares one bucket per caller (DECISIONS 23).

Needs RCOMMERCE_TEST_REDIS_URL (CI sets it); when set, an unreachable Redis fails."""

from __future__ import annotations

import os
import uuid

import pytest

from rcommerce.api.ratelimits import CallLimits
from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.clock import FrozenClock
from rcommerce.config import RateLimitSettings
from rcommerce.errors import DomainError
from rcommerce.ratelimit import FallbackRateLimiter, MemoryRateLimiter, RedisRateLimiter, create_rate_limiter

REDIS_URL = os.environ.get("RCOMMERCE_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="RCOMMERCE_TEST_REDIS_URL is not set")

SETTINGS = RateLimitSettings(secret_key_per_minute=60, secret_key_burst=3)
PATIENT_S = 10.0  # about shared answers, not latency: never trip the fail-fast timeout on a busy machine


async def test_two_processes_share_one_bucket() -> None:
    clock = FrozenClock()
    prefix = f"rc:test:{uuid.uuid4().hex}:"
    a = CallLimits(RedisRateLimiter(REDIS_URL, clock=clock, prefix=prefix, timeout_s=PATIENT_S), SETTINGS)
    b = CallLimits(RedisRateLimiter(REDIS_URL, clock=clock, prefix=prefix, timeout_s=PATIENT_S), SETTINGS)
    key = Principal(PrincipalKind.SECRET_KEY, f"apiKeys/key_{uuid.uuid4().hex}")
    try:
        seen: list[dict[str, str]] = [{}, {}, {}]
        await a.check(key, "", seen[0])
        await b.check(key, "", seen[1])
        await a.check(key, "", seen[2])
        assert [h["ratelimit-remaining"] for h in seen] == ["2", "1", "0"]
        refused: dict[str, str] = {}
        with pytest.raises(DomainError) as caught:
            await b.check(key, "", refused)
        assert caught.value.retry_after_s == pytest.approx(1.0)
        assert refused["retry-after"] == "1" and refused["ratelimit-reset"] == "3"
        clock.advance(1)
        await b.check(key, "", {})
        with pytest.raises(DomainError):
            await a.check(key, "", {})
    finally:
        await a.close()
        await b.close()


async def test_cache_url_selects_the_backend() -> None:
    assert isinstance(create_rate_limiter("memory://"), MemoryRateLimiter)
    limiter = create_rate_limiter(REDIS_URL)
    try:
        assert isinstance(limiter, FallbackRateLimiter) and isinstance(limiter.primary, RedisRateLimiter)
    finally:
        await limiter.close()
