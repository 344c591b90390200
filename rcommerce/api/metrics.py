"""Prometheus metrics of the API, labelled by transport, RPC and code."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "rcommerce_requests_total", "RPCs handled, by transport, method and gRPC code.", ["transport", "method", "code"]
)
LATENCY = Histogram(
    "rcommerce_request_duration_seconds",
    "RPC latency from the pipeline's point of view, by transport and method.",
    ["transport", "method"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}


def observe(transport: str, method: str, code: str, seconds: float) -> None:
    """Count one RPC and its latency. Label children are memoised: ``labels()`` is
    a measurable share of a no-op request."""
    key = (transport, method, code)
    pair = _children.get(key)
    if pair is None:
        pair = _children[key] = (REQUESTS.labels(transport, method, code), LATENCY.labels(transport, method))
    pair[0].inc()
    pair[1].observe(seconds)
