"""Per-caller request limits (DECISIONS 23): caller classes, bucket keys, header values,
and the client address behind trusted proxies."""

from __future__ import annotations

import pytest

from rcommerce.api.ratelimits import CallLimits, client_address, parse_networks
from rcommerce.auth.principal import ANONYMOUS, Principal, PrincipalKind
from rcommerce.clock import FrozenClock
from rcommerce.config import RateLimitSettings, ServerSettings
from rcommerce.errors import RATE_LIMITED, DomainError
from rcommerce.ratelimit import MemoryRateLimiter, Rate

SECRET = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_1")
PUBLISHABLE = Principal(PrincipalKind.PUBLISHABLE_KEY, "apiKeys/key_pk")
CUSTOMER = Principal(PrincipalKind.CUSTOMER, "customers/cus_1")


def limits(clock: FrozenClock | None = None, **settings: int) -> CallLimits:
    return CallLimits(MemoryRateLimiter(clock or FrozenClock()), RateLimitSettings(**settings))  # type: ignore[arg-type]


def test_defaults_are_decisions_23() -> None:
    s = RateLimitSettings()
    assert s.enabled
    assert (s.anonymous_per_minute, s.anonymous_burst) == (60, 20)
    assert (s.publishable_per_minute, s.publishable_burst) == (300, 50)
    assert (s.customer_per_minute, s.customer_burst) == (500, 50)
    assert (s.secret_key_per_minute, s.secret_key_burst) == (1000, 100)
    assert ServerSettings().trusted_proxies == []


@pytest.mark.parametrize(
    ("principal", "client", "key", "rate"),
    [
        (ANONYMOUS, "203.0.113.7", "call:anon:203.0.113.7", Rate(60, 60.0, 20)),
        (PUBLISHABLE, "203.0.113.7", "call:pk:apiKeys/key_pk:203.0.113.7", Rate(300, 60.0, 50)),
        (CUSTOMER, "203.0.113.7", "call:cus:customers/cus_1", Rate(500, 60.0, 50)),
        (SECRET, "203.0.113.7", "call:sk:apiKeys/key_1", Rate(1000, 60.0, 100)),
        # IPv6 callers are counted per /64; IPv4-mapped addresses as IPv4.
        (ANONYMOUS, "2001:db8:1:2:aaaa::1", "call:anon:2001:db8:1:2::/64", Rate(60, 60.0, 20)),
        (ANONYMOUS, "::ffff:198.51.100.4", "call:anon:198.51.100.4", Rate(60, 60.0, 20)),
        (ANONYMOUS, "", "call:anon:unknown", Rate(60, 60.0, 20)),
    ],
)
def test_bucket_per_caller_class(principal: Principal, client: str, key: str, rate: Rate) -> None:
    assert limits().bucket(principal, client) == (key, rate)


def test_secret_keys_and_customers_are_not_counted_per_address() -> None:
    lim = limits()
    assert lim.bucket(SECRET, "192.0.2.1") == lim.bucket(SECRET, "192.0.2.2")
    assert lim.bucket(CUSTOMER, "192.0.2.1") == lim.bucket(CUSTOMER, "192.0.2.2")
    assert lim.bucket(ANONYMOUS, "192.0.2.1") != lim.bucket(ANONYMOUS, "192.0.2.2")
    assert lim.bucket(PUBLISHABLE, "192.0.2.1") != lim.bucket(PUBLISHABLE, "192.0.2.2")


async def test_anonymous_twenty_at_once_then_one_per_second_with_headers() -> None:
    clock = FrozenClock()
    lim = limits(clock)
    seen: list[dict[str, str]] = []
    for _ in range(20):
        headers: dict[str, str] = {}
        await lim.check(ANONYMOUS, "203.0.113.7", headers)
        seen.append(headers)
    assert seen[0] == {"ratelimit-limit": "20", "ratelimit-remaining": "19", "ratelimit-reset": "1"}
    assert [h["ratelimit-remaining"] for h in seen] == [str(n) for n in range(19, -1, -1)]
    assert seen[-1]["ratelimit-reset"] == "20"  # 20 requests at 1 s each until full again
    refused: dict[str, str] = {}
    with pytest.raises(DomainError) as caught:
        await lim.check(ANONYMOUS, "203.0.113.7", refused)
    assert caught.value.reason is RATE_LIMITED
    assert caught.value.retry_after_s == pytest.approx(1.0)
    assert caught.value.metadata == {"retryAfterSeconds": "1", "limit": "20", "perMinute": "60"}
    assert refused == {"ratelimit-limit": "20", "ratelimit-remaining": "0", "ratelimit-reset": "20", "retry-after": "1"}
    await lim.check(ANONYMOUS, "203.0.113.8", {})  # another address has its own bucket
    clock.advance(1)
    after: dict[str, str] = {}
    await lim.check(ANONYMOUS, "203.0.113.7", after)
    assert after["ratelimit-remaining"] == "0"


