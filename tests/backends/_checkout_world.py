"""A small store for the checkout tests: an AUD region (country AU) that offers the
``test`` and ``manual`` gateways with automatic capture, one shipping zone for AU with
a flat rate, and products with stock; plus a ``World`` that wires carts, payments,
order placement and checkout like the application does, on a FrozenClock."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from decimal import Decimal

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import select

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import parse_scopes
from rcommerce.cache.memory import MemoryCache
from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock, FrozenClock
from rcommerce.config import load_settings
from rcommerce.db import Database
from rcommerce.domain.carts.wiring import build_cart_service
from rcommerce.domain.catalog.service import CatalogService
from rcommerce.domain.checkout.wiring import CheckoutServices, build_checkout
from rcommerce.domain.customers.directory import new_customer_row
from rcommerce.domain.payments.models import PaymentRow
from rcommerce.domain.payments.wiring import build_payment_service
from rcommerce.domain.regions.service import RegionService
from rcommerce.domain.shipping.models import ShippingRateRow, ShippingZoneRow
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import checkout_pb2 as X
from rcommerce.gen.v1 import regions_pb2
from rcommerce.gen.v1.common_pb2 import Address, Money
from rcommerce.ids import new_id
from rcommerce.jobs.queue import JobQueue
from rcommerce.pagination import PageTokens
from rcommerce.plugins.builtin.test_gateway import TestGateway
from rcommerce.plugins.manager import PluginHost

STAFF = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_test", parse_scopes(["admin"]))
STOREFRONT = Principal(
    PrincipalKind.PUBLISHABLE_KEY, "apiKeys/key_pk", parse_scopes(["carts:write", "carts:read", "checkout:write"])
)
SYDNEY = Address(
    first_name="Ada", address1="1 George St", city="Sydney", province="NSW", postal_code="2000", country_code="AU"
)
SHIPPING = 1000  # AUD 10.00 flat, service "chk_std"
_REGIONS: dict[str, str] = {}


def tag() -> str:
    return uuid.uuid4().hex[:8]


def as_customer(customer_id: str) -> Principal:
    return Principal(
        PrincipalKind.CUSTOMER, f"customers/{customer_id}", parse_scopes(["carts:write", "checkout:write"])
    )


async def ensure_region(db: Database, clock: Clock) -> str:
    """The checkout region, created once per database."""
    key = db.settings.url
    if key in _REGIONS:
        return _REGIONS[key]
    regions = RegionService(db, clock, PageTokens(b"checkout-test"))
    created = await regions.create_region(
        regions_pb2.Region(
            display_name="Checkout AU", currency_code="AUD", countries=["AU"], payment_providers=["test", "manual"],
            automatic_capture=True,
        )
    )  # fmt: skip
    now = clock.now()
    async with db.transaction() as s:
        zone = ShippingZoneRow(
            id=new_id("shz", now), name="Checkout AU", position=0, active=True, countries=["AU"],
            exclude_countries=[], states=[], postal_codes=[], postal_ranges=[], created_at=now, updated_at=now,
        )  # fmt: skip
        s.add(zone)
        await s.flush()
        s.add(
            ShippingRateRow(
                id=new_id("shr", now), zone_id=zone.id, profile_id=None, name="Standard", service_code="chk_std",
                currency_code="AUD", kind="flat", amount=SHIPPING, per_unit_amount=0, weight_unit="g", brackets=[],
                tiers=[], handling_fee=0, fuel_surcharge_percent=Decimal(0), free_over=None, min_weight_grams=0,
                max_weight_grams=None, volumetric="", min_days=1, max_days=3, active=True, position=0,
                created_at=now, updated_at=now,
            )
        )  # fmt: skip
    _REGIONS[key] = created.id
    return created.id


def product(price: int = 2500, *, stock: int | None = None) -> C.Product:
    """One AUD-priced variant; ``stock`` makes it tracked with policy deny."""
    t = tag()
    return C.Product(
        title=f"Checkout tee {t}", status=C.PRODUCT_STATUS_ACTIVE,
        variants=[
            C.Variant(
                sku=f"CHK-{t}", prices=[Money(currency_code="AUD", amount=price)], manage_inventory=stock is not None,
                inventory_quantity=stock or 0, inventory_policy=C.INVENTORY_POLICY_DENY, requires_shipping=True,
                weight_grams=300,
            )
        ],
    )  # fmt: skip


class World:
    """Every service checkout needs, as the application wires them."""

    def __init__(
        self, db: Database, clock: FrozenClock, region: str, *, reference: ReferenceCache | None = None,
        **settings: object,
    ) -> None:  # fmt: skip
        overrides: dict[str, object] = {"plugins": {"autoload": False}}
        if settings:
            overrides["checkout"] = settings
        config = load_settings(path=None, environ={}, overrides=overrides)
        host = PluginHost(config.plugins)
        host.load()
        providers = host.collect_providers()
        self.db, self.clock, self.region = db, clock, region
        self.gateway = providers.payment_gateways["test"]
        assert isinstance(self.gateway, TestGateway)
        tokens = PageTokens(b"checkout-test")
        #: One cache, as in the application: the catalog's reads and the products pricing
        #: reads; regions, tax and shipping tables memoised against it.
        cache = MemoryCache()
        self.catalog = CatalogService(db, cache, clock, tokens)
        self.reference = reference or ReferenceCache(cache, clock)
        self.carts = build_cart_service(db, clock, config, providers, cache=cache, reference=self.reference)
        self.payments = build_payment_service(db, clock, config, providers.payment_gateways, tokens, JobQueue(clock))
        built: CheckoutServices = build_checkout(
            db, clock, config, providers, self.carts, self.payments, reference=self.reference
        )
        self.checkout, self.reconciler = built.service, built.reconciler

    async def variant(self, price: int = 2500, *, stock: int | None = None) -> str:
        return str((await self.catalog.create_product(product(price, stock=stock), "")).variants[0].name)

    async def customer(self) -> str:
        async with self.db.transaction() as s:
            row = new_customer_row(f"buyer-{tag()}@example.com", self.clock.now(), is_guest=False)
            s.add(row)
            return str(row.id)

    async def cart(
        self, variant: str, quantity: int = 1, *, principal: Principal = STOREFRONT, email: str = "ada@example.com",
        ship: bool = True,
    ) -> tuple[str, str]:  # fmt: skip
        """A cart ready to complete: line, email, address, selected shipping. Returns
        (cart name, cart token)."""
        cart = await self.carts.create_cart(principal, K.Cart(region=f"regions/{self.region}", email=email))
        token = cart.cart_token
        await self.carts.add_line(principal, cart.name, variant, quantity, token)
        if ship:
            await self.carts.update_cart(
                principal, K.Cart(name=cart.name, shipping_address=SYDNEY), FieldMask(paths=["shipping_address"]), token
            )
            options = await self.carts.list_shipping_options(principal, cart.name, token)
            quote = next(o for o in options if o.service_code == "chk_std")
            await self.carts.select_shipping_option(principal, cart.name, quote.quote_id, token)
        return cart.name, token

    async def complete(
        self, cart: str, token: str = "", key: str | None = None, *, principal: Principal = STOREFRONT,
        card: str = "4242424242424242", gateway: str = "test", **fields: object,
    ) -> X.Checkout:  # fmt: skip
        method_type = "bank_transfer" if gateway == "manual" else "card"
        request = X.CompleteCheckoutRequest(
            cart=cart, cart_token=token, gateway=gateway, method_type=method_type,
            method_data={"number": card} if gateway == "test" else {}, idempotency_key=key or f"k-{tag()}",
            **fields,  # type: ignore[arg-type]
        )  # fmt: skip
        return await self.checkout.complete(principal, request)

    async def placed(self) -> tuple[str, str]:
        """A completed guest checkout of a new 25.00 variant: (order id, payment id)."""
        cart, token = await self.cart(await self.variant(2500))
        done = await self.complete(cart, token)
        assert done.status == X.CHECKOUT_STATUS_COMPLETED
        async with self.db.read() as s:
            payment_id = await s.scalar(select(PaymentRow.id).where(PaymentRow.target == done.order))
        assert payment_id is not None
        return done.order.removeprefix("orders/"), payment_id

    @contextmanager
    def crashing(self, fault: str) -> Iterator[None]:
        """Completions in the block end where the test-only ``fault_injection`` says,
        raising :class:`ProcessCrash` instead of ending the process."""

        def crash() -> None:
            raise ProcessCrash

        settings = self.checkout.settings
        self.checkout.settings = settings.model_copy(update={"fault_injection": fault})
        self.checkout._crash = crash
        try:
            yield
        finally:
            self.checkout.settings = settings


class ProcessCrash(BaseException):
    """Stands for the process dying (see :meth:`World.crashing`)."""


@asynccontextmanager
async def world(db: Database, *, reference: ReferenceCache | None = None, **settings: object) -> AsyncIterator[World]:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    region = await ensure_region(db, clock)
    yield World(db, clock, region, reference=reference, **settings)
