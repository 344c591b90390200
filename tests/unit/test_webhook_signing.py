"""Webhook signing, the retry schedule, target validation and cron parsing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from datetime import UTC, datetime

import pytest

from rcommerce.events.signing import (
    event_body,
    generate_secret,
    legacy_signature,
    sign_headers,
    signing_key,
    standard_signature,
    verify_standard,
)
from rcommerce.events.targets import TargetRefused, check_target
from rcommerce.events.webhooks import MAX_ATTEMPTS, RETRY_DELAYS_S, endpoint_matches, retry_delay_s
from rcommerce.jobs.cron import Cron
from rcommerce.jobs.queue import exponential_backoff


@pytest.mark.parametrize(
    ("secret", "body", "expected"),
    [
        pytest.param(
            "whsec_test",
            b'{"data":{"order_id":"ord_123456"},"event":"order.created","timestamp":"2024-01-23T14:13:35Z"}',
            "sha256=371dc41b4de99ff448c148c3a1cd4db6bde3ab3bcd8fae4fa66f1be71f64aa1e",
            id="api-compat-7.10",
        ),
        pytest.param(
            "secret",
            b'{"event":"order.created"}',
            "sha256=40a4f3e4549f3ed69e2162a06773c5ba9c4dba6dd17a0cf58cb0775a844798de",
            id="smnc-5.3-plain",
        ),
        pytest.param(
            "whsec_test",
            b'{"data":{"message":"This is a test webhook delivery"},"event":"order.created","test":true,"timestamp":"2024-01-15T10:00:00+00:00"}',
            "sha256=da12b196b43bd5e1ef743064f8340a1d6b2cd155c8de0b67974dd43736b3d2b5",
            id="smnc-5.3-test-payload",
        ),
    ],
)
def test_legacy_signature_matches_the_spec_vectors(secret: str, body: bytes, expected: str) -> None:
    assert legacy_signature(secret, body) == expected
    assert sign_headers(secret, "evt_1", 1, body)["X-Webhook-Signature"] == expected


@pytest.mark.parametrize(
    ("secret", "key"),
    [
        pytest.param(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            id="whsec-base64",
        ),
        pytest.param("whsec_not base64!", b"whsec_not base64!", id="whsec-not-base64"),
        pytest.param("plain-secret", b"plain-secret", id="no-prefix"),
    ],
)
def test_signing_key_decodes_the_whsec_part(secret: str, key: bytes) -> None:
    assert signing_key(secret) == key


def test_standard_signature_is_hmac_of_id_timestamp_body() -> None:
    # The Standard Webhooks reference example (standard-webhooks spec, "Signature scheme").
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    sig = standard_signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_generated_secrets_are_whsec_and_32_random_bytes() -> None:
    a, b = generate_secret(), generate_secret()
    assert a != b and a.startswith("whsec_")
    assert len(base64.b64decode(a.removeprefix("whsec_"))) == 32


def test_event_body_is_the_compact_envelope() -> None:
    body = event_body(
        "evt_1", "product.created", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), {"object": {"id": "prod_1"}}
    )
    assert (
        body
        == b'{"id":"evt_1","type":"product.created","created_at":"2026-01-02T03:04:05.000Z","data":{"object":{"id":"prod_1"}}}'
    )
    assert json.loads(body)["data"]["object"]["id"] == "prod_1"


def test_verify_accepts_fresh_and_rejects_stale_or_tampered() -> None:
    secret, body, now = generate_secret(), b'{"a":1}', 1_700_000_000
    headers = sign_headers(secret, "evt_1", now, body)
    assert verify_standard(secret, headers, body, now=now + 299)
    assert not verify_standard(secret, headers, body, now=now + 301)
    assert not verify_standard(secret, headers, b'{"a":2}', now=now)
    assert not verify_standard(generate_secret(), headers, body, now=now)
    legacy = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == f"sha256={legacy}"


def test_retry_schedule_follows_decisions_19() -> None:
    assert RETRY_DELAYS_S == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert MAX_ATTEMPTS == 8
    rng = random.Random(7)
    for attempt, base in enumerate(RETRY_DELAYS_S, start=1):
        delay = retry_delay_s(attempt, rng=rng)
        assert base * 0.9 <= delay <= base * 1.1, attempt
    assert retry_delay_s(1, jitter=0) == 5


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [
        pytest.param(1, 4.0, 6.0, id="first"),
        pytest.param(3, 16.0, 24.0, id="third-doubles-twice"),
        pytest.param(20, 2880.0, 4320.0, id="capped-at-an-hour"),
    ],
)
def test_exponential_backoff_doubles_with_jitter_and_cap(attempt: int, low: float, high: float) -> None:
    rng = random.Random(1)
    for _ in range(50):
        assert low <= exponential_backoff(attempt, rng=rng) <= high


@pytest.mark.parametrize(
    ("patterns", "event_type", "expected"),
    [
        pytest.param(["*"], "order.created", True, id="star"),
        pytest.param(["product.*"], "product.created", True, id="resource-wildcard"),
        pytest.param(["product.*"], "products.created", False, id="wildcard-needs-dot"),
        pytest.param(["order.created"], "order.created", True, id="exact"),
        pytest.param(["order.created"], "order.paid", False, id="other"),
    ],
)
def test_endpoint_subscription_patterns(patterns: list[str], event_type: str, expected: bool) -> None:
    assert endpoint_matches(patterns, event_type) is expected


async def _resolve_private(host: str, port: int) -> list[str]:
    return {
        "internal.example": ["10.1.2.3"],
        "public.example": ["93.184.216.34"],
        "mixed.example": ["93.184.216.34", "127.0.0.1"],
    }[host]


async def _resolve_fails(host: str, port: int) -> list[str]:
    raise OSError("Name or service not known")


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        pytest.param("https://public.example/hook", True, id="public-name"),
        pytest.param("http://93.184.216.34:8080/x", True, id="public-ip"),
        pytest.param("ftp://public.example/x", False, id="ftp"),
        pytest.param("javascript:alert(1)", False, id="no-host"),
        pytest.param("https://internal.example/x", False, id="name-to-private"),
        pytest.param("https://mixed.example/x", False, id="one-loopback-answer"),
        pytest.param("http://127.0.0.1:9000/", False, id="loopback"),
        pytest.param("http://169.254.169.254/latest/meta-data", False, id="link-local-metadata"),
        pytest.param("http://[::1]/", False, id="ipv6-loopback"),
        pytest.param("http://[::ffff:10.0.0.1]/", False, id="ipv4-mapped-private"),
        pytest.param("http://0.0.0.0/", False, id="unspecified"),
    ],
)
async def test_target_validation(url: str, allowed: bool) -> None:
    if allowed:
        await check_target(url, allow_private=False, resolver=_resolve_private)
    else:
        with pytest.raises(TargetRefused):
            await check_target(url, allow_private=False, resolver=_resolve_private)


async def test_private_targets_allowed_by_setting_but_scheme_still_checked() -> None:
    await check_target("http://127.0.0.1:9000/", allow_private=True)
    with pytest.raises(TargetRefused, match="http"):
        await check_target("ftp://127.0.0.1/", allow_private=True)


async def test_unresolvable_host_is_refused_at_send_but_accepted_at_create() -> None:
    with pytest.raises(TargetRefused, match="does not resolve"):
        await check_target("https://nowhere.invalid/", allow_private=False, resolver=_resolve_fails)
    await check_target(
        "https://nowhere.invalid/", allow_private=False, resolver=_resolve_fails, require_resolvable=False
    )


@pytest.mark.parametrize(
    ("expression", "at", "latest", "following"),
    [
        pytest.param(
            "*/15 * * * *",
            datetime(2026, 3, 1, 10, 7),
            datetime(2026, 3, 1, 10, 0),
            datetime(2026, 3, 1, 10, 15),
            id="every-15",
        ),
        pytest.param(
            "0 3 * * *",
            datetime(2026, 3, 1, 2, 59),
            datetime(2026, 2, 28, 3, 0),
            datetime(2026, 3, 1, 3, 0),
            id="daily",
        ),
        pytest.param(
            "30 9 1 * *", datetime(2026, 3, 15), datetime(2026, 3, 1, 9, 30), datetime(2026, 4, 1, 9, 30), id="monthly"
        ),
        pytest.param(
            "0 0 * * 0", datetime(2026, 3, 4, 12), datetime(2026, 3, 1, 0, 0), datetime(2026, 3, 8, 0, 0), id="sundays"
        ),
        pytest.param(
            "0 12 1 * 1", datetime(2026, 3, 3), datetime(2026, 3, 2, 12), datetime(2026, 3, 9, 12), id="dom-or-dow"
        ),
    ],
)
def test_cron_latest_and_next(expression: str, at: datetime, latest: datetime, following: datetime) -> None:
    cron = Cron.parse(expression)
    tz = UTC
    assert cron.latest(at.replace(tzinfo=tz)) == latest.replace(tzinfo=tz)
    assert cron.next_after(at.replace(tzinfo=tz)) == following.replace(tzinfo=tz)


@pytest.mark.parametrize("expression", ["* * * *", "60 * * * *", "*/0 * * * *", "a * * * *"])
def test_cron_rejects_malformed(expression: str) -> None:
    with pytest.raises(ValueError):
        Cron.parse(expression)
