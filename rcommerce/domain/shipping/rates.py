"""Rate tables (spec §1.7): what one configured rate charges for a shipment.

Every rate is in one currency (minor units) and has a ``kind``:

- ``flat``: ``amount``.
- ``per_weight``: ``amount + weight × per_unit_amount``, the weight expressed in the
  rate's ``weight_unit`` (kg, lb, ...), e.g. 8.00 + 1.00/kg × 2.5 kg = 10.50.
- ``weight_table``: brackets ``(from_grams, amount)``: the bracket with the highest
  ``from`` not above the weight applies.
- ``price_table``: brackets ``(from_subtotal, amount)``: likewise by the subtotal.
- ``tiered``: marginal tiers ``(up_to_grams, per_unit_amount)``: ``amount`` plus each
  tier's share of the weight at its rate; weight beyond the last tier is charged at the
  last tier's rate. 5.00 + (5 kg × 2.00, 5 kg × 1.50, 2 kg × 1.50) = 25.50 for 12 kg.

Then, in this order: ``handling_fee`` is added, ``fuel_surcharge_percent`` (0–100)
multiplies the sum, and the result is rounded half up once. A rate applies only while
the chargeable weight is within ``[min_weight_grams, max_weight_grams]`` (inclusive),
and is free when ``free_over`` is set and the subtotal is at least ``free_over``
(inclusive: 100.00 on a "free over 100.00" rate ships free).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rcommerce.domain.shipping.units import weight_convert

__all__ = ["RateKind", "RateSpec", "rate_amount"]


class RateKind(enum.StrEnum):
    FLAT = "flat"
    PER_WEIGHT = "per_weight"
    WEIGHT_TABLE = "weight_table"
    PRICE_TABLE = "price_table"
    TIERED = "tiered"


@dataclass(frozen=True, slots=True)
class RateSpec:
    id: str
    zone_id: str
    name: str
    service_code: str
    currency: str
    kind: RateKind
    amount: int = 0
    per_unit_amount: int = 0
    weight_unit: str = "kg"
    #: (from grams or from subtotal, amount) for the table kinds.
    brackets: tuple[tuple[int, int], ...] = ()
    #: (up to grams, per-unit amount) for ``tiered``.
    tiers: tuple[tuple[int, int], ...] = ()
    handling_fee: int = 0
    fuel_surcharge_percent: Decimal = Decimal(0)
    free_over: int | None = None
    min_weight_grams: int = 0
    max_weight_grams: int | None = None
    #: Volumetric preset name ("" = actual weight only), see ``packaging.VOLUMETRIC_PRESETS``.
    volumetric: str = ""
    profile_id: str = ""
    min_days: int | None = None
    max_days: int | None = None


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _bracket(brackets: Sequence[tuple[int, int]], value: int) -> int | None:
    chosen: int | None = None
    best = -1
    for start, amount in brackets:
        if start <= value and start > best:
            best, chosen = start, amount
    return chosen


def _tiered(tiers: Sequence[tuple[int, int]], grams: int, unit: str) -> Decimal:
    total = Decimal(0)
    previous = 0
    ordered = sorted(tiers)
    for up_to, per_unit in ordered:
        if grams <= previous:
            break
        portion = min(grams, up_to) - previous
        total += weight_convert(Decimal(portion), "g", unit) * per_unit
        previous = up_to
    if ordered and grams > previous:
        total += weight_convert(Decimal(grams - previous), "g", unit) * ordered[-1][1]
    return total


def rate_amount(rate: RateSpec, *, weight_grams: int, subtotal: int) -> int | None:
    """What ``rate`` charges for a shipment of ``weight_grams`` (chargeable) and
    ``subtotal`` (minor units), or None when the rate does not apply to it."""
    if weight_grams < rate.min_weight_grams:
        return None
    if rate.max_weight_grams is not None and weight_grams > rate.max_weight_grams:
        return None
    base: Decimal
    if rate.kind is RateKind.FLAT:
        base = Decimal(rate.amount)
    elif rate.kind is RateKind.PER_WEIGHT:
        base = rate.amount + weight_convert(Decimal(weight_grams), "g", rate.weight_unit) * rate.per_unit_amount
    elif rate.kind is RateKind.WEIGHT_TABLE or rate.kind is RateKind.PRICE_TABLE:
        found = _bracket(rate.brackets, weight_grams if rate.kind is RateKind.WEIGHT_TABLE else subtotal)
        if found is None:
            return None
        base = Decimal(found)
    else:
        base = rate.amount + _tiered(rate.tiers, weight_grams, rate.weight_unit)
    if rate.free_over is not None and subtotal >= rate.free_over:
        return 0
    total = base + rate.handling_fee
    if rate.fuel_surcharge_percent > 0:
        total *= 1 + rate.fuel_surcharge_percent / 100
    return _half_up(total)
