"""The composition root: the one place that wires settings, database, cache, plugins,
domain services and both transports together (DESIGN 2)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce import __version__
from rcommerce.api.grpc_server import build_grpc_server, set_serving
from rcommerce.api.methods import MethodInfo, method_table
from rcommerce.api.pipeline import Handler, Pipeline
from rcommerce.api.ratelimits import CallLimits, parse_networks
from rcommerce.api.rest.app import RestBridge
from rcommerce.api.servicers.admin import ApiKeyServicer, MetaServicer
from rcommerce.api.servicers.carts import CartServicer
from rcommerce.api.servicers.catalog import CatalogServicer
from rcommerce.api.servicers.events import EventServicer
from rcommerce.api.servicers.inventory import InventoryServicer
from rcommerce.api.servicers.notifications import NotificationServicer
from rcommerce.api.servicers.promotions import PromotionServicer
from rcommerce.api.servicers.regions import PriceListServicer, RegionServicer
from rcommerce.api.servicers.shipping import ShippingServicer
from rcommerce.api.servicers.tax import TaxServicer
from rcommerce.cache.base import Cache
from rcommerce.cache.factory import create_cache
from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock, SystemClock
from rcommerce.config import Settings
from rcommerce.db.database import Database
from rcommerce.db.migrate import ensure_current
from rcommerce.domain.admin.keys import ApiKeys, looks_like_api_key
from rcommerce.domain.admin.models import StoreSetting
from rcommerce.domain.carts.service import CartService
from rcommerce.domain.carts.usage import region_usage as carts_region_usage
from rcommerce.domain.carts.wiring import build_cart_service
from rcommerce.domain.catalog.service import CatalogService
from rcommerce.domain.checkout.wiring import CheckoutServices, build_checkout
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.customers.wiring import CustomerServices, build_customer_services
from rcommerce.domain.fulfillment.wiring import FulfillmentServices, build_fulfillment_services
from rcommerce.domain.inventory.jobs import register_inventory_jobs
from rcommerce.domain.inventory.service import InventoryService
from rcommerce.domain.orders.usage import region_usage as orders_region_usage
from rcommerce.domain.orders.wiring import OrderServices, build_orders
from rcommerce.domain.payments.service import PaymentService
from rcommerce.domain.payments.wiring import build_payment_service, payment_raw_posts, payment_servicer
from rcommerce.domain.price_lists.service import PriceListService
from rcommerce.domain.promotions.service import PromotionService
from rcommerce.domain.regions.rules import KnownProviders
from rcommerce.domain.regions.service import RegionService
from rcommerce.domain.shipping.jobs import register_shipping_jobs
from rcommerce.domain.shipping.quoting import ShippingQuoter
from rcommerce.domain.shipping.service import ShippingService
from rcommerce.domain.tax.wiring import TaxServices, build_tax
from rcommerce.events.stream import EventStream
from rcommerce.events.wakeup import EventSignal, create_signal
from rcommerce.events.wiring import EventServices, build_event_services
from rcommerce.gen.v1 import (
    admin_pb2_grpc,
    carts_pb2_grpc,
    catalog_pb2_grpc,
    events_pb2_grpc,
    inventory_pb2_grpc,
    notifications_pb2_grpc,
    promotions_pb2_grpc,
    regions_pb2_grpc,
    shipping_pb2_grpc,
    tax_pb2_grpc,
)
from rcommerce.notifications.service import NotificationService
from rcommerce.notifications.templates import Templates
from rcommerce.notifications.variables import Links
from rcommerce.pagination import PageTokens
from rcommerce.plugins.manager import PluginHost, ProviderRegistry
from rcommerce.plugins.providers import Event
from rcommerce.ratelimit import create_rate_limiter

log = logging.getLogger("rcommerce")


class _ApiKeyVerifier:
    def __init__(self, keys: ApiKeys) -> None:
        self._keys = keys

    def accepts(self, token: str) -> bool:
        return token.startswith(("sk_", "pk_")) or looks_like_api_key(token)

    async def verify(self, token: str) -> Any:
        return await self._keys.verify(token)


async def load_secret_key(db: Database, settings: Settings) -> bytes:
    """The configured secret key, or the generated one every process shares via the DB."""
    configured = settings.security.secret_key.get_secret_value()
    if configured:
        return configured.encode()
    async with db.transaction() as session:
        row = await session.get(StoreSetting, "secret_key", with_for_update=True)
        if row is None:
            row = StoreSetting(key="secret_key", value=secrets.token_urlsafe(48))
            session.add(row)
        return row.value.encode()


@dataclass
class Services:
    """The domain services of one process."""

    api_keys: ApiKeys
    catalog: CatalogService
    page_tokens: PageTokens


def _register(add: Callable[[Any, grpc.aio.Server], None], servicer: Any, server: grpc.aio.Server) -> None:
    add(servicer, server)


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: the process owner handles SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def bind_socket(host: str, port: int, *, reuse_port: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets created with it;
    # without it every keep-alive response waits ~40 ms for the peer's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@dataclass
class App:
    """One running rcommerce process: both transports on one event loop."""

    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    db: Database = field(init=False)
    cache: Cache = field(init=False)
    reference: ReferenceCache = field(init=False)
    plugins: PluginHost = field(init=False)
    providers: ProviderRegistry = field(init=False)
    services: Services = field(init=False)
    events: EventServices = field(init=False)
    notifications: NotificationService = field(init=False)
    event_signal: EventSignal = field(init=False)
    customers: CustomerServices = field(init=False)
    promotions: PromotionService = field(init=False)
    tax: TaxServices = field(init=False)
    carts: CartService = field(init=False)
    regions: RegionService = field(init=False)
    price_lists: PriceListService = field(init=False)
    shipping: ShippingService = field(init=False)
    inventory: InventoryService = field(init=False)
    payments: PaymentService = field(init=False)
    fulfillment: FulfillmentServices = field(init=False)
    checkout: CheckoutServices = field(init=False)
    orders: OrderServices = field(init=False)
    methods: dict[str, MethodInfo] = field(init=False)
    bridge: RestBridge = field(init=False)
    grpc_port: int = 0
    http_port: int = 0
    _grpc: Any = None
    _health: Any = None
    _http: _QuietServer | None = None
    _http_task: asyncio.Task[None] | None = None

    async def build(self) -> None:
        """Connect, check the schema, load plugins and build the services (no listening)."""
        s = self.settings
        self.plugins = PluginHost(s.plugins)
        self.plugins.load()
        self.providers = self.plugins.collect_providers()
        self.db = Database(s.database)
        self.event_signal = create_signal(s.cache.url)
        self.db.on_outbox_commit = self.event_signal.committed
        await ensure_current(self.db, auto_migrate=s.database.auto_migrate_embedded)
        self.cache = create_cache(s.cache)
        self.reference = ReferenceCache(
            self.cache, self.clock, ttl_s=s.cache.reference_ttl_s, max_entries=s.cache.reference_max_entries
        )
        secret = await load_secret_key(self.db, s)
        tokens = PageTokens(secret)
        keys = ApiKeys(self.db, self.cache, self.clock, s.cache.auth_ttl_s)
        catalog = CatalogService(self.db, self.cache, self.clock, tokens, cache_ttl_s=s.cache.catalog_ttl_s)
        self.services = Services(keys, catalog, tokens)

        async def mail_reset_link(session: AsyncSession, event: Event) -> object:
            # In-transaction: the reset link reaches notifications without entering the outbox.
            return await self.notifications.on_event(session, event)

        self.carts = build_cart_service(
            self.db, self.clock, s, self.providers, cache=self.cache, reference=self.reference
        )
        self.customers = build_customer_services(
            self.db,
            self.cache,
            self.clock,
            s,
            secret,
            tokens,
            on_password_reset=[mail_reset_link],
            on_sign_in=[self.carts.merge_on_sign_in],
        )
        self.promotions = PromotionService(self.db, self.clock, tokens, CustomerDirectory(self.clock))
        self.tax = await build_tax(
            self.db, self.clock, tokens, s.tax, self.providers.tax_providers, self.providers.vat_validators,
            self.reference,
        )  # fmt: skip
        installed = {
            "payment": frozenset(self.providers.payment_gateways),
            "shipping": frozenset(self.providers.shipping_carriers),
            "tax": frozenset(self.providers.tax_providers),
        }
        self.regions = RegionService(self.db, self.clock, tokens, KnownProviders(installed), reference=self.reference)
        self.price_lists = PriceListService(self.db, self.clock, tokens)
        self.shipping = ShippingService(
            self.db, self.clock, tokens,
            ShippingQuoter(self.clock, self.providers.shipping_carriers, s.shipping, self.reference), self.reference,
        )  # fmt: skip

        async def notify(session: AsyncSession, event: Event) -> object:
            # Late-bound: the notification service needs the queue built just below.
            return await self.notifications.on_event(session, event)

        self.events = build_event_services(
            self.db,
            self.clock,
            self.plugins.emit_event,
            tokens,
            allow_private_targets=s.webhooks.allow_private_targets,
            webhook_timeout_s=s.webhooks.timeout_s,
            disable_after_failures=s.webhooks.disable_after_failures,
            event_consumers=[notify],
            run_schedules=s.server.run_schedules,
        )
        n = s.notifications
        templates = Templates(
            Path(n.template_dir) if n.template_dir else None,
            globals={"company_name": n.company_name, "support_email": n.support_email},
        )
        self.notifications = NotificationService(
            self.db,
            self.clock,
            self.events.queue,
            templates,
            channels=self.providers.notification_channels,
            preferences=self.customers.preference_hook,
            links=Links(n.shop_url),
            reference=self.reference,
        )
        self.notifications.register_jobs()
        self.inventory = InventoryService(
            self.db, self.cache, self.clock, tokens, low_stock_threshold=s.inventory.low_stock_threshold,
            reservation_timeout_minutes=s.inventory.reservation_timeout_minutes,
        )  # fmt: skip
        register_inventory_jobs(self.events.queue, self.inventory)
        register_shipping_jobs(self.events.queue, self.shipping)
        self.payments = build_payment_service(
            self.db, self.clock, s, self.providers.payment_gateways, tokens, self.events.queue
        )
        self.fulfillment = build_fulfillment_services(self.db, self.clock, s, self.payments, self.providers)
        self.checkout = build_checkout(
            self.db, self.clock, s, self.providers, self.carts, self.payments, self.events.queue, self.reference
        )
        self.orders = build_orders(
            self.db, self.clock, s, self.providers, tokens, self.payments, self.reference, self.event_signal
        )
        self.regions.add_usage(carts_region_usage)
        self.regions.add_usage(orders_region_usage)
        self.methods = method_table()
        limits = None
        if s.rate_limits.enabled:  # state in [cache] url: Redis shared, else per process
            limits = CallLimits(
                create_rate_limiter(s.cache.url, retry_s=s.cache.redis_retry_s, clock=self.clock), s.rate_limits
            )
        self.pipeline = Pipeline(
            [_ApiKeyVerifier(keys), self.customers.verifier],
            self.clock,
            access_log=s.logging.access_log,
            limits=limits,
            trusted_proxies=parse_networks(s.server.trusted_proxies),
        )

    def _servicers(self) -> list[tuple[str, Any, Callable[[Any, grpc.aio.Server], None]]]:
        """(service full name, servicer, generated registration function) per service."""
        svc = self.services
        return [
            (
                "rcommerce.v1.ApiKeyService",
                ApiKeyServicer(svc.api_keys, svc.page_tokens),
                admin_pb2_grpc.add_ApiKeyServiceServicer_to_server,
            ),
            ("rcommerce.v1.MetaService", MetaServicer(), admin_pb2_grpc.add_MetaServiceServicer_to_server),
            (
                "rcommerce.v1.CatalogService",
                CatalogServicer(svc.catalog),
                catalog_pb2_grpc.add_CatalogServiceServicer_to_server,
            ),
            (
                "rcommerce.v1.PromotionService",
                PromotionServicer(self.promotions),
                promotions_pb2_grpc.add_PromotionServiceServicer_to_server,
            ),
            ("rcommerce.v1.CartService", CartServicer(self.carts), carts_pb2_grpc.add_CartServiceServicer_to_server),
            (
                "rcommerce.v1.RegionService",
                RegionServicer(self.regions),
                regions_pb2_grpc.add_RegionServiceServicer_to_server,
            ),
            ("rcommerce.v1.TaxService", TaxServicer(self.tax.service), tax_pb2_grpc.add_TaxServiceServicer_to_server),
            (
                "rcommerce.v1.PriceListService",
                PriceListServicer(self.price_lists),
                regions_pb2_grpc.add_PriceListServiceServicer_to_server,
            ),
            (
                "rcommerce.v1.ShippingService",
                ShippingServicer(self.shipping),
                shipping_pb2_grpc.add_ShippingServiceServicer_to_server,
            ),
            *self.customers.servicers(),
            *self.events.servicers(),
            (
                "rcommerce.v1.EventService",
                EventServicer(EventStream(self.db, clock=self.clock, signal=self.event_signal)),
                events_pb2_grpc.add_EventServiceServicer_to_server,
            ),
            (
                "rcommerce.v1.NotificationService",
                NotificationServicer(self.notifications, svc.page_tokens),
                notifications_pb2_grpc.add_NotificationServiceServicer_to_server,
            ),
            (
                "rcommerce.v1.InventoryService",
                InventoryServicer(self.inventory),
                inventory_pb2_grpc.add_InventoryServiceServicer_to_server,
            ),
            payment_servicer(self.payments),
            *self.fulfillment.servicers(),
            self.checkout.servicer(),
            self.orders.servicer(),
        ]

    async def start(self, grpc_socket_port: int | None = None, http_sock: socket.socket | None = None) -> None:
        """Build everything and start listening on both transports."""
        await self.build()
        s = self.settings.server
        servicers = self._servicers()
        by_service = {name: servicer for name, servicer, _ in servicers}
        handlers: dict[str, Handler] = {
            full_name: getattr(by_service[m.service], m.name)
            for full_name, m in self.methods.items()
            if m.service in by_service
        }
        self._grpc, self._health = await build_grpc_server(
            self.pipeline,
            self.methods,
            [functools.partial(_register, add, sv) for _, sv, add in servicers],
            max_message_bytes=s.max_request_bytes,
        )
        self.grpc_port = self._grpc.add_insecure_port(
            f"{s.host}:{s.grpc_port if grpc_socket_port is None else grpc_socket_port}"
        )
        if self.grpc_port == 0:
            raise OSError(f"cannot listen for gRPC on {s.host}:{s.grpc_port}")
        self.bridge = RestBridge(
            self.pipeline,
            self.methods,
            handlers,
            max_body_bytes=s.max_request_bytes,
            emit_unpopulated=s.emit_unpopulated,
            cors_origins=self.settings.security.cors_origins,
            extra_endpoints={
                "/healthz": self._healthz,
                "/readyz": self._readyz,
                "/metrics": self._metrics,
                "/openapi.json": self._openapi,
            },
            raw_posts=payment_raw_posts(self.payments),
        )
        sock = http_sock or bind_socket(s.host, s.http_port)
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.bridge,
            lifespan="off",
            access_log=False,
            log_config=None,
            http="httptools",
            loop="none",
            timeout_graceful_shutdown=int(s.shutdown_grace_s) or None,
            server_header=False,
            proxy_headers=False,
        )
        self._http = _QuietServer(config)
        await self._grpc.start()
        self._http_task = asyncio.create_task(self._http.serve(sockets=[sock]), name="rest-bridge")
        while not self._http.started:
            if self._http_task.done():
                self._http_task.result()
            await asyncio.sleep(0.01)
        await self.event_signal.start()
        await self.plugins.startup(app=self)
        if s.run_workers_in_process:
            await self.events.start()
        await set_serving(self._health, {m.service for m in self.methods.values()}, True)
        log.info(
            "rcommerce %s serving gRPC on %s:%d and HTTP on %s:%d (event loop: %s)",
            __version__, s.host, self.grpc_port, s.host, self.http_port, _loop_name(),
        )  # fmt: skip

    async def stop(self) -> None:
        """Drain: stop accepting, let in-flight requests finish within the grace period."""
        grace = self.settings.server.shutdown_grace_s
        if self._health is not None:
            await set_serving(self._health, {m.service for m in self.methods.values()}, False)
        if self._http is not None:
            self._http.should_exit = True
        waits = []
        if self._grpc is not None:
            waits.append(self._grpc.stop(grace))
        if self._http_task is not None:
            waits.append(self._http_task)
        await asyncio.gather(*waits, return_exceptions=True)
        await self.checkout.service.finish_captures()  # of requests cancelled by the drain
        await self.plugins.shutdown(app=self)
        await self.events.stop()
        await self.event_signal.stop()
        await self.customers.close()
        if self.pipeline.limits is not None:
            await self.pipeline.limits.close()
        await self.cache.close()
        await self.db.dispose()
        log.info("rcommerce stopped")

    # -- operational endpoints --------------------------------------------------------
    async def _healthz(self) -> tuple[int, bytes, str]:
        return 200, b'{"status":"ok"}', "application/json"

    async def _readyz(self) -> tuple[int, bytes, str]:
        try:
            async with asyncio.timeout(2):
                await self.db.ping()
        except Exception as exc:
            log.warning("readiness check failed: %r", exc)
            return 503, b'{"status":"unavailable","database":"unreachable"}', "application/json"
        return 200, b'{"status":"ok","database":"ok"}', "application/json"

    async def _metrics(self) -> tuple[int, bytes, str]:
        registry: CollectorRegistry = REGISTRY
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # --workers N: every process writes its samples to the shared directory.
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return 200, generate_latest(registry), CONTENT_TYPE_LATEST

    async def _openapi(self) -> tuple[int, bytes, str]:
        import json

        from rcommerce.api.rest.openapi import build_openapi

        if not hasattr(self, "_openapi_doc"):
            self._openapi_doc = json.dumps(build_openapi(self.bridge.routes, version=__version__)).encode()
        return 200, self._openapi_doc, "application/json"


def _loop_name() -> str:
    """ "uvloop" or "asyncio": which event loop this process runs on (``[server] event_loop``)."""
    return "uvloop" if type(asyncio.get_running_loop()).__module__.startswith("uvloop") else "asyncio"
