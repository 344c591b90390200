"""The arithmetic of pricing, in minor units, with commercial rounding (DECISIONS 5).

Every amount is an ``int`` of minor units; rates are ``Decimal`` fractions (0.0875).
Products of an amount and a rate are rounded half up to a whole minor unit once per
line and per tax component, and only then summed (core-domain R17, DECISIONS 12).
These helpers are pure; the pipeline and the tests use them, and they are the
reference the tax, promotion and shipping contexts' figures are checked against.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rcommerce.plugins.providers import LineTax, TaxComponent, TaxRequest, TaxResult

__all__ = [
    "Rate",
    "RateTable",
    "allocate",
    "fixed_discount",
    "meets_minimum",
    "percentage_discount",
    "round_half_up",
    "tax_exclusive",
    "tax_inclusive",
]

_ONE = Decimal(1)


def round_half_up(value: Decimal) -> int:
    """``value`` (minor units) to a whole minor unit, halves away from zero."""
    return int(value.quantize(_ONE, rounding=ROUND_HALF_UP))


def tax_exclusive(base: int, rate: Decimal) -> int:
    """R12/R13: tax on a net ``base``: round(base × rate). 8998 × 0.0875 = 787.325 → 787."""
    return round_half_up(Decimal(base) * rate)


def tax_inclusive(gross: int, rate: Decimal, combined_rate: Decimal | None = None) -> int:
    """R18: the tax inside a ``gross`` amount: round(gross × r / (1 + R)), where R is the
    combined rate of every component (R = r for a single rate). 11900 at 0.19 → 1900."""
    combined = rate if combined_rate is None else combined_rate
    return round_half_up(Decimal(gross) * rate / (_ONE + combined))


def percentage_discount(base: int, percent: Decimal, cap: int | None = None) -> int:
    """R7: min(round(base × percent / 100), cap). Percent is a percent (20 = 20 %)."""
    amount = round_half_up(Decimal(base) * percent / 100)
    return min(amount, cap) if cap is not None else amount


def fixed_discount(value: int, base: int) -> int:
    """R8: min(value, base): a fixed discount never exceeds what it applies to."""
    return max(0, min(value, base))


def allocate(amount: int, bases: Mapping[str, int]) -> dict[str, int]:
    """Split ``amount`` over the keys of ``bases`` pro rata, each share rounded down, the
    remainder cents to the largest base (first such key on ties) (DECISIONS 12).

    ``allocate(1000, {"a": 9998})`` → ``{"a": 1000}``; ``allocate(100, {"a": 100, "b": 200})``
    → ``{"a": 33, "b": 67}``. Keys with a zero base get nothing."""
    total = sum(bases.values())
    if total <= 0 or amount <= 0:
        return {key: 0 for key in bases}
    amount = min(amount, total)
    shares = {key: amount * base // total for key, base in bases.items()}
    remainder = amount - sum(shares.values())
    if remainder:
        largest = max(bases, key=lambda key: bases[key])
        shares[largest] += remainder
    return shares


@dataclass(frozen=True, slots=True)
class Rate:
    """One tax component: a jurisdiction's name and its rate."""

    name: str
    rate: Decimal
    jurisdiction: str = ""


@dataclass(frozen=True, slots=True)
class RateTable:
    """A tax computation from known rates: per tax category (``""`` = standard) the
    components that apply, and the components that apply to shipping (the destination's
    combined shipping rate, DECISIONS 12). Callable on a :class:`TaxRequest`, so the pure
    pipeline can be run on the worked examples without a database."""

    line_rates: Mapping[str, Sequence[Rate]]
    shipping_rates: Sequence[Rate] = ()
    reverse_charge: bool = False

    def __call__(self, request: TaxRequest) -> TaxResult:
        if request.customer_tax_exempt:
            return TaxResult(lines=tuple(LineTax(line.line_id, line.amount, ()) for line in request.lines), exempt=True)
        if self.reverse_charge:
            return TaxResult(
                lines=tuple(LineTax(line.line_id, line.amount, ()) for line in request.lines),
                reverse_charge_applied=True,
            )
        lines = tuple(
            LineTax(
                line.line_id,
                line.amount,
                self._components(line.amount, self._rates(line.tax_category), request.prices_include_tax),
            )
            for line in request.lines
        )
        shipping = (
            self._components(request.shipping_amount, self.shipping_rates, request.prices_include_tax)
            if request.shipping_amount
            else ()
        )
        return TaxResult(lines=lines, shipping=shipping)

    def _rates(self, category: str) -> Sequence[Rate]:
        return self.line_rates.get(category, self.line_rates.get("", ()))

    @staticmethod
    def _components(amount: int, rates: Sequence[Rate], inclusive: bool) -> tuple[TaxComponent, ...]:
        combined = sum((r.rate for r in rates), Decimal(0))
        return tuple(
            TaxComponent(
                name=r.name,
                rate=r.rate,
                amount=tax_inclusive(amount, r.rate, combined) if inclusive else tax_exclusive(amount, r.rate),
                jurisdiction=r.jurisdiction,
            )
            for r in rates
        )


def meets_minimum(subtotal: int, minimum: int) -> bool:
    """R6: the pre-discount subtotal meets or exceeds the minimum purchase (equality passes)."""
    return subtotal >= minimum
