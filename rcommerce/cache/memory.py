"""In-process LRU cache with TTLs. The embedded default; per process only."""

from __future__ import annotations

from collections import OrderedDict

from rcommerce.clock import Clock, SystemClock


class MemoryCache:
    """A bounded LRU of bytes with per-entry expiry, safe within one event loop."""

    def __init__(self, max_entries: int = 50_000, clock: Clock | None = None) -> None:
        self._entries: OrderedDict[str, tuple[bytes, float | None]] = OrderedDict()
        self._max = max_entries
        self._clock = clock or SystemClock()

    async def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and expires <= self._clock.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        expires = None if ttl_s is None else self._clock.monotonic() + ttl_s
        self._entries[key] = (value, expires)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)

    async def incr(self, key: str) -> int:
        current = await self.get(key)
        value = (int(current) if current is not None else 0) + 1
        self._entries[key] = (str(value).encode(), None)
        return value

    async def close(self) -> None:
        self._entries.clear()
