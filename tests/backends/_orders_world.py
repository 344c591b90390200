"""A world for the order tests: the real contexts (catalog, carts, promotions, inventory,
tax, shipping) wired as the app wires them, and helpers that place orders."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import select

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import parse_scopes
from rcommerce.cache.memory import MemoryCache
from rcommerce.clock import FrozenClock
from rcommerce.config import Settings, load_settings
from rcommerce.db import Database
from rcommerce.domain.carts.service import CartService
from rcommerce.domain.carts.wiring import build_cart_service
from rcommerce.domain.catalog.service import CatalogService
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.orders.convert import address_to_db
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.orders.placement import OrderPlacement, OrderSnapshot, PlacedOrder, PlacementRequest, SnapshotLine
from rcommerce.domain.orders.wiring import build_order_placement
from rcommerce.domain.promotions.service import PromotionService
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.gen.v1.common_pb2 import Address
from rcommerce.pagination import PageTokens
from rcommerce.plugins.manager import PluginHost, ProviderRegistry
from rcommerce.plugins.providers import TaxResult
from tests.backends._carts_store import Store, ensure_store, product, tag

STAFF = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_test", parse_scopes(["admin"]))
STOREFRONT = Principal(PrincipalKind.PUBLISHABLE_KEY, "apiKeys/key_pk", parse_scopes(["carts:write", "carts:read"]))
NY = Address(
    first_name="Ada", address1="1 Main St", city="New York", province="NY", postal_code="10001", country_code="US"
)


@dataclass
class OrdersWorld:
    db: Database
    clock: FrozenClock
    settings: Settings
    providers: ProviderRegistry
    carts: CartService
    catalog: CatalogService
    promos: PromotionService
    placement: OrderPlacement
    store: Store

    async def variant(self, p: C.Product | None = None) -> str:
        created = await self.catalog.create_product(p or product(), "")
        return created.variants[0].name

    async def promotion(self, **fields: object) -> str:
        code = f"C{tag().upper()}"
        await self.promos.create_promotion(
            P.Promotion(code=code, title=code, status=P.PROMOTION_STATUS_ACTIVE, **fields)  # type: ignore[arg-type]
        )
        return code

    async def ex1_cart(self, *, stock: int = 10) -> K.Cart:
        """Core-domain Ex1: 2 × 49.99, fixed coupon 10.00, NY 0.0875, UPS 2-day 24.99."""
        variant = await self.variant(product(usd=4999, managed=True, stock=stock))
        code = await self.promotion(
            type=P.PROMOTION_TYPE_FIXED_AMOUNT, currencies=[P.PromotionCurrency(currency_code="USD", amount=1000)]
        )
        cart = await self.carts.create_cart(STOREFRONT, K.Cart(region=f"regions/{self.store.us}"))
        token = cart.cart_token
        cart = await self.carts.add_line(STOREFRONT, cart.name, variant, 2, token)
        cart = await self.carts.apply_coupon(STOREFRONT, cart.name, code, token)
        cart = await self.carts.update_cart(
            STOREFRONT,
            K.Cart(name=cart.name, email=f"ada-{tag()}@example.com", shipping_address=NY),
            FieldMask(),
            token,
        )
        options = await self.carts.list_shipping_options(STOREFRONT, cart.name, token)
        ups = next(o for o in options if o.service_code == "ups_2day")
        return await self.carts.select_shipping_option(STOREFRONT, cart.name, ups.quote_id, token)

    async def place_cart(self, cart: K.Cart, *, customer_id: str = "", payment_ids: Sequence[str] = ()) -> PlacedOrder:
        async with self.db.transaction() as s:
            priced = await self.carts.price(s, cart.id)
            return await self.placement.place(
                s,
                PlacementRequest(
                    source="checkout", priced=priced, email=cart.email, customer_id=customer_id,
                    payment_ids=tuple(payment_ids), ip_address="203.0.113.9",
                ),
            )  # fmt: skip

    async def place_simple(
        self,
        *,
        total: int = 5000,
        email: str = "",
        customer_id: str = "",
        variant_id: str = "",
        quantity: int = 1,
        shipping: Address | None = None,
        billing: Address | None = None,
        payment_ids: Sequence[str] = (),
        source: str = "admin",
    ) -> PlacedOrder:
        """An order from a hand-made snapshot (no cart): one line worth ``total``."""
        async with self.db.transaction() as s:
            return await self.placement.place(
                s,
                PlacementRequest(
                    source=source, priced=simple_snapshot(self.store.us, total, shipping, billing, variant_id, quantity),
                    email=email or f"buyer-{tag()}@example.com", customer_id=customer_id,
                    payment_ids=tuple(payment_ids),
                ),
            )  # fmt: skip

    async def order(self, order_id: str) -> OrderRow:
        async with self.db.read() as s:
            row = await s.get(OrderRow, order_id)
            assert row is not None
            return row

    async def events(self, order_id: str) -> list[str]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(OutboxEvent.type).where(OutboxEvent.subject == f"orders/{order_id}").order_by(OutboxEvent.seq)
            )
            return list(rows)


def _dict(address: Address | None) -> dict[str, object] | None:
    return None if address is None else address_to_db(address)


def simple_snapshot(
    region_id: str,
    total: int,
    shipping: Address | None = None,
    billing: Address | None = None,
    variant_id: str = "",
    quantity: int = 1,
) -> OrderSnapshot:
    line = SnapshotLine(
        source_line_id="", product_id="", variant_id=variant_id, title="Thing", variant_title="", sku="THING",
        quantity=quantity, unit_price=total // quantity, original_unit_price=total // quantity, price_list_id="",
        subtotal=total, discount=0, tax=0, total=total,
    )  # fmt: skip
    return OrderSnapshot(
        region_id=region_id, currency="USD", lines=(line,), subtotal=total, discount_total=0, shipping_total=0,
        shipping_discount=0, item_tax=0, shipping_tax=0, tax_total=0, total=total, tax=TaxResult(lines=()),
        prices_include_tax=False, shipping_address=_dict(shipping), billing_address=_dict(billing),
    )  # fmt: skip


async def make_world(db: Database) -> OrdersWorld:
    clock = FrozenClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    settings = load_settings(path=None, environ={}, overrides={"plugins": {"autoload": False}})
    host = PluginHost(settings.plugins)
    host.load()
    providers = host.collect_providers()
    carts = build_cart_service(db, clock, settings, providers)
    tokens = PageTokens(b"orders-test")
    return OrdersWorld(
        db=db, clock=clock, settings=settings, providers=providers, carts=carts,
        catalog=CatalogService(db, MemoryCache(), clock, tokens),
        promos=PromotionService(db, clock, tokens, CustomerDirectory(clock)),
        placement=build_order_placement(clock, settings, providers), store=await ensure_store(db, clock),
    )  # fmt: skip
