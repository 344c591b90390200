"""Rate tables (spec §1.7, §1.8 presets) with the spec's figures."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from rcommerce.domain.shipping.rates import RateKind, RateSpec, rate_amount


def rate(kind: RateKind = RateKind.FLAT, **kw: Any) -> RateSpec:
    return RateSpec(id="shr_x", zone_id="shz_x", name="r", service_code="r", currency="USD", kind=kind, **kw)


@pytest.mark.parametrize(
    ("name", "base", "per_kg", "free_over", "kg", "subtotal", "expected"),
    [
        # ZonePresets.us_zones: "Standard Ground" 8 + 1/kg, free from 100.
        ("Standard Ground", 800, 100, 10000, "2.5", 9999, 1050),
        ("Standard Ground", 800, 100, 10000, "2.5", 10000, 0),
        ("Express", 2500, 200, None, "2.5", 10000, 3000),
        ("Standard International (CA)", 2000, 300, None, "2", 0, 2600),
        ("International (Europe)", 3500, 500, None, "2", 0, 4500),
        ("International (catch-all)", 5000, 800, None, "2", 0, 6600),
    ],
)
def test_zone_preset_rates(
    name: str, base: int, per_kg: int, free_over: int | None, kg: str, subtotal: int, expected: int
) -> None:
    spec = rate(RateKind.PER_WEIGHT, amount=base, per_unit_amount=per_kg, free_over=free_over)
    assert rate_amount(spec, weight_grams=int(Decimal(kg) * 1000), subtotal=subtotal) == expected, name


def test_checkout_flat_rate_free_from_threshold_inclusive() -> None:
    # CheckoutConfig: base 10.00, free_shipping_threshold 100.00 (inclusive).
    spec = rate(amount=1000, free_over=10000)
    assert rate_amount(spec, weight_grams=1500, subtotal=9999) == 1000
    assert rate_amount(spec, weight_grams=1500, subtotal=10000) == 0
    assert rate_amount(spec, weight_grams=1500, subtotal=10001) == 0


def test_weight_converted_to_rate_unit_then_handling_then_fuel() -> None:
    # 5.00 + 2 kg in lb (2 x 2.20462 = 4.40924) x 2.00 = 13.81848; + 1.00 handling = 14.81848;
    # x (1 + 10%) = 16.300328 -> 16.30.
    spec = rate(
        RateKind.PER_WEIGHT,
        amount=500,
        per_unit_amount=200,
        weight_unit="lb",
        handling_fee=100,
        fuel_surcharge_percent=Decimal(10),
    )
    assert rate_amount(spec, weight_grams=2000, subtotal=0) == 1630
    # Without fuel: 14.81848 -> 14.82 (half up once, at the end).
    assert (
        rate_amount(
            rate(RateKind.PER_WEIGHT, amount=500, per_unit_amount=200, weight_unit="lb", handling_fee=100),
            weight_grams=2000,
            subtotal=0,
        )
        == 1482
    )


def test_tiered_marginal_with_last_rate_beyond() -> None:
    # base 5.00; 0-5 kg at 2.00/kg, 5-10 kg at 1.50/kg; beyond 10 kg at the last rate.
    spec = rate(RateKind.TIERED, amount=500, tiers=((5000, 200), (10000, 150)))
    assert rate_amount(spec, weight_grams=3000, subtotal=0) == 1100
    assert rate_amount(spec, weight_grams=5000, subtotal=0) == 1500
    assert rate_amount(spec, weight_grams=12000, subtotal=0) == 2550  # 5 + 10 + 7.5 + 3
    assert rate_amount(spec, weight_grams=0, subtotal=0) == 500


def test_weight_and_price_tables() -> None:
    by_weight = rate(RateKind.WEIGHT_TABLE, brackets=((0, 500), (1000, 800), (5000, 1500)))
    assert [rate_amount(by_weight, weight_grams=g, subtotal=0) for g in (0, 999, 1000, 4999, 5000, 50000)] == [
        500,
        500,
        800,
        800,
        1500,
        1500,
    ]
    by_price = rate(RateKind.PRICE_TABLE, brackets=((0, 995), (5000, 495), (10000, 0)))
    assert [rate_amount(by_price, weight_grams=0, subtotal=s) for s in (0, 4999, 5000, 10000)] == [995, 995, 495, 0]
    starts_late = rate(RateKind.PRICE_TABLE, brackets=((2000, 100),))
    assert rate_amount(starts_late, weight_grams=0, subtotal=1999) is None


def test_weight_limits_are_inclusive() -> None:
    spec = rate(amount=700, min_weight_grams=1000, max_weight_grams=30000)
    assert rate_amount(spec, weight_grams=999, subtotal=0) is None
    assert rate_amount(spec, weight_grams=1000, subtotal=0) == 700
    assert rate_amount(spec, weight_grams=30000, subtotal=0) == 700
    assert rate_amount(spec, weight_grams=30001, subtotal=0) is None
