"""The cache interface every backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Cache(Protocol):
    """A byte-valued cache with TTLs and counters.

    Keys are plain strings ("catalog:product:prod_..."); values are bytes. Backends never
    raise on a miss, and the Redis backend with fallback never raises because Redis is
    down (DESIGN 7).
    """

    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store ``value``; ``ttl_s`` None keeps it until evicted or deleted."""
        ...

    async def delete(self, *keys: str) -> None:
        """Remove keys; missing keys are ignored."""
        ...

    async def incr(self, key: str) -> int:
        """Atomically add one to an integer counter (starting at 0) and return it."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
