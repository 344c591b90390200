"""GCRA rate limiting (DECISIONS 23) on the memory backend, and the Redis fallback."""

from __future__ import annotations

import pytest

from rcommerce.clock import FrozenClock
from rcommerce.ratelimit import FallbackRateLimiter, MemoryRateLimiter, Rate, RateDecision, gcra

SIGN_IN = Rate(10, 60.0)  # 10/min per IP and per email, burst 10


async def test_sign_in_limit_ten_at_once_then_one_every_six_seconds() -> None:
    clock = FrozenClock()
    limiter = MemoryRateLimiter(clock)
    seen = [await limiter.hit("ip:1", SIGN_IN) for _ in range(10)]
    assert all(d.allowed for d in seen)
    assert [d.remaining for d in seen] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    assert seen[-1].reset_after_s == pytest.approx(60.0)
    refused = await limiter.hit("ip:1", SIGN_IN)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(6.0) and refused.remaining == 0
    clock.advance(5.9)
    assert not (await limiter.hit("ip:1", SIGN_IN)).allowed
    clock.advance(0.1)
    again = await limiter.hit("ip:1", SIGN_IN)
    assert again.allowed and again.remaining == 0
    assert not (await limiter.hit("ip:1", SIGN_IN)).allowed


async def test_refused_requests_do_not_consume_the_bucket() -> None:
    clock = FrozenClock()
    limiter = MemoryRateLimiter(clock)
    for _ in range(10):
        await limiter.hit("k", SIGN_IN)
    for _ in range(50):  # hammering while refused changes nothing
        await limiter.hit("k", SIGN_IN)
    clock.advance(6)
    assert (await limiter.hit("k", SIGN_IN)).allowed


async def test_a_quiet_key_is_full_again_after_burst_times_interval() -> None:
    clock = FrozenClock()
    limiter = MemoryRateLimiter(clock)
    for _ in range(10):
        await limiter.hit("k", SIGN_IN)
    clock.advance(60)
    assert (await limiter.hit("k", SIGN_IN)).remaining == 9


async def test_keys_are_independent() -> None:
    limiter = MemoryRateLimiter(FrozenClock())
    for _ in range(10):
        await limiter.hit("ip:1", SIGN_IN)
    assert not (await limiter.hit("ip:1", SIGN_IN)).allowed
    assert (await limiter.hit("ip:2", SIGN_IN)).allowed
    await limiter.reset("ip:1")
    assert (await limiter.hit("ip:1", SIGN_IN)).allowed


@pytest.mark.parametrize(
    ("rate", "at_once", "interval"),
    [
        (Rate(60, 60.0, 20), 20, 1.0),  # anonymous: 60/min burst 20
        (Rate(300, 60.0, 50), 50, 0.2),  # publishable key: 300/min burst 50
        (Rate(1000, 60.0, 100), 100, 0.06),  # secret key: 1000/min burst 100
    ],
)
async def test_pipeline_rates_of_decisions_23(rate: Rate, at_once: int, interval: float) -> None:
    clock = FrozenClock()
    limiter = MemoryRateLimiter(clock)
    results = [(await limiter.hit("k", rate)).allowed for _ in range(at_once + 1)]
    assert results == [True] * at_once + [False]
    clock.advance(interval)
    assert (await limiter.hit("k", rate)).allowed


def test_headers() -> None:
    _, tat = gcra(None, 1_000_000, SIGN_IN)
    ok, _ = gcra(tat, 1_000_000, SIGN_IN)
    assert ok.headers() == {"ratelimit-limit": "10", "ratelimit-remaining": "8", "ratelimit-reset": "12"}
    refused = RateDecision(False, 10, 0, 60.0, 5.2)
    assert refused.headers()["retry-after"] == "6"


def test_rates_are_validated() -> None:
    for bad in ((0, 60.0, 0), (10, 0.0, 0), (10, 60.0, -1)):
        with pytest.raises(ValueError, match="limit"):
            Rate(*bad)


async def test_memory_backend_is_bounded() -> None:
    limiter = MemoryRateLimiter(FrozenClock(), max_keys=3)
    for key in ("a", "b", "c", "d"):
        await limiter.hit(key, Rate(1, 60.0))
    # "a" was evicted (forgiven); "d" is still limited.
    assert (await limiter.hit("a", Rate(1, 60.0))).allowed
    assert not (await limiter.hit("d", Rate(1, 60.0))).allowed


class _DownRedis:
    def __init__(self) -> None:
        self.calls = 0

    async def hit(self, key: str, rate: Rate) -> RateDecision:
        self.calls += 1
        raise ConnectionError("refused")

    async def reset(self, key: str) -> None:
        raise ConnectionError("refused")

    async def close(self) -> None:
        raise ConnectionError("refused")


async def test_redis_down_degrades_to_memory_and_retries_later(caplog: pytest.LogCaptureFixture) -> None:
    clock = FrozenClock()
    primary = _DownRedis()
    limiter = FallbackRateLimiter(primary, MemoryRateLimiter(clock), retry_s=5, clock=clock)
    decisions = [await limiter.hit("k", Rate(2, 60.0)) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]  # still limited, per process
    assert limiter.degraded and primary.calls == 1  # not retried within retry_s
    assert sum("unreachable" in r.message for r in caplog.records) == 1
    clock.advance(5)
    await limiter.hit("k", Rate(2, 60.0))
    assert primary.calls == 2
    await limiter.reset("k")
    await limiter.close()
