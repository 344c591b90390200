"""Builds the cart service and the pricing engine from the settings and the providers."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.cache.base import Cache
from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock
from rcommerce.config import Settings
from rcommerce.db.database import Database
from rcommerce.domain.carts.access import check_payable
from rcommerce.domain.carts.service import CartService
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.payments.service import PaymentService
from rcommerce.domain.price_lists.resolver import PriceResolver
from rcommerce.domain.pricing.assembly import PricingEngine
from rcommerce.domain.promotions.evaluator import PromotionEvaluator
from rcommerce.domain.regions.directory import RegionDirectory
from rcommerce.domain.shipping.quoting import ShippingQuoter
from rcommerce.domain.tax.calculator import TaxCalculator
from rcommerce.domain.tax.vat_checker import VatIdChecker
from rcommerce.gen.v1 import payments_pb2
from rcommerce.plugins.manager import ProviderRegistry

__all__ = ["build_cart_service", "build_pricing_engine", "guard_cart_payments"]


def build_pricing_engine(
    clock: Clock, settings: Settings, providers: ProviderRegistry, reference: ReferenceCache | None = None
) -> PricingEngine:
    """The pricing pipeline; ``reference`` memoises tax zone tables and shipping tables."""
    vat = VatIdChecker(list(providers.vat_validators.values()), clock, cache_days=settings.tax.vat_cache_days)
    return PricingEngine(
        prices=PriceResolver(clock),
        promotions=PromotionEvaluator(clock),
        tax=TaxCalculator(
            providers.tax_providers, vat, clock=clock, origin_country=settings.tax.origin_country, reference=reference
        ),
        shipping=ShippingQuoter(clock, providers.shipping_carriers, settings.shipping, reference),
        default_tax_provider=settings.tax.default_provider,
    )


def build_cart_service(
    db: Database,
    clock: Clock,
    settings: Settings,
    providers: ProviderRegistry,
    pricing: PricingEngine | None = None,
    cache: Cache | None = None,
    reference: ReferenceCache | None = None,
) -> CartService:
    """The cart service; ``cache`` keeps products, ``reference`` regions, tax and shipping tables."""
    inventory = settings.inventory
    return CartService(
        db,
        clock,
        regions=RegionDirectory(reference),
        customers=CustomerDirectory(clock),
        stock=Stock(
            clock,
            low_stock_threshold=inventory.low_stock_threshold,
            reservation_timeout_minutes=inventory.reservation_timeout_minutes,
        ),
        pricing=pricing or build_pricing_engine(clock, settings, providers, reference),
        ttl_days=settings.carts.ttl_days,
        cache=cache,
        catalog_ttl_s=settings.cache.catalog_ttl_s,
    )


def guard_cart_payments(payments: PaymentService, clock: Clock) -> None:
    """Who may pay a cart (``CreatePayment`` with a "carts/..." target): whoever may change
    it, while it takes changes (:func:`~rcommerce.domain.carts.access.check_payable`)."""

    async def guard(session: AsyncSession, request: payments_pb2.CreatePaymentRequest, principal: Principal) -> None:
        await check_payable(
            session, request.target.removeprefix("carts/"), principal, request.cart_token, clock.now(),
            request.currency_code,
        )  # fmt: skip

    payments.guard_targets("carts", guard)
