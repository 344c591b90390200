"""Tax arithmetic: pure functions, no I/O (core-domain §4.1 R12-R14, R17, R18; DECISIONS 5, 12).

- Every rate that applies to a line is one component; each component is rounded half up
  on its own, then the components are summed (R17: never round a sum of unrounded taxes).
- Exclusive prices: ``tax = round(amount x r)`` per component.
- Inclusive prices: ``tax = round(gross x r / (1 + R))`` per component, where ``R`` is the
  sum of the rates on that line, so a single 19 % rate gives gross x 0.19 / 1.19.
- Rate selection per zone: the zone's rates for the line's category win over its
  standard rates (category-less); a zone with neither contributes nothing. Every
  matching zone contributes, so country + state + city rates stack.
- Shipping is taxed at the destination's standard rates flagged ``applies_to_shipping``.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rcommerce.plugins.providers import LineTax, TaxComponent, TaxLine, TaxRequest, TaxResult

__all__ = ["RateSpec", "compute", "line_components", "rates_for_category", "round_half_up", "zero_result"]

_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class RateSpec:
    """A rate that applies at the destination, as the rules need it."""

    rate_id: str
    name: str
    rate: Decimal
    #: Zone code.
    jurisdiction: str
    #: Category code; "" for the zone's standard rate.
    category: str = ""
    applies_to_shipping: bool = True
    #: Breakdown order: broader zones first, then the rate's priority.
    order: tuple[int, int] = (0, 0)


def round_half_up(value: Decimal) -> int:
    """Commercial rounding to whole minor units: 787.5 -> 788, 787.325 -> 787."""
    return int(value.quantize(_ONE, rounding=ROUND_HALF_UP))


def rates_for_category(rates: Sequence[RateSpec], category: str) -> list[RateSpec]:
    """The rates that apply to a line of ``category``: per zone, its category rates if it
    has any, else its standard rates. Result in breakdown order."""
    by_zone: dict[str, list[RateSpec]] = {}
    for spec in rates:
        by_zone.setdefault(spec.jurisdiction, []).append(spec)
    chosen: list[RateSpec] = []
    for zone_rates in by_zone.values():
        specific = [r for r in zone_rates if category and r.category == category]
        chosen.extend(specific or [r for r in zone_rates if not r.category])
    return sorted(chosen, key=lambda r: (r.order, r.rate_id))


def line_components(amount: int, rates: Sequence[RateSpec], *, inclusive: bool) -> tuple[TaxComponent, ...]:
    """One component per rate on ``amount`` minor units, each rounded half up."""
    divisor = _ONE + sum((r.rate for r in rates), Decimal(0)) if inclusive else _ONE
    return tuple(
        TaxComponent(
            name=r.name,
            rate=r.rate,
            amount=round_half_up(Decimal(amount) * r.rate / divisor),
            jurisdiction=r.jurisdiction,
            rate_id=r.rate_id,
        )
        for r in rates
    )


def _line_tax(line: TaxLine, rates: Sequence[RateSpec], inclusive: bool) -> LineTax:
    components = line_components(line.amount, rates_for_category(rates, line.tax_category), inclusive=inclusive)
    tax = sum(c.amount for c in components)
    # Inclusive prices: the taxable base is the net part of the gross amount.
    return LineTax(line.line_id, line.amount - tax if inclusive else line.amount, components)


def compute(request: TaxRequest, rates: Sequence[RateSpec], *, exempt_zones: Collection[str] = ()) -> TaxResult:
    """Tax for ``request`` given the rates of every zone matching its destination.

    ``exempt_zones`` are zone codes where the customer holds an active exemption: their
    rates are dropped, and when that leaves nothing of a non-empty rate set the result
    says ``exempt``.
    """
    applicable = [r for r in rates if r.jurisdiction not in exempt_zones]
    inclusive = request.prices_include_tax
    lines = tuple(_line_tax(line, applicable, inclusive) for line in request.lines)
    shipping: tuple[TaxComponent, ...] = ()
    if request.shipping_amount:
        shipping_rates = [r for r in rates_for_category(applicable, "") if r.applies_to_shipping]
        shipping = line_components(request.shipping_amount, shipping_rates, inclusive=inclusive)
    exempt = bool(rates) and not applicable
    return TaxResult(lines=lines, shipping=shipping, exempt=exempt)


def zero_result(request: TaxRequest, *, reverse_charge: bool = False, exempt: bool = False) -> TaxResult:
    """No tax at all: every line's whole amount is its taxable base, no components."""
    lines = tuple(LineTax(line.line_id, line.amount, ()) for line in request.lines)
    return TaxResult(lines=lines, shipping=(), reverse_charge_applied=reverse_charge, exempt=exempt)
