"""Redis cache backend on ``redis.asyncio``: shared by every process, fails fast when down.

Outages surface as :data:`REDIS_UNAVAILABLE` exceptions within about a second (short socket
timeouts, one immediate retry for a stale pooled connection); :class:`FallbackCache` turns them
into a degraded-but-working memory cache (DESIGN 7).
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.exceptions
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

#: Exceptions meaning "Redis could not be reached or did not answer in time".
REDIS_UNAVAILABLE: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # includes refused, reset, auth and "loading" errors
    redis.exceptions.TimeoutError,
    asyncio.TimeoutError,
    OSError,
)


def redact_url(url: str) -> str:
    """``url`` without its password (in the userinfo or a ``password=`` query parameter)."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.partition(":")[0]
        netloc = f"{user}@{hostport}" if user else hostport
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class RedisCache:
    """The :class:`~rcommerce.cache.base.Cache` interface over one Redis connection pool.

    Every key is stored under ``prefix`` (default ``"rc:"``) so several applications can share a
    database. Values are raw bytes; TTLs are set in milliseconds (``PX``); ``incr`` is ``INCR``.
    Connection and timeout errors are raised (see :data:`REDIS_UNAVAILABLE`); wrap the cache in
    :class:`~rcommerce.cache.fallback.FallbackCache` to survive an outage.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "rc:",
        connect_timeout_s: float = 0.5,
        socket_timeout_s: float = 0.5,
        max_connections: int = 50,
        pool_timeout_s: float = 1.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        # One immediate retry: a pooled socket left over from before a Redis restart fails once,
        # the retry reconnects. Worst case for a dead host is still about 2 x the timeout.
        retry = Retry(NoBackoff(), 1)
        self._pool = BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout_s,
            socket_connect_timeout=connect_timeout_s,
            socket_timeout=socket_timeout_s,
            retry=retry,
        )
        self._redis: Redis = Redis(connection_pool=self._pool, retry=retry)

    @property
    def display_url(self) -> str:
        """The URL without its password, for logs."""
        return redact_url(self.url)

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def get(self, key: str) -> bytes | None:
        value = await self._redis.get(self._key(key))
        if value is None or isinstance(value, bytes):
            return value
        return str(value).encode()  # only if decode_responses were on; it is not

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        if ttl_s is None:
            await self._redis.set(self._key(key), value)
        elif ttl_s <= 0:
            await self._redis.delete(self._key(key))  # already expired, like MemoryCache
        else:
            await self._redis.set(self._key(key), value, px=max(1, round(ttl_s * 1000)))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._key(k) for k in keys))

    async def incr(self, key: str) -> int:
        return int(await self._redis.incr(self._key(key)))

    async def ping(self) -> None:
        """Raise unless Redis answers."""
        await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
        await self._pool.disconnect()
