"""Per-caller request limits for every RPC (DECISIONS 23), applied by the call pipeline.

Each call is counted against the bucket of its caller class, right after
authentication and before authorisation and the handler:

=================  ===========================  ==============================
caller             bucket key                   default (per minute / burst)
=================  ===========================  ==============================
anonymous          client address               60 / 20
publishable key    key + client address         300 / 50
customer           customer id                  500 / 50
secret key         key id                       1000 / 100
=================  ===========================  ==============================

IPv6 clients are counted per /64 (one host usually holds a whole /64, so counting
single addresses would let it rotate through them). The client address comes from
:func:`client_address`: the transport's peer, or, behind a trusted reverse proxy, the
right-most ``X-Forwarded-For`` entry that is not a trusted proxy.

The limiter itself (GCRA, memory or Redis) is :mod:`rcommerce.ratelimit`.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Iterable
from dataclasses import dataclass

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.config import RateLimitSettings
from rcommerce.errors import RATE_LIMITED, DomainError
from rcommerce.ratelimit import Rate, RateDecision, RateLimiter

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

__all__ = ["CallLimits", "Network", "client_address", "parse_networks"]


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.0/8", "::1"]`` as networks (a bare address is a one-address network)."""
    return tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(peer: str, forwarded_for: str, proxies: tuple[Network, ...]) -> str:
    """The caller's address. ``X-Forwarded-For`` counts only when the direct peer is a
    trusted proxy; then the right-most entry that is not a trusted proxy is the client
    (entries left of it were written by the client and can be forged). When every entry
    is trusted, the left-most one is the client."""
    if not proxies or not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def _address_bucket(address: str) -> str:
    """The address as a bucket: IPv4 as is, IPv6 as its /64."""
    if ":" not in address:
        return address or "unknown"
    try:
        ip = ipaddress.IPv6Address(address)
    except ValueError:
        return address
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


@dataclass(frozen=True, slots=True)
class _Classes:
    anonymous: Rate
    publishable: Rate
    customer: Rate
    secret: Rate


class CallLimits:
    """Counts one call against its caller's bucket; raises ``RATE_LIMITED`` when empty."""

    def __init__(self, limiter: RateLimiter, settings: RateLimitSettings) -> None:
        self.limiter = limiter
        s = settings
        self._rates = _Classes(
            anonymous=Rate(s.anonymous_per_minute, 60.0, s.anonymous_burst),
            publishable=Rate(s.publishable_per_minute, 60.0, s.publishable_burst),
            customer=Rate(s.customer_per_minute, 60.0, s.customer_burst),
            secret=Rate(s.secret_key_per_minute, 60.0, s.secret_key_burst),
        )

    def bucket(self, principal: Principal, client: str) -> tuple[str, Rate]:
        """The bucket key and rate for a caller (``client`` is its address)."""
        kind, rates = principal.kind, self._rates
        if kind is PrincipalKind.SECRET_KEY:
            return f"call:sk:{principal.subject}", rates.secret
        if kind is PrincipalKind.CUSTOMER:
            return f"call:cus:{principal.subject}", rates.customer
        if kind is PrincipalKind.PUBLISHABLE_KEY:
            return f"call:pk:{principal.subject}:{_address_bucket(client)}", rates.publishable
        return f"call:anon:{_address_bucket(client)}", rates.anonymous

    async def check(self, principal: Principal, client: str, response_headers: dict[str, str]) -> RateDecision:
        """Count the call; put the ``RateLimit-*`` headers into ``response_headers``;
        raise ``RATE_LIMITED`` (with the delay for Retry-After / RetryInfo) when refused."""
        key, rate = self.bucket(principal, client)
        decision = await self.limiter.hit(key, rate)
        response_headers.update(decision.headers())
        if not decision.allowed:
            wait = decision.retry_after_s
            raise DomainError(
                RATE_LIMITED,
                f"Too many requests; retry in {max(1, math.ceil(wait))} s.",
                retry_after_s=wait,
                retryAfterSeconds=str(max(1, math.ceil(wait))),
                limit=str(rate.capacity),
                perMinute=str(rate.limit),
            )
        return decision

    async def close(self) -> None:
        await self.limiter.close()
