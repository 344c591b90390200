"""A cache that degrades to a local fallback while its primary (Redis) is unreachable.

States: *healthy* (everything goes to the primary) and *degraded* (everything goes to the
fallback). The first connection or timeout error switches to degraded and logs one warning; the
failed operation is answered by the fallback, so callers never see the outage. After ``retry_s``
the next operation probes the primary (one probe at a time; concurrent operations keep using the
fallback); success switches back to healthy and logs one info line.

Recovery hygiene: keys written, deleted or counted while degraded are remembered (up to
``max_tracked_keys``). On recovery they are deleted from the primary — another process may hold an
invalidation we could not send — and from the fallback, so a later outage never serves entries
left over from an earlier one. Counters touched while degraded get one ``incr`` on the primary
instead of a delete, so a generation counter moves forward rather than back to zero.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from rcommerce.cache.base import Cache
from rcommerce.cache.redis import REDIS_UNAVAILABLE
from rcommerce.clock import Clock, SystemClock

log = logging.getLogger("rcommerce.cache")

T = TypeVar("T")


class FallbackCache:
    """``primary`` while it answers, ``fallback`` while it does not. Never raises for an outage."""

    def __init__(
        self,
        primary: Cache,
        fallback: Cache,
        retry_s: float,
        clock: Clock | None = None,
        *,
        label: str | None = None,
        unavailable: tuple[type[BaseException], ...] = REDIS_UNAVAILABLE,
        max_tracked_keys: int = 10_000,
    ) -> None:
        self.primary = primary
        self.fallback = fallback
        self.retry_s = retry_s
        self._clock = clock or SystemClock()
        self._label = label or str(getattr(primary, "display_url", None) or type(primary).__name__)
        self._unavailable = unavailable
        self._max_tracked = max_tracked_keys
        self._degraded = False
        self._retry_at = 0.0
        self._probing = False
        self._changed: builtins.set[str] = set()  # keys set or deleted while degraded
        self._counted: builtins.set[str] = set()  # keys incremented while degraded
        self._overflow = False

    @property
    def degraded(self) -> bool:
        """True while operations are served by the fallback."""
        return self._degraded

    async def get(self, key: str) -> bytes | None:
        return await self._run(lambda c: c.get(key))

    async def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        await self._run(lambda c: c.set(key, value, ttl_s), changed=(key,))

    async def delete(self, *keys: str) -> None:
        await self._run(lambda c: c.delete(*keys), changed=keys)

    async def incr(self, key: str) -> int:
        return await self._run(lambda c: c.incr(key), counted=key)

    async def close(self) -> None:
        try:
            await self.primary.close()
        except self._unavailable:
            pass
        finally:
            await self.fallback.close()

    async def _run(
        self,
        op: Callable[[Cache], Awaitable[T]],
        *,
        changed: tuple[str, ...] = (),
        counted: str | None = None,
    ) -> T:
        if self._degraded:
            if self._probing or self._clock.monotonic() < self._retry_at:
                return await self._degraded_op(op, changed, counted)
            self._probing = True
            try:
                # Invalidations first, so the probing operation itself cannot read stale data.
                replayed = await self._replay(self._changed.copy(), self._counted.copy())
                result = await op(self.primary)
            except self._unavailable as exc:
                self._retry_at = self._clock.monotonic() + self.retry_s
                log.debug("Redis still unreachable at %s: %s", self._label, exc)
                return await self._degraded_op(op, changed, counted)
            finally:
                self._probing = False
            await self._recover(replayed)
            return result
        try:
            return await op(self.primary)
        except self._unavailable as exc:
            self._degrade(exc)
            return await self._degraded_op(op, changed, counted)

    async def _degraded_op(
        self, op: Callable[[Cache], Awaitable[T]], changed: tuple[str, ...], counted: str | None
    ) -> T:
        self._track(changed, counted)
        return await op(self.fallback)

    def _degrade(self, exc: BaseException) -> None:
        if self._degraded:
            return
        self._degraded = True
        self._retry_at = self._clock.monotonic() + self.retry_s
        log.warning(
            "Redis unreachable at %s; using the in-process memory cache until it returns (%s: %s)",
            self._label,
            type(exc).__name__,
            exc,
        )

    def _track(self, changed: tuple[str, ...], counted: str | None) -> None:
        new = [k for k in changed if k not in self._changed]
        if counted is not None and counted not in self._counted:
            new.append(counted)
        if len(self._changed) + len(self._counted) + len(new) > self._max_tracked:
            self._overflow = True
            return
        self._changed.update(changed)
        if counted is not None:
            self._counted.add(counted)

    async def _replay(self, changed: builtins.set[str], counted: builtins.set[str]) -> builtins.set[str]:
        """Send the invalidations missed while degraded to the primary; raises if it is down."""
        if changed:
            await self.primary.delete(*changed)
        for key in sorted(counted - changed):
            await self.primary.incr(key)
        return changed | counted

    async def _recover(self, replayed: builtins.set[str]) -> None:
        self._degraded = False
        log.info("Redis is reachable again at %s; using it as the cache again", self._label)
        if self._overflow:
            log.warning(
                "more than %d cache keys changed while Redis was unreachable; "
                "some Redis entries may be stale until they expire",
                self._max_tracked,
            )
        changed, counted = self._changed, self._counted
        self._changed, self._counted, self._overflow = set(), set(), False
        try:  # keys written to the fallback while the probe was in flight
            await self._replay(changed - replayed, counted - replayed)
        except self._unavailable as exc:  # gone again: the next operation notices
            log.debug("replaying invalidations to %s failed: %s", self._label, exc)
        stale = changed | counted
        if stale:
            await self.fallback.delete(*stale)