async def test_secret_key_hundred_at_once_then_one_every_60_ms() -> None:
    clock = FrozenClock()
    lim = limits(clock)
    for _ in range(100):
        await lim.check(SECRET, "", {})
    headers: dict[str, str] = {}
    with pytest.raises(DomainError) as caught:
        await lim.check(SECRET, "", headers)
    assert caught.value.retry_after_s == pytest.approx(0.06)
    assert headers["retry-after"] == "1"  # whole seconds, rounded up: never too early
    assert headers["ratelimit-reset"] == "6"  # 100 × 60 ms
    clock.advance(0.06)
    await lim.check(SECRET, "", {})


async def test_customer_and_publishable_bursts() -> None:
    clock = FrozenClock()
    lim = limits(clock)
    for principal in (CUSTOMER, PUBLISHABLE):
        for _ in range(50):
            await lim.check(principal, "198.51.100.1", {})
        with pytest.raises(DomainError):
            await lim.check(principal, "198.51.100.1", {})
    clock.advance(0.2)  # publishable: 300/min is one per 200 ms; customer 500/min one per 120 ms
    await lim.check(PUBLISHABLE, "198.51.100.1", {})
    await lim.check(CUSTOMER, "198.51.100.1", {})


async def test_configured_limits_apply() -> None:
    lim = limits(anonymous_per_minute=6, anonymous_burst=2)
    for _ in range(2):
        await lim.check(ANONYMOUS, "192.0.2.1", {})
    with pytest.raises(DomainError) as caught:
        await lim.check(ANONYMOUS, "192.0.2.1", {})
    assert caught.value.retry_after_s == pytest.approx(10.0)


TRUSTED = parse_networks(["10.0.0.0/8", "2001:db8::/32", "192.0.2.1"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "proxies", "client"),
    [
        # No trusted proxies: X-Forwarded-For is ignored (a client could forge it).
        ("198.51.100.9", "1.2.3.4", (), "198.51.100.9"),
        # The peer is not a trusted proxy: ignored too.
        ("198.51.100.9", "1.2.3.4", TRUSTED, "198.51.100.9"),
        # Behind one trusted proxy: its entry is the client.
        ("10.0.0.5", "203.0.113.7", TRUSTED, "203.0.113.7"),
        # A forged first entry does not help: the right-most untrusted entry counts.
        ("10.0.0.5", "6.6.6.6, 203.0.113.7", TRUSTED, "203.0.113.7"),
        # Two trusted hops.
        ("10.0.0.5", "6.6.6.6,203.0.113.7, 10.1.1.1", TRUSTED, "203.0.113.7"),
        ("192.0.2.1", "2001:db8::5, 2a00:1450::1", TRUSTED, "2a00:1450::1"),
        # Every entry trusted: the left-most.
        ("10.0.0.5", "10.9.9.9, 10.1.1.1", TRUSTED, "10.9.9.9"),
        # Trusted peer without the header.
        ("10.0.0.5", "", TRUSTED, "10.0.0.5"),
        ("10.0.0.5", " , ", TRUSTED, "10.0.0.5"),
    ],
)
def test_client_address(peer: str, forwarded_for: str, proxies: tuple[object, ...], client: str) -> None:
    assert client_address(peer, forwarded_for, proxies) == client  # type: ignore[arg-type]


def test_trusted_proxies_must_be_networks() -> None:
    assert ServerSettings(trusted_proxies=["10.0.0.0/8", "::1"]).trusted_proxies == ["10.0.0.0/8", "::1"]
    with pytest.raises(ValueError, match="not an IP address or CIDR block"):
        ServerSettings(trusted_proxies=["proxy.internal"])
