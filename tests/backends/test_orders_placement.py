"""Order placement against every database: the Ex1 order (125.03), the snapshot, stock
reservations, promotion usage, tax lines, customer stats, events, rollback on
insufficient stock, and race-free consecutive order numbers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from rcommerce.db import Database
from rcommerce.domain.customers.models import CustomerRow
from rcommerce.domain.inventory.models import ReservationRow
from rcommerce.domain.orders.models import OrderLineRow, OrderRow
from rcommerce.domain.promotions.models import PromotionRow, PromotionUsageRow
from rcommerce.domain.tax.models import TaxTransactionRow
from rcommerce.errors import DomainError
from tests.backends._carts_store import customer
from tests.backends._orders_world import OrdersWorld, make_world


@pytest.fixture
async def world(db: Database) -> AsyncIterator[OrdersWorld]:
    yield await make_world(db)


async def test_ex1_cart_becomes_an_order_of_125_03(world: OrdersWorld) -> None:
    cart = await world.ex1_cart()
    placed = await world.place_cart(cart)
    assert placed.total == 12503 and placed.currency == "USD" and placed.status == "pending"
    assert placed.name == f"orders/{placed.id}" and placed.number.isdigit() and int(placed.number) >= 1001
    row = await world.order(placed.id)
    assert (row.subtotal, row.discount_total, row.item_tax, row.shipping_total, row.shipping_tax, row.tax_total,
            row.total) == (9998, 1000, 787, 2499, 219, 1006, 12503)  # fmt: skip
    assert (row.status, row.payment_status, row.fulfillment_status) == ("pending", "pending", "unfulfilled")
    assert row.cart_id == cart.id and row.email == cart.email and row.source == "checkout"
    assert row.shipping_method == "UPS 2-day" and row.shipping_service == "ups_2day" and row.shipping_quote_id
    assert row.coupon_codes == list(cart.coupon_codes) and row.promotions[0]["amount"] == 1000
    assert row.tax_lines == [{"name": "NY combined", "rate": "0.0875", "amount": 1006, "jurisdiction": "CARTS-US-NY"}]
    assert row.shipping_address is not None and row.shipping_address["postal_code"] == "10001"
    assert row.fraud_recommendation == "approve" and row.fraud_score == 0 and row.ip_address == "203.0.113.9"
    async with world.db.read() as s:
        (line,) = (await s.scalars(select(OrderLineRow).where(OrderLineRow.order_id == row.id))).all()
        assert (line.quantity, line.unit_price, line.subtotal, line.discount, line.total, line.tax) == (
            2, 4999, 9998, 1000, 8998, 787,
        )  # fmt: skip
        assert line.title == cart.line_items[0].title and line.sku == cart.line_items[0].sku
        assert line.source_line_id == cart.line_items[0].id and line.tax_components[0]["amount"] == 787
        (reservation,) = (await s.scalars(select(ReservationRow).where(ReservationRow.reference == placed.name))).all()
        assert line.reservation_ids == [reservation.id] and reservation.quantity == 2
        usage = await s.scalar(select(PromotionUsageRow).where(PromotionUsageRow.order_id == row.id))
        assert usage is not None and usage.amount == 1000 and usage.customer_id == row.customer_id
        taxes = (await s.scalars(select(TaxTransactionRow).where(TaxTransactionRow.order_id == row.id))).all()
        assert sorted((t.kind, t.taxable_amount, t.tax_amount) for t in taxes) == [
            ("line", 8998, 787), ("shipping", 2499, 219),
        ]  # fmt: skip
        guest = await s.get(CustomerRow, row.customer_id)
        assert guest is not None and guest.is_guest and guest.email == cart.email and guest.orders_count == 1
    assert await world.events(row.id) == ["order.created"]


async def test_insufficient_stock_rolls_the_whole_placement_back(world: OrdersWorld) -> None:
    cart = await world.ex1_cart(stock=2)
    # Someone else takes the stock after the cart was filled.
    other = await world.ex1_cart(stock=2)
    async with world.db.read() as s:
        before = await s.scalar(select(func.count()).select_from(OrderRow))
    variant = other.line_items[0].variant.split("/")[-1]
    async with world.db.transaction() as s:
        await world.placement.stock.reserve(s, variant_id=variant, quantity=2, reference="manual/test")
    with pytest.raises(DomainError) as caught:
        await world.place_cart(other)
    assert caught.value.reason.name == "INSUFFICIENT_INVENTORY"
    async with world.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(OrderRow)) == before
        assert await s.scalar(select(func.count()).select_from(OrderRow).where(OrderRow.cart_id == other.id)) == 0
        # The failed placement's coupon use was rolled back with it.
        promotion = await s.scalar(select(PromotionRow).where(PromotionRow.code == other.coupon_codes[0]))
        assert promotion is not None and promotion.usage_count == 0
        assert (
            await s.scalar(
                select(func.count())
                .select_from(PromotionUsageRow)
                .where(PromotionUsageRow.promotion_id == promotion.id)
            )
            == 0
        )
    # The first cart still places fine.
    assert (await world.place_cart(cart)).total == 12503


async def test_registered_customer_and_unknown_customer(world: OrdersWorld) -> None:
    customer_id = await customer(world.db, world.clock.now())
    placed = await world.place_simple(customer_id=customer_id, email="")
    row = await world.order(placed.id)
    assert row.customer_id == customer_id and row.email.startswith("buyer-")
    async with world.db.read() as s:
        found = await s.get(CustomerRow, customer_id)
        assert found is not None and found.orders_count == 1
    with pytest.raises(DomainError) as caught:
        await world.place_simple(customer_id="cus_01JA9ZQ3K8M0Q4XH7D2V5C6B8N")
    assert caught.value.reason.name == "CUSTOMER_NOT_FOUND"


async def test_twenty_concurrent_placements_get_twenty_consecutive_numbers(world: OrdersWorld) -> None:
    customer_id = await customer(world.db, world.clock.now())
    placed = await asyncio.gather(*(world.place_simple(customer_id=customer_id) for _ in range(20)))
    numbers = sorted(int(p.number) for p in placed)
    assert len(set(numbers)) == 20
    assert numbers == list(range(numbers[0], numbers[0] + 20))
    async with world.db.read() as s:
        found = await s.get(CustomerRow, customer_id)
        assert found is not None and found.orders_count == 20
