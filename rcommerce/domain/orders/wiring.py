"""Builds order placement and the order service from the settings and the providers."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.api.servicers.orders import OrderServicer
from rcommerce.auth.principal import Principal
from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock
from rcommerce.config import OrdersSettings, Settings
from rcommerce.db.database import Database
from rcommerce.domain.carts.wiring import build_pricing_engine
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.fulfillment.stock_moves import StockMoves
from rcommerce.domain.inventory.ledger import Ledger
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.orders.access import check_payable
from rcommerce.domain.orders.drafts import DraftOrderService
from rcommerce.domain.orders.fraud import FraudSettings
from rcommerce.domain.orders.placement import OrderPlacement
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.domain.orders.service import OrderService
from rcommerce.domain.orders.watch import OrderWatch
from rcommerce.domain.payments.service import PaymentService
from rcommerce.domain.promotions.evaluator import PromotionEvaluator
from rcommerce.domain.regions.directory import RegionDirectory
from rcommerce.events.wakeup import EventSignal, LocalSignal
from rcommerce.gen.v1 import orders_pb2_grpc, payments_pb2
from rcommerce.pagination import PageTokens
from rcommerce.plugins.manager import ProviderRegistry

__all__ = ["OrderServices", "build_order_placement", "build_orders", "connect_order_payments", "fraud_settings"]


@dataclass(frozen=True, slots=True)
class OrderServices:
    service: OrderService
    drafts: DraftOrderService
    placement: OrderPlacement
    watch: OrderWatch

    def servicer(self) -> tuple[str, Any, Any]:
        """``(service full name, servicer, add function)`` like ``App._servicers``."""
        return (
            "rcommerce.v1.OrderService",
            OrderServicer(self.service, self.drafts, self.watch),
            orders_pb2_grpc.add_OrderServiceServicer_to_server,
        )


def fraud_settings(orders: OrdersSettings) -> FraudSettings:
    return FraudSettings(
        high_value_threshold=Decimal(orders.fraud_high_value_threshold),
        new_customer_rule=orders.fraud_new_customer_rule,
        block_at=orders.fraud_block_at,
        review_at=orders.fraud_review_at,
        monitor_at=orders.fraud_monitor_at,
    )


def connect_order_payments(payments: PaymentService, repository: OrderRepository) -> None:
    """The orders context's part in payments of orders: who may pay an order
    (:func:`~rcommerce.domain.orders.access.check_payable`, before a payment is created),
    and the order's statuses derived again in every transaction that moves one of its
    payments."""

    async def guard(session: AsyncSession, request: payments_pb2.CreatePaymentRequest, principal: Principal) -> None:
        await check_payable(
            session, request.target.removeprefix("orders/"), principal, request.currency_code, request.amount
        )

    payments.guard_targets("orders", guard)
    payments.observe_targets("orders", repository.on_payment_changed)


def build_order_placement(clock: Clock, settings: Settings, providers: ProviderRegistry) -> OrderPlacement:
    inventory = settings.inventory
    return OrderPlacement(
        OrderRepository(clock),
        CustomerDirectory(clock),
        Stock(
            clock,
            low_stock_threshold=inventory.low_stock_threshold,
            reservation_timeout_minutes=inventory.reservation_timeout_minutes,
        ),
        PromotionEvaluator(clock),
        fraud=fraud_settings(settings.orders),
        fraud_providers=providers.fraud_providers,
    )


def build_orders(
    db: Database, clock: Clock, settings: Settings, providers: ProviderRegistry, tokens: PageTokens,
    payments: PaymentService | None = None, reference: ReferenceCache | None = None,
    signal: EventSignal | None = None,
) -> OrderServices:  # fmt: skip
    """The orders context; ``signal`` wakes WatchOrder streams after commits (the app's
    event signal; a process-local one when not given)."""
    placement = build_order_placement(clock, settings, providers)
    if payments is not None:
        connect_order_payments(payments, placement.repository)
    ledger = Ledger(clock, low_stock_threshold=settings.inventory.low_stock_threshold)
    moves = StockMoves(placement.stock, ledger)
    service = OrderService(db, clock, tokens, placement.repository, placement.stock, payments, moves)
    drafts = DraftOrderService(
        db,
        clock,
        placement,
        build_pricing_engine(clock, settings, providers, reference),
        RegionDirectory(reference),
        CustomerDirectory(clock),
    )
    return OrderServices(service, drafts, placement, OrderWatch(service, signal or LocalSignal()))
