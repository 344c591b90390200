"""API fixtures: one live server per database in the matrix, and a ``client`` fixture
parametrized over gRPC and REST so each test proves both transports."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rcommerce.db import Database
from rcommerce.domain.regions.directory import REFERENCE_NAMESPACE as REGIONS
from rcommerce.domain.shipping.repository import REFERENCE_NAMESPACE as SHIPPING
from rcommerce.domain.tax.rates import REFERENCE_NAMESPACE as TAX
from rcommerce.testing.client import ApiClient
from rcommerce.testing.server import LiveServer, live_server


@pytest.fixture(scope="session")
async def server(db: Database) -> AsyncIterator[LiveServer]:
    async with live_server(db.settings.url) as live:
        yield live


#: Per-address sign-in buckets (10 a minute, DECISIONS 23): every test signs in from here.
LOCAL_SIGN_IN_KEYS = [
    f"{action}:ip:{ip}" for action in ("sign_in", "register", "password_reset") for ip in ("127.0.0.1", "::1")
]


#: The reference namespaces the live server memoises (regions, tax zones, shipping tables).
REFERENCE_NAMESPACES = (REGIONS, TAX, SHIPPING)


@pytest.fixture(autouse=True)
async def fresh_reference_data(request: pytest.FixtureRequest) -> None:
    """Some fixtures seed regions, tax zones and shipping tables straight into the database
    (tests/backends/_carts_store.py, _checkout_world.py), behind the shared live server's
    services; every test therefore starts with the server's reference memo moved to a new
    generation (outside the tests, such writes wait for the memo's TTL)."""
    if "server" in request.fixturenames:
        server: LiveServer = request.getfixturevalue("server")
        for namespace in REFERENCE_NAMESPACES:
            await server.app.reference.bump(namespace)


@pytest.fixture(params=["grpc", "rest"])
async def client(request: pytest.FixtureRequest, server: LiveServer) -> AsyncIterator[ApiClient]:
    """An admin client on one transport. The shared server's per-address sign-in limits
    start full for every test, so tests that register customers never starve each other."""
    for key in LOCAL_SIGN_IN_KEYS:
        await server.app.customers.limiter.reset(key)
    api = server.grpc_client(server.admin_key) if request.param == "grpc" else server.rest_client(server.admin_key)
    yield api
    await api.close()
