"""Rate limiting through both transports (DECISIONS 23) on a server of its own with tiny
limits and a frozen clock: RateLimit-* headers (gRPC: trailing metadata) on every answer,
429 / RESOURCE_EXHAUSTED with Retry-After and RetryInfo after the burst, the client
address from trusted proxies only, and unlimited health endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
import httpx
import pytest
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2

from rcommerce.api.methods import method_table
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.gen.v1 import admin_pb2
from rcommerce.testing.server import LiveServer, live_server

PING = next(m for m in method_table().values() if m.name == "Ping")
# Secret keys: 3 at once, then one per second. Anonymous: 2 at once, then one per 10 s.
LIMITS = {"secret_key_per_minute": 60, "secret_key_burst": 3, "anonymous_per_minute": 6, "anonymous_burst": 2}


@dataclass
class Answer:
    ok: bool
    code: str  # gRPC code name, or "OK"
    http_status: int | None
    reason: str
    headers: dict[str, str]  # REST headers / gRPC trailing metadata, lower case
    retry_delay_s: float | None  # from RetryInfo


@pytest.fixture(scope="module")
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC))


@pytest.fixture(scope="module")
async def limited(db: Database, clock: FrozenClock) -> AsyncIterator[LiveServer]:
    async with live_server(
        db.settings.url, clock, rate_limits=LIMITS, server={"trusted_proxies": ["127.0.0.1/32", "::1"]}
    ) as live:
        yield live


@pytest.fixture(params=["grpc", "rest"])
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _retry_delay(status: status_pb2.Status) -> float | None:
    for detail in status.details:
        if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            info = error_details_pb2.RetryInfo()
            detail.Unpack(info)
            return info.retry_delay.ToNanoseconds() / 1e9
    return None


def _reason(status: status_pb2.Status) -> str:
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info.reason
    return ""


async def ping(
    server: LiveServer, transport: str, token: str | None = None, forwarded_for: str | None = None
) -> Answer:
    """One Ping with raw access to the answer's headers and error details."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if forwarded_for is not None:
        headers["x-forwarded-for"] = forwarded_for
    if transport == "rest":
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as http:
            response = await http.get(PING.bindings[0].template, headers=headers)
        lower = {k.lower(): v for k, v in response.headers.items()}
        if response.status_code == 200:
            return Answer(True, "OK", 200, "", lower, None)
        status = status_pb2.Status()
        error = response.json()["error"]
        json_format.ParseDict({"code": 0, "message": error["message"], "details": error["details"]}, status)
        return Answer(False, error["status"], response.status_code, _reason(status), lower, _retry_delay(status))
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = channel.unary_unary(
            PING.full_name,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=admin_pb2.PingResponse.FromString,
        )
        call = stub(admin_pb2.PingRequest(), metadata=tuple(headers.items()), timeout=30)
        try:
            await call
        except grpc.aio.AioRpcError as exc:
            trailers = {k: v for k, v in (exc.trailing_metadata() or ())}
            status = status_pb2.Status.FromString(trailers.pop("grpc-status-details-bin"))
            text = {k: v for k, v in trailers.items() if isinstance(v, str)}
            return Answer(False, exc.code().name, None, _reason(status), text, _retry_delay(status))
        trailing = {k: v for k, v in (await call.trailing_metadata() or ()) if isinstance(v, str)}
        return Answer(True, "OK", None, "", trailing, None)


def limit_headers(answer: Answer) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k.startswith("ratelimit-") or k == "retry-after"}


