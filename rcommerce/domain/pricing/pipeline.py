"""The pricing pipeline as pure orchestration of the formulas (core-domain §4.1).

Given resolved inputs — unit prices (after price lists), the promotions' line discounts
and free-shipping flag, the selected shipping quote's amount and the tax context's
answer — it computes every figure of a priced cart in the one application order::

    R1 unit price → R2 line subtotal → R4 subtotal → promotions (allocated per line, R3)
    → R12 tax on the discounted base → R15 shipping → R9 free shipping → R13 shipping tax
    → R14 tax total → R16 total

It runs in two halves around the tax call, because tax needs the discounted bases and
the net shipping: :func:`prepare` builds the :class:`TaxRequest`, the caller asks a tax
provider (the async assembly in ``assembly.py`` asks the tax context; tests pass a
:class:`~rcommerce.domain.pricing.formulas.RateTable`), and :func:`finish` adds up.
:func:`price` runs both halves with a synchronous tax function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rcommerce.plugins.providers import Address, TaxComponent, TaxLine, TaxRequest, TaxResult

__all__ = [
    "PriceBreakdown",
    "PricedLine",
    "PricingInput",
    "PricingLine",
    "Staged",
    "Totals",
    "finish",
    "prepare",
    "price",
]


@dataclass(frozen=True, slots=True)
class PricingLine:
    """A cart line as pricing sees it."""

    line_id: str
    quantity: int
    #: What one unit costs after price lists (R1), minor units.
    unit_price: int
    #: The variant's base price before price lists; 0 means the same as ``unit_price``.
    original_unit_price: int = 0
    tax_category: str = ""
    requires_shipping: bool = True


@dataclass(frozen=True, slots=True)
class PricingInput:
    """Everything the pipeline needs, already resolved by the other contexts."""

    currency: str
    lines: tuple[PricingLine, ...]
    #: line_id → discount in minor units, already allocated by the promotions context.
    line_discounts: Mapping[str, int] = field(default_factory=dict)
    #: A promotion grants free shipping (R9): the shipping discount equals the charge.
    free_shipping: bool = False
    #: Amount of the selected shipping quote (R15); None while none is selected.
    shipping_amount: int | None = None
    #: The region's prices include tax: tax is extracted, not added (R18).
    prices_include_tax: bool = False
    #: Where the goods go; without it the tax is zero (core-domain §3.5).
    destination: Address | None = None
    customer_id: str = ""
    customer_tax_exempt: bool = False
    vat_id: str = ""
    origin_country: str = ""


@dataclass(frozen=True, slots=True)
class PricedLine:
    line_id: str
    quantity: int
    unit_price: int
    original_unit_price: int
    #: R2: unit_price × quantity.
    subtotal: int
    #: The line's share of every promotion.
    discount: int
    #: R3: subtotal − discount; the line's taxable base.
    total: int
    #: R12: the sum of the line's tax components.
    tax: int = 0
    tax_components: tuple[TaxComponent, ...] = ()


@dataclass(frozen=True, slots=True)
class Totals:
    #: R4: Σ line subtotals.
    subtotal: int
    #: R11: Σ line discounts (the shipping discount is separate).
    discount_total: int
    #: R15: the selected quote's amount, 0 when nothing ships or none is selected.
    shipping_total: int
    #: R9: equals shipping_total when a promotion grants free shipping.
    shipping_discount: int
    #: R12 summed over lines.
    item_tax: int
    #: R13.
    shipping_tax: int
    #: R14: item_tax + shipping_tax (0 when exempt or reverse charge applies).
    tax_total: int
    #: R16: subtotal − discount_total + shipping_total − shipping_discount (+ tax_total
    #: when prices exclude tax), never below 0.
    total: int


@dataclass(frozen=True, slots=True)
class PriceBreakdown:
    """A priced cart's figures."""

    currency: str
    lines: tuple[PricedLine, ...]
    totals: Totals
    tax: TaxResult
    prices_include_tax: bool


@dataclass(frozen=True, slots=True)
class Staged:
    """The first half's result: lines with discounts, shipping, and the tax question."""

    input: PricingInput
    lines: tuple[PricedLine, ...]
    shipping_total: int
    shipping_discount: int
    #: None when there is no destination: the tax is zero.
    tax_request: TaxRequest | None


def prepare(data: PricingInput) -> Staged:
    """R2, R4, R3 (discounts clamped to the line), R15 and R9, and the tax request."""
    lines = []
    for line in data.lines:
        subtotal = line.unit_price * line.quantity
        discount = max(0, min(data.line_discounts.get(line.line_id, 0), subtotal))
        lines.append(
            PricedLine(
                line_id=line.line_id, quantity=line.quantity, unit_price=line.unit_price,
                original_unit_price=line.original_unit_price or line.unit_price,
                subtotal=subtotal, discount=discount, total=subtotal - discount,
            )
        )  # fmt: skip
    ships = any(line.requires_shipping for line in data.lines)
    shipping_total = data.shipping_amount if ships and data.shipping_amount is not None else 0
    shipping_discount = shipping_total if data.free_shipping else 0
    request = None
    if data.destination is not None and data.destination.country:
        categories = {line.line_id: line.tax_category for line in data.lines}
        request = TaxRequest(
            currency=data.currency,
            destination=data.destination,
            lines=tuple(TaxLine(line.line_id, line.total, categories[line.line_id], line.quantity) for line in lines),
            shipping_amount=shipping_total - shipping_discount,
            prices_include_tax=data.prices_include_tax,
            customer_id=data.customer_id,
            customer_tax_exempt=data.customer_tax_exempt,
            vat_id=data.vat_id,
            origin_country=data.origin_country,
        )
    return Staged(data, tuple(lines), shipping_total, shipping_discount, request)


def finish(staged: Staged, tax: TaxResult | None) -> PriceBreakdown:
    """R12 per line from the tax answer, R13, R14 and R16."""
    data = staged.input
    result = tax if tax is not None and staged.tax_request is not None else TaxResult(lines=())
    by_line = {line.line_id: line for line in result.lines}
    lines = tuple(
        PricedLine(
            line_id=line.line_id, quantity=line.quantity, unit_price=line.unit_price,
            original_unit_price=line.original_unit_price, subtotal=line.subtotal, discount=line.discount,
            total=line.total, tax=by_line[line.line_id].tax_amount if line.line_id in by_line else 0,
            tax_components=by_line[line.line_id].components if line.line_id in by_line else (),
        )
        for line in staged.lines
    )  # fmt: skip
    subtotal = sum(line.subtotal for line in lines)
    discount_total = sum(line.discount for line in lines)
    item_tax = sum(line.tax for line in lines)
    shipping_tax = sum(c.amount for c in result.shipping)
    tax_total = item_tax + shipping_tax
    total = subtotal - discount_total + staged.shipping_total - staged.shipping_discount
    if not data.prices_include_tax:
        total += tax_total
    totals = Totals(
        subtotal=subtotal, discount_total=discount_total, shipping_total=staged.shipping_total,
        shipping_discount=staged.shipping_discount, item_tax=item_tax, shipping_tax=shipping_tax,
        tax_total=tax_total, total=max(0, total),
    )  # fmt: skip
    return PriceBreakdown(data.currency, lines, totals, result, data.prices_include_tax)


def price(data: PricingInput, tax: Callable[[TaxRequest], TaxResult]) -> PriceBreakdown:
    """Both halves with a synchronous tax function (tests, previews)."""
    staged = prepare(data)
    return finish(staged, tax(staged.tax_request) if staged.tax_request is not None else None)
