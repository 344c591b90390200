"""A world for the fulfilment tests: the orders world (real catalog, carts, promotions,
inventory, tax, shipping and placement) plus the payment service with the built-in
``test`` gateway and the fulfilment services, as the app wires them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select

from rcommerce.db import Database
from rcommerce.domain.fulfillment.wiring import FulfillmentServices, build_fulfillment_services
from rcommerce.domain.inventory.models import InventoryLevelRow
from rcommerce.domain.orders.models import OrderLineRow, OrderRow
from rcommerce.domain.orders.placement import PlacedOrder
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.domain.payments.service import PaymentService
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.pagination import PageTokens
from tests.backends._carts_store import product
from tests.backends._orders_world import OrdersWorld, make_world

VISA = "4242424242424242"


def key() -> str:
    return uuid.uuid4().hex


@dataclass
class FulfilmentWorld:
    w: OrdersWorld
    payments: PaymentService
    svc: FulfillmentServices

    @property
    def db(self) -> Database:
        return self.w.db

    async def managed_variant(self, *, usd: int = 4999, stock: int = 10) -> tuple[str, str]:
        """(product id, variant id) of a stock-tracked variant."""
        name = await self.w.variant(product(usd=usd, managed=True, stock=stock))
        parts = name.split("/")
        return parts[1], parts[3]

    async def pay(self, placed: PlacedOrder, *, capture: str = "automatic", amount: int = 0) -> P.Payment:
        payment = await self.payments.create_payment(
            P.CreatePaymentRequest(
                target=placed.name, gateway="test", method_type="card", amount=amount or placed.total,
                currency_code=placed.currency, capture_method=capture, method_data={"number": VISA},
                idempotency_key=key(),
            )
        )  # fmt: skip
        async with self.db.transaction() as s:
            repo = OrderRepository(self.w.clock)
            row = await repo.load(s, placed.id, lock=True)
            await repo.refresh_statuses(s, row)
        return payment

    async def paid_order(
        self, *, total: int = 12591, quantity: int = 1, variant_id: str = "", capture: str = "automatic"
    ) -> PlacedOrder:
        placed = await self.w.place_simple(total=total, quantity=quantity, variant_id=variant_id)
        await self.pay(placed, capture=capture)
        return placed

    async def order(self, order_id: str) -> OrderRow:
        async with self.db.read() as s:
            row = await s.get(OrderRow, order_id, populate_existing=True)
            assert row is not None
            return row

    async def lines(self, order_id: str) -> list[OrderLineRow]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(OrderLineRow)
                .where(OrderLineRow.order_id == order_id)
                .order_by(OrderLineRow.position)
                .execution_options(populate_existing=True)
            )
            return list(rows)

    async def level(self, variant_id: str) -> tuple[int, int]:
        """(on hand, reserved) summed over locations."""
        async with self.db.read() as s:
            rows = (
                await s.execute(
                    select(InventoryLevelRow.on_hand, InventoryLevelRow.reserved).where(
                        InventoryLevelRow.variant_id == variant_id
                    )
                )
            ).all()
            return sum(int(r[0]) for r in rows), sum(int(r[1]) for r in rows)

    async def events(self, subject_prefix: str) -> list[str]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(OutboxEvent.type).where(OutboxEvent.subject.startswith(subject_prefix)).order_by(OutboxEvent.id)
            )
            return list(rows)


async def make_fulfilment_world(db: Database) -> FulfilmentWorld:
    w = await make_world(db)
    payments = PaymentService(db, w.clock, w.providers.payment_gateways, PageTokens(b"f" * 32))
    return FulfilmentWorld(w, payments, build_fulfillment_services(db, w.clock, w.settings, payments, w.providers))