async def test_secret_key_burst_then_429_with_retry_after_and_retry_info(
    limited: LiveServer, clock: FrozenClock, transport: str
) -> None:
    key = await limited.create_key(["products:read"])
    answers = [await ping(limited, transport, key) for _ in range(3)]
    assert all(a.ok for a in answers)
    assert [limit_headers(a) for a in answers] == [
        {"ratelimit-limit": "3", "ratelimit-remaining": str(n), "ratelimit-reset": str(3 - n)} for n in (2, 1, 0)
    ]
    refused = await ping(limited, transport, key)
    assert not refused.ok
    assert (refused.code, refused.reason) == ("RESOURCE_EXHAUSTED", "RATE_LIMITED")
    if transport == "rest":
        assert refused.http_status == 429
    assert limit_headers(refused) == {
        "ratelimit-limit": "3",
        "ratelimit-remaining": "0",
        "ratelimit-reset": "3",
        "retry-after": "1",
    }
    assert refused.retry_delay_s == pytest.approx(1.0)
    assert "x-request-id" in refused.headers
    other_key = await limited.create_key(["products:read"])
    assert (await ping(limited, transport, other_key)).ok  # another key: its own bucket
    clock.advance(1)
    again = await ping(limited, transport, key)
    assert again.ok and again.headers["ratelimit-remaining"] == "0"
    assert not (await ping(limited, transport, key)).ok


async def test_anonymous_callers_are_counted_per_client_address(
    limited: LiveServer, clock: FrozenClock, transport: str
) -> None:
    address = f"203.0.113.{10 if transport == 'grpc' else 11}"
    for _ in range(2):
        assert (await ping(limited, transport, forwarded_for=address)).ok
    # A forged left-most entry changes nothing: the right-most untrusted entry is the client.
    refused = await ping(limited, transport, forwarded_for=f"6.6.6.6, {address}")
    assert refused.reason == "RATE_LIMITED"
    assert refused.retry_delay_s == pytest.approx(10.0) and refused.headers["retry-after"] == "10"
    assert (await ping(limited, transport, forwarded_for=f"{address}, 198.51.100.{transport == 'grpc':d}")).ok
    clock.advance(10)
    assert (await ping(limited, transport, forwarded_for=address)).ok


async def test_failed_authentication_counts_as_anonymous(limited: LiveServer, transport: str) -> None:
    address = f"203.0.113.{20 if transport == 'grpc' else 21}"
    for _ in range(2):
        answer = await ping(limited, transport, "sk_guessed", forwarded_for=address)
        assert answer.reason == "INVALID_API_KEY"
        assert answer.headers["ratelimit-limit"] == "2"
    assert (await ping(limited, transport, "sk_guessed", forwarded_for=address)).reason == "RATE_LIMITED"
    assert (await ping(limited, transport, forwarded_for=address)).reason == "RATE_LIMITED"  # same bucket


async def test_refused_authorisation_still_counts_and_carries_headers(limited: LiveServer) -> None:
    key = await limited.create_key(["products:read"])
    async with httpx.AsyncClient(base_url=limited.base_url, timeout=30) as http:
        answers = [await http.get("/v1/apiKeys", headers={"authorization": f"Bearer {key}"}) for _ in range(4)]
    assert [a.status_code for a in answers] == [403, 403, 403, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]


async def test_health_and_metrics_are_not_limited(limited: LiveServer) -> None:
    async with httpx.AsyncClient(base_url=limited.base_url, timeout=30) as http:
        for path in ("/healthz", "/readyz", "/metrics"):
            answers = [await http.get(path) for _ in range(5)]
            assert [a.status_code for a in answers] == [200] * 5
            assert "ratelimit-limit" not in answers[-1].headers


async def test_limits_can_be_disabled(db: Database) -> None:
    async with live_server(db.settings.url, rate_limits={"enabled": False, "anonymous_burst": 1}) as live:
        assert live.app.pipeline.limits is None
        answers = [await ping(live, "rest") for _ in range(3)]
        assert all(a.ok and not limit_headers(a) for a in answers)


async def test_redis_down_limits_per_process_with_one_warning(db: Database, caplog: pytest.LogCaptureFixture) -> None:
    settings = {"url": "redis://127.0.0.1:1/0", "redis_retry_s": 60}
    async with live_server(
        db.settings.url, cache=settings, rate_limits={"anonymous_per_minute": 1, "anonymous_burst": 2}
    ) as live:
        answers = [await ping(live, "rest") for _ in range(3)]
    assert [a.ok for a in answers] == [True, True, False]
    assert answers[-1].reason == "RATE_LIMITED"
    warnings = [r for r in caplog.records if r.name == "rcommerce.ratelimit" and "unreachable" in r.message]
    assert len(warnings) == 1
