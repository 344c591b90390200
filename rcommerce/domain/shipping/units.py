"""Unit conversion at the edges (spec §1.5). Inside, weights are whole grams and lengths
whole millimetres; the API accepts kg, g, lb, oz and cm, mm, m, in, ft as decimal strings.

The constants are the spec's exact ones: 1 lb = 0.453592 kg, 1 oz = 0.0283495 kg,
1 in = 2.54 cm, 1 ft = 30.48 cm. Conversions go through Decimal and round half up.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = [
    "KG_PER_UNIT",
    "LENGTH_UNITS",
    "WEIGHT_UNITS",
    "from_grams",
    "from_mm",
    "kg_to_lb",
    "parse_decimal",
    "to_grams",
    "to_mm",
    "weight_convert",
]

#: Kilograms in one unit (spec §1.5: lb ×0.453592, oz ×0.0283495, g ÷1000).
KG_PER_UNIT: dict[str, Decimal] = {
    "kg": Decimal(1),
    "g": Decimal("0.001"),
    "lb": Decimal("0.453592"),
    "oz": Decimal("0.0283495"),
}
#: From kilograms to a unit, as the spec's ``convert`` does (kg→g ×1000, →lb ×2.20462, →oz ×35.274).
_UNITS_PER_KG: dict[str, Decimal] = {
    "kg": Decimal(1),
    "g": Decimal(1000),
    "lb": Decimal("2.20462"),
    "oz": Decimal("35.274"),
}
#: Centimetres in one unit (spec §1.5: m ×100, in ×2.54, ft ×30.48).
CM_PER_UNIT: dict[str, Decimal] = {
    "cm": Decimal(1),
    "mm": Decimal("0.1"),
    "m": Decimal(100),
    "in": Decimal("2.54"),
    "ft": Decimal("30.48"),
}
WEIGHT_UNITS = tuple(KG_PER_UNIT)
LENGTH_UNITS = tuple(CM_PER_UNIT)


def _whole(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def parse_decimal(text: str) -> Decimal | None:
    """A finite, non-negative Decimal from ``text`` ("2.5"), or None when it is not one."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None
    if not value.is_finite() or value < 0:
        return None
    return value


def weight_convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """The spec's ``convert(w, from, to)``: via kilograms with its exact constants."""
    kg = value * KG_PER_UNIT[from_unit]
    return kg * _UNITS_PER_KG[to_unit]


def kg_to_lb(kg: Decimal) -> Decimal:
    """kg ×2.20462 (spec §1.5)."""
    return kg * _UNITS_PER_KG["lb"]


def to_grams(value: Decimal, unit: str) -> int:
    """Whole grams of ``value`` ``unit`` (half up): 1 lb is 454 g, 1 oz is 28 g."""
    return _whole(value * KG_PER_UNIT[unit] * 1000)


def from_grams(grams: int, unit: str) -> Decimal:
    """``grams`` in ``unit``, exact for g and kg; lb and oz use the kg factors (÷0.453592)."""
    if unit == "g":
        return Decimal(grams)
    return (Decimal(grams) / 1000 / KG_PER_UNIT[unit]).normalize() if unit != "kg" else Decimal(grams) / 1000


def to_mm(value: Decimal, unit: str) -> int:
    """Whole millimetres of ``value`` ``unit`` (half up): 12 in is 305 mm."""
    return _whole(value * CM_PER_UNIT[unit] * 10)


def from_mm(mm: int, unit: str) -> Decimal:
    """``mm`` in ``unit``."""
    return Decimal(mm) / 10 / CM_PER_UNIT[unit]
