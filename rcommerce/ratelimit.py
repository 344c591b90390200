"""Rate limiting with GCRA, the generic cell rate algorithm (DECISIONS 23).

GCRA is a token bucket kept as one number per key: the *theoretical arrival time* (TAT)
of the next request if requests came exactly at the sustained rate. A limit of
``limit`` requests per ``period_s`` with burst ``burst`` has the emission interval
``T = period_s / limit``. A request at ``now`` costs ``T``::

    tat      = max(stored_tat, now)
    new_tat  = tat + T
    allow_at = new_tat - burst * T
    allowed  = now >= allow_at          (then store new_tat, expiring at new_tat)

So ``burst`` requests pass at once and then one every ``T``; a key that stays quiet for
``burst * T`` is full again. Sign-in: 10/min burst 10 lets 10 attempts through at once,
then one every 6 s.

Two backends with one interface: memory (one process) and Redis (shared by every
process: the whole check-and-set is one Lua script, so concurrent requests can never
both take the last token). Redis down degrades to memory with a warning and never takes
the API down (DESIGN 7). The check is keyed by any string, so the call pipeline can
limit every call (per key, per IP) with the same limiter later.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from redis.asyncio import Redis

from rcommerce.cache.redis import REDIS_UNAVAILABLE, redact_url
from rcommerce.clock import Clock, SystemClock
from rcommerce.errors import RATE_LIMITED

log = logging.getLogger("rcommerce.ratelimit")


__all__ = [
    "RATE_LIMITED",
    "FallbackRateLimiter",
    "MemoryRateLimiter",
    "Rate",
    "RateDecision",
    "RateLimiter",
    "RedisRateLimiter",
    "create_rate_limiter",
]


@dataclass(frozen=True, slots=True)
class Rate:
    """``limit`` requests per ``period_s`` seconds, at most ``burst`` at once."""

    limit: int
    period_s: float = 60.0
    burst: int = 0  # 0: same as limit

    def __post_init__(self) -> None:
        if self.limit < 1 or self.period_s <= 0 or self.burst < 0:
            raise ValueError("a rate needs limit >= 1, period_s > 0 and burst >= 0")

    @property
    def interval_s(self) -> float:
        return self.period_s / self.limit

    @property
    def capacity(self) -> int:
        return self.burst or self.limit


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The answer for one request."""

    allowed: bool
    limit: int
    remaining: int
    #: Seconds until the bucket is full again.
    reset_after_s: float
    #: Seconds until a request would be allowed (0 when allowed).
    retry_after_s: float

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` headers (IETF draft) and ``Retry-After`` when refused."""
        headers = {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(self.remaining),
            "ratelimit-reset": str(math.ceil(self.reset_after_s)),
        }
        if not self.allowed:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after_s)))
        return headers


def gcra(stored_tat: int | None, now_us: int, rate: Rate) -> tuple[RateDecision, int | None]:
    """One GCRA step in integer microseconds (exact: no float drift over many steps):
    the decision and the TAT to store (None: store nothing)."""
    interval, capacity = max(1, round(rate.interval_s * 1_000_000)), rate.capacity
    tat = now_us if stored_tat is None or stored_tat < now_us else stored_tat
    new_tat = tat + interval
    allow_at = new_tat - capacity * interval
    if now_us < allow_at:
        return RateDecision(False, capacity, 0, (tat - now_us) / 1e6, (allow_at - now_us) / 1e6), None
    remaining = (now_us - allow_at) // interval
    return RateDecision(True, capacity, min(remaining, capacity - 1), (new_tat - now_us) / 1e6, 0.0), new_tat


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(clock: Clock) -> int:
    """Microseconds since the epoch, exactly."""
    if type(clock) is SystemClock:  # the hot path of every call: skip the datetime arithmetic
        return time.time_ns() // 1000
    return (clock.now() - _EPOCH) // timedelta(microseconds=1)


class RateLimiter(Protocol):
    """Counts one request against ``key`` and says whether it may proceed."""

    async def hit(self, key: str, rate: Rate) -> RateDecision: ...

    async def reset(self, key: str) -> None:
        """Forget ``key`` (tests, and after an administrator unblocks someone)."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """GCRA state in a bounded dict: exact within one process."""

    def __init__(self, clock: Clock | None = None, max_keys: int = 100_000) -> None:
        self._clock = clock or SystemClock()
        self._tats: OrderedDict[str, int] = OrderedDict()
        self._max_keys = max_keys

    async def hit(self, key: str, rate: Rate) -> RateDecision:
        decision, new_tat = gcra(self._tats.get(key), _micros(self._clock), rate)
        if new_tat is not None:
            self._tats[key] = new_tat
            self._tats.move_to_end(key)
            while len(self._tats) > self._max_keys:
                # The least recently limited key; losing it only forgives old requests.
                self._tats.popitem(last=False)
        return decision

    async def reset(self, key: str) -> None:
        self._tats.pop(key, None)

    async def close(self) -> None:
        self._tats.clear()


# The same step as gcra(), atomically. KEYS[1] key; ARGV: now, interval (integer
# microseconds; exact in Lua's doubles until the year 2255), capacity.
# Returns {allowed, retry_after_us, reset_after_us}.
_GCRA_LUA = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - capacity * interval
if now < allow_at then
  return {0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.max(1, math.ceil((new_tat - now) / 1000)))
return {1, 0, new_tat - now}
"""


class RedisRateLimiter:
    """GCRA state in Redis, checked and updated by one atomic Lua script.

    Time comes from this process's clock (microseconds since the epoch), so every process
    must keep its clock synchronised (NTP); the skew between processes is the error.
    """

    def __init__(self, url: str, *, clock: Clock | None = None, prefix: str = "rc:rl:", timeout_s: float = 0.5) -> None:
        self.url = url
        self._clock = clock or SystemClock()
        self._prefix = prefix
        self._redis: Redis = Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        self._script = self._redis.register_script(_GCRA_LUA)

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

    async def hit(self, key: str, rate: Rate) -> RateDecision:
        interval = max(1, round(rate.interval_s * 1_000_000))
        capacity = rate.capacity
        reply = await self._script(keys=[self._prefix + key], args=[_micros(self._clock), interval, capacity])
        allowed, retry_us, reset_us = (int(v) for v in reply)
        if not allowed:
            return RateDecision(False, capacity, 0, reset_us / 1e6, retry_us / 1e6)
        remaining = (capacity * interval - reset_us) // interval
        return RateDecision(True, capacity, max(0, min(remaining, capacity - 1)), reset_us / 1e6, 0.0)

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()


class FallbackRateLimiter:
    """``primary`` (Redis) while it answers; ``fallback`` (memory) while it does not,
    retrying the primary every ``retry_s`` seconds. Warns once per outage."""

    def __init__(self, primary: RateLimiter, fallback: RateLimiter, retry_s: float, clock: Clock | None = None) -> None:
        self.primary, self.fallback = primary, fallback
        self._retry_s = retry_s
        self._clock = clock or SystemClock()
        self._retry_at: float | None = None

    @property
    def degraded(self) -> bool:
        return self._retry_at is not None

    async def hit(self, key: str, rate: Rate) -> RateDecision:
        now = self._clock.monotonic()
        if self._retry_at is not None and now < self._retry_at:
            return await self.fallback.hit(key, rate)
        try:
            decision = await self.primary.hit(key, rate)
        except REDIS_UNAVAILABLE as exc:
            if self._retry_at is None:
                log.warning("rate limiter backend unreachable, limiting per process until it is back: %r", exc)
            self._retry_at = now + self._retry_s
            return await self.fallback.hit(key, rate)
        if self._retry_at is not None:
            log.info("rate limiter backend reachable again")
            self._retry_at = None
        return decision

    async def reset(self, key: str) -> None:
        await self.fallback.reset(key)
        with contextlib.suppress(*REDIS_UNAVAILABLE):
            await self.primary.reset(key)

    async def close(self) -> None:
        await self.fallback.close()
        with contextlib.suppress(*REDIS_UNAVAILABLE):
            await self.primary.close()


def create_rate_limiter(cache_url: str, *, retry_s: float = 5.0, clock: Clock | None = None) -> RateLimiter:
    """Memory for ``memory://``; otherwise Redis at the cache URL, degrading to memory."""
    memory = MemoryRateLimiter(clock)
    if cache_url.startswith("memory://"):
        return memory
    return FallbackRateLimiter(RedisRateLimiter(cache_url, clock=clock), memory, retry_s, clock)
