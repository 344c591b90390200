"""A live rcommerce server inside the current event loop, on free loopback ports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from rcommerce.app import App, bind_socket
from rcommerce.clock import Clock, PausableClock
from rcommerce.config import load_settings
from rcommerce.gen.v1 import carts_pb2, regions_pb2
from rcommerce.testing.client import GrpcClient, RestClient


class LiveServer:
    """A started :class:`App` plus client factories."""

    def __init__(self, app: App, admin_key: str) -> None:
        self.app = app
        self.admin_key = admin_key
        self._cart_regions: dict[str, str] = {}

    @property
    def clock(self) -> Clock:
        return self.app.clock

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.app.grpc_port}"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.app.http_port}"

    def grpc_client(self, token: str | None = None) -> GrpcClient:
        return GrpcClient(self.grpc_target, token)

    def rest_client(self, token: str | None = None) -> RestClient:
        return RestClient(self.base_url, token)

    async def create_key(self, scopes: list[str], kind: str = "secret", name: str = "test") -> str:
        return (await self.app.services.api_keys.create(name, kind, scopes)).key

    async def create_cart(self, token: str | None = None, currency_code: str = "USD") -> tuple[str, str]:
        """A new empty cart, made with ``token`` (default: the admin key): its name and
        guest ``cart_token`` ("" for a customer's cart). ``CreatePayment`` pays only carts
        and orders that exist and that the caller may reach, so payment tests pay one of
        these. The cart's region (``currency_code``, no countries) is made on first use."""
        api = self.grpc_client(self.admin_key)
        try:
            region = self._cart_regions.get(currency_code)
            if region is None:
                made = await api.call(
                    "CreateRegion",
                    regions_pb2.CreateRegionRequest(
                        region=regions_pb2.Region(display_name=f"Carts {currency_code}", currency_code=currency_code)
                    ),
                )
                region = self._cart_regions[currency_code] = made.name
            request = carts_pb2.CreateCartRequest(cart=carts_pb2.Cart(region=region))
            cart = await (api if token is None else api.with_token(token)).call("CreateCart", request)
        finally:
            await api.close()
        return cart.name, cart.cart_token


@asynccontextmanager
async def live_server(
    database_url: str, clock: Clock | None = None, **sections: dict[str, Any]
) -> AsyncIterator[LiveServer]:
    """Start a server on ``database_url`` (migrated already, or the embedded SQLite),
    yield it, then drain and stop it."""
    overrides: dict[str, Any] = {
        "database": {"url": database_url},
        # No recurring jobs: the suite's backend tests share the database on their own
        # frozen clocks, and the every-minute reconciler and sweeps must not act on their
        # rows (tests that need a sweep call its RPC or run it themselves).
        "server": {"host": "127.0.0.1", "grpc_port": 0, "http_port": 0, "shutdown_grace_s": 1, "run_schedules": False},
        "logging": {"access_log": False},
        "plugins": {"autoload": False},
        # The suite makes thousands of calls from one address and one key: limits stay on
        # (every call runs the limiter) but far above what a test run reaches.
        "rate_limits": {
            f"{caller}_{field}": 1_000_000
            for caller in ("anonymous", "publishable", "customer", "secret_key")
            for field in ("per_minute", "burst")
        },
    }
    for name, values in sections.items():
        overrides[name] = {**overrides.get(name, {}), **values}
    settings = load_settings(path=None, environ={}, overrides=overrides)
    # A pausable real clock, so time-dependent tests hold time still instead of racing it.
    app = App(settings, clock or PausableClock())
    await app.start(grpc_socket_port=0, http_sock=bind_socket("127.0.0.1", 0, reuse_port=False))
    try:
        key = (await app.services.api_keys.create("test admin", "secret", ["admin"])).key
        yield LiveServer(app, key)
    finally:
        await app.stop()
