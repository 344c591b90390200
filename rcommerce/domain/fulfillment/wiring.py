"""Builds the fulfilment context's services and servicers for the composition root."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from rcommerce.api.servicers.fulfillment import (
    FulfillmentServicer,
    OrderChangeServicer,
    OrderEditServicer,
    OrderPaymentServicer,
)
from rcommerce.clock import Clock
from rcommerce.config import Settings
from rcommerce.db.database import Database
from rcommerce.domain.carts.wiring import build_pricing_engine
from rcommerce.domain.fulfillment.changes import OrderChangeService
from rcommerce.domain.fulfillment.edits import OrderEditService
from rcommerce.domain.fulfillment.fulfillments import FulfillmentService
from rcommerce.domain.fulfillment.payments import OrderPayments
from rcommerce.domain.fulfillment.stock_moves import StockMoves
from rcommerce.domain.inventory.ledger import Ledger
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.orders.repository import OrderRepository
from rcommerce.domain.orders.wiring import connect_order_payments
from rcommerce.domain.payments.service import PaymentService
from rcommerce.gen.v1 import fulfillment_pb2_grpc as G
from rcommerce.plugins.manager import ProviderRegistry

__all__ = ["FulfillmentServices", "build_fulfillment_services"]


@dataclass(frozen=True, slots=True)
class FulfillmentServices:
    payments: OrderPayments
    fulfillments: FulfillmentService
    changes: OrderChangeService
    edits: OrderEditService

    def servicers(self) -> list[tuple[str, Any, Callable[[Any, grpc.aio.Server], None]]]:
        """``(service full name, servicer, add function)`` like ``App._servicers``."""
        return [
            ("rcommerce.v1.OrderPaymentService", OrderPaymentServicer(self.payments), G.add_OrderPaymentServiceServicer_to_server),
            ("rcommerce.v1.FulfillmentService", FulfillmentServicer(self.fulfillments), G.add_FulfillmentServiceServicer_to_server),
            ("rcommerce.v1.OrderChangeService", OrderChangeServicer(self.changes), G.add_OrderChangeServiceServicer_to_server),
            ("rcommerce.v1.OrderEditService", OrderEditServicer(self.edits), G.add_OrderEditServiceServicer_to_server),
        ]  # fmt: skip


def build_fulfillment_services(
    db: Database, clock: Clock, settings: Settings, payments: PaymentService, providers: ProviderRegistry
) -> FulfillmentServices:
    inv = settings.inventory
    stock = Stock(
        clock, low_stock_threshold=inv.low_stock_threshold, reservation_timeout_minutes=inv.reservation_timeout_minutes
    )
    moves = StockMoves(stock, Ledger(clock, low_stock_threshold=inv.low_stock_threshold))
    orders = OrderRepository(clock)
    connect_order_payments(payments, orders)
    order_payments = OrderPayments(db, clock, payments, orders, moves)
    return FulfillmentServices(
        order_payments,
        FulfillmentService(db, clock, orders, moves),
        OrderChangeService(
            db, clock, orders, moves, stock, order_payments, return_window_days=settings.orders.return_window_days
        ),
        OrderEditService(db, clock, orders, stock, build_pricing_engine(clock, settings, providers)),
    )
