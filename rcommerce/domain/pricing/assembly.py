"""The async assembly of the pricing pipeline: resolves every input from its context and
runs the pure pipeline (``pipeline.py``) around the tax call.

    PriceResolver (unit prices) → PromotionEvaluator (line discounts, free shipping)
    → ShippingQuoter (the selected stored quote) → TaxCalculator (discounted base and net
    shipping, with the region's provider) → totals

Everything runs in the caller's session, so a command that prices a cart stays one
transaction. The carts context gives the lines; checkout prices the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.customers.directory import CustomerProfile
from rcommerce.domain.price_lists.resolver import PriceResolver, UnitPrice
from rcommerce.domain.pricing.pipeline import PriceBreakdown, PricingInput, PricingLine, finish, prepare
from rcommerce.domain.promotions.engine import PromoContext, PromoLine, PromotionResult
from rcommerce.domain.promotions.evaluator import PromotionEvaluator
from rcommerce.domain.regions.directory import RegionInfo
from rcommerce.domain.shipping.quoting import ShipmentItem, ShipmentRequest, ShippingQuoter, StoredQuote
from rcommerce.domain.tax.calculator import TaxCalculator
from rcommerce.errors import DomainError
from rcommerce.plugins.providers import Address

__all__ = ["CartLine", "PricingContext", "PricingEngine", "PricingResult"]


@dataclass(frozen=True, slots=True)
class CartLine:
    """A cart line with what promotions, shipping and tax need to know of its product."""

    line_id: str
    product_id: str
    variant_id: str
    quantity: int
    unit_price: int
    original_unit_price: int
    weight_grams: int = 0
    length_mm: int = 0
    width_mm: int = 0
    height_mm: int = 0
    requires_shipping: bool = True
    category_ids: frozenset[str] = frozenset()
    collection_ids: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    sku: str = ""
    tax_category: str = ""


@dataclass(frozen=True, slots=True)
class PricingContext:
    """Who buys, where, in which region."""

    cart_id: str
    region: RegionInfo
    customer: CustomerProfile | None
    coupon_codes: tuple[str, ...]
    destination: Address | None
    vat_id: str = ""
    shipping_quote_id: str = ""


@dataclass(frozen=True, slots=True)
class PricingResult:
    breakdown: PriceBreakdown
    promotions: PromotionResult
    #: The selected quote, when it is still valid.
    quote: StoredQuote | None
    #: Why the selected quote was dropped (SHIPPING_QUOTE_EXPIRED ...), "" otherwise.
    quote_problem: str = ""


class PricingEngine:
    """Prices carts with the other contexts' services."""

    def __init__(
        self,
        prices: PriceResolver,
        promotions: PromotionEvaluator,
        tax: TaxCalculator,
        shipping: ShippingQuoter,
        *,
        default_tax_provider: str = "builtin",
    ) -> None:
        #: Used when the region names no tax provider (``[tax] default_provider``).
        self.default_tax_provider = default_tax_provider
        self.prices = prices
        self.promotions = promotions
        self.tax = tax
        self.shipping = shipping

    async def unit_prices(
        self, session: AsyncSession, variant_ids: Sequence[str], currency: str, customer: CustomerProfile | None
    ) -> dict[str, UnitPrice]:
        """R1: what each variant costs this customer now (absent: not priced in ``currency``)."""
        groups = customer.group_ids if customer else frozenset()
        return await self.prices.unit_prices(session, variant_ids, currency, groups)

    def promo_context(
        self, ctx: PricingContext, lines: Sequence[CartLine], codes: Sequence[str] | None = None
    ) -> PromoContext:
        customer = ctx.customer
        return PromoContext(
            currency=ctx.region.currency_code,
            lines=tuple(
                PromoLine(
                    line_id=line.line_id, product_id=line.product_id, variant_id=line.variant_id, quantity=line.quantity,
                    unit_price=line.unit_price, subtotal=line.unit_price * line.quantity,
                    collection_ids=line.collection_ids, category_ids=line.category_ids,
                )
                for line in lines
            ),
            codes=tuple(ctx.coupon_codes if codes is None else codes),
            customer_id=customer.id if customer else "",
            customer_group_ids=customer.group_ids if customer else frozenset(),
            is_new_customer=customer.orders_count == 0 if customer else True,
        )  # fmt: skip

    def shipment(
        self, ctx: PricingContext, lines: Sequence[CartLine], destination: Address, discounts: Mapping[str, int]
    ) -> ShipmentRequest:
        subtotal = sum(line.unit_price * line.quantity for line in lines) - sum(discounts.values())
        return ShipmentRequest(
            cart_id=ctx.cart_id,
            currency=ctx.region.currency_code,
            destination=destination,
            items=tuple(
                ShipmentItem(
                    line_id=line.line_id, variant_id=line.variant_id, product_id=line.product_id, quantity=line.quantity,
                    unit_price=line.unit_price, weight_grams=line.weight_grams, length_mm=line.length_mm,
                    width_mm=line.width_mm, height_mm=line.height_mm, requires_shipping=line.requires_shipping,
                    category_ids=line.category_ids, tags=line.tags, sku=line.sku,
                )
                for line in lines
            ),
            subtotal=max(0, subtotal),
            allowed_providers=ctx.region.shipping_providers,
            customer_group_ids=ctx.customer.group_ids if ctx.customer else frozenset(),
        )  # fmt: skip

    async def price(self, session: AsyncSession, ctx: PricingContext, lines: Sequence[CartLine]) -> PricingResult:
        """Every figure of the cart, in the application order of core-domain §4.1."""
        promotions = await self.promotions.evaluate(session, self.promo_context(ctx, lines))
        quote: StoredQuote | None = None
        problem = ""
        if ctx.shipping_quote_id:
            try:
                quote = await self.shipping.get_quote(session, ctx.shipping_quote_id, cart_id=ctx.cart_id)
            except DomainError as exc:
                # An expired quote is not an error for a read: the cart shows no shipping
                # option and checkout re-quotes anyway (DECISIONS 14).
                problem = exc.reason.name
        customer = ctx.customer
        data = PricingInput(
            currency=ctx.region.currency_code,
            lines=tuple(
                PricingLine(
                    line.line_id,
                    line.quantity,
                    line.unit_price,
                    line.original_unit_price,
                    line.tax_category,
                    line.requires_shipping,
                )
                for line in lines
            ),
            line_discounts=promotions.line_discounts,
            free_shipping=promotions.free_shipping,
            shipping_amount=quote.amount if quote else None,
            prices_include_tax=ctx.region.prices_include_tax,
            destination=ctx.destination,
            customer_id=customer.id if customer else "",
            customer_tax_exempt=customer.tax_exempt if customer else False,
            vat_id=ctx.vat_id or (customer.vat_id if customer else ""),
            origin_country=self.tax.origin_country,
        )
        staged = prepare(data)
        tax = None
        if staged.tax_request is not None:
            tax = await self.tax.calculate(
                session, staged.tax_request, ctx.region.tax_provider or self.default_tax_provider
            )
        return PricingResult(finish(staged, tax), promotions, quote, problem)
