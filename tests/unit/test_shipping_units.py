"""Unit conversion at the edges (spec §1.5), exact constants."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rcommerce.domain.shipping.units import (
    from_grams,
    from_mm,
    kg_to_lb,
    parse_decimal,
    to_grams,
    to_mm,
    weight_convert,
)


@pytest.mark.parametrize(
    ("value", "unit", "grams"),
    [
        ("1", "kg", 1000),
        ("250", "g", 250),
        ("1", "lb", 454),
        ("2", "lb", 907),
        ("1", "oz", 28),
        ("16", "oz", 454),
        ("0.5", "kg", 500),
    ],
)
def test_to_grams(value: str, unit: str, grams: int) -> None:
    assert to_grams(Decimal(value), unit) == grams


def test_spec_constants() -> None:
    # lb x 0.453592, oz x 0.0283495 to kg; kg -> lb x 2.20462, -> oz x 35.274, -> g x 1000.
    assert weight_convert(Decimal(1), "lb", "kg") == Decimal("0.453592")
    assert weight_convert(Decimal(1), "oz", "kg") == Decimal("0.0283495")
    assert weight_convert(Decimal(1), "kg", "lb") == Decimal("2.20462")
    assert weight_convert(Decimal(1), "kg", "oz") == Decimal("35.274")
    assert weight_convert(Decimal(2), "kg", "g") == Decimal(2000)
    assert kg_to_lb(Decimal(10)) == Decimal("22.04620")


@pytest.mark.parametrize(
    ("value", "unit", "mm"),
    [("1", "in", 25), ("12", "in", 305), ("1", "ft", 305), ("1", "m", 1000), ("30", "cm", 300), ("7", "mm", 7)],
)
def test_to_mm(value: str, unit: str, mm: int) -> None:
    # in x 2.54 cm, ft x 30.48 cm, m x 100 cm.
    assert to_mm(Decimal(value), unit) == mm


def test_back_from_internal_units() -> None:
    assert from_grams(2500, "kg") == Decimal("2.5")
    assert from_grams(907, "g") == 907
    assert round(from_grams(22680, "lb"), 2) == Decimal("50.00")
    assert from_mm(254, "in") == Decimal(10)


@pytest.mark.parametrize("text", ["", "abc", "-1", "NaN", "Infinity"])
def test_parse_decimal_refuses_bad_numbers(text: str) -> None:
    assert parse_decimal(text) is None


def test_parse_decimal() -> None:
    assert parse_decimal(" 2.50 ") == Decimal("2.50")
