"""Builds the checkout service and its reconciler for the composition root."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcommerce.api.servicers.checkout import CheckoutServicer
from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock
from rcommerce.config import Settings
from rcommerce.db.database import Database
from rcommerce.domain.carts.service import CartService
from rcommerce.domain.carts.wiring import build_pricing_engine, guard_cart_payments
from rcommerce.domain.checkout.reconciler import CheckoutReconciler
from rcommerce.domain.checkout.service import CheckoutService
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.orders.wiring import build_order_placement, connect_order_payments
from rcommerce.domain.payments.service import PaymentService
from rcommerce.gen.v1 import checkout_pb2_grpc
from rcommerce.jobs.queue import JobQueue
from rcommerce.plugins.manager import ProviderRegistry

__all__ = ["CheckoutServices", "build_checkout"]


@dataclass(frozen=True, slots=True)
class CheckoutServices:
    service: CheckoutService
    reconciler: CheckoutReconciler

    def servicer(self) -> tuple[str, Any, Any]:
        """``(service full name, servicer, add function)`` like ``App._servicers``."""
        return (
            "rcommerce.v1.CheckoutService",
            CheckoutServicer(self.service, self.reconciler),
            checkout_pb2_grpc.add_CheckoutServiceServicer_to_server,
        )


def build_checkout(
    db: Database, clock: Clock, settings: Settings, providers: ProviderRegistry, carts: CartService,
    payments: PaymentService, queue: JobQueue | None = None, reference: ReferenceCache | None = None,
) -> CheckoutServices:  # fmt: skip
    """The service, and the reconciler's every-minute job registered on ``queue``."""
    inventory = settings.inventory
    placement = build_order_placement(clock, settings, providers)
    connect_order_payments(payments, placement.repository)  # the capture marks the order paid
    guard_cart_payments(payments, clock)  # CreatePayment for a cart: whoever may change it
    service = CheckoutService(
        db, clock, carts=carts, payments=payments, placement=placement,
        pricing=build_pricing_engine(clock, settings, providers, reference),
        stock=Stock(clock, low_stock_threshold=inventory.low_stock_threshold,
                    reservation_timeout_minutes=inventory.reservation_timeout_minutes),
        settings=settings.checkout,
    )  # fmt: skip
    reconciler = CheckoutReconciler(db, clock, payments, settings.checkout)
    if queue is not None:
        reconciler.register(queue)
    return CheckoutServices(service, reconciler)
