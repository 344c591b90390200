"""Tax arithmetic (core-domain §4.1 R12-R14, R17, R18; §4.2 Ex1, Ex2; DECISIONS 5, 12)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rcommerce.domain.tax.calculator import reverse_charge_applies
from rcommerce.domain.tax.convert import breakdown, rate_text
from rcommerce.domain.tax.rules import RateSpec, compute, rates_for_category, round_half_up, zero_result
from rcommerce.domain.tax.zones import normalise_region, postal_matches, specificity
from rcommerce.plugins.providers import Address, LineTax, TaxComponent, TaxLine, TaxRequest, TaxResult

NY = Address("US", "10001", "NY", "New York")
DE = Address("DE", "80331", "BY", "München")


def _rate(
    name: str, rate: str, zone: str = "Z", category: str = "", *, shipping: bool = True, order: int = 0
) -> RateSpec:
    return RateSpec(rate_id=f"txr_{name}", name=name, rate=Decimal(rate), jurisdiction=zone, category=category,
                    applies_to_shipping=shipping, order=(order, 0))  # fmt: skip


def test_example_1_post_discount_base_new_york() -> None:
    """2 x 49.99 = 99.98, coupon 10.00 -> base 89.98; NY 0.0875 -> 7.87; shipping 24.99 -> 2.19."""
    request = TaxRequest("USD", NY, (TaxLine("l1", 9998 - 1000, quantity=2),), shipping_amount=2499)
    result = compute(request, [_rate("NY combined", "0.0875", "US-NY")])
    assert result.lines[0].tax_amount == 787  # 89.98 x 0.0875 = 7.87325
    assert result.lines[0].taxable_amount == 8998
    assert result.shipping_tax == 219  # 24.99 x 0.0875 = 2.186625
    assert result.total_tax == 1006
    # Order total per DECISIONS 12: 89.98 + 10.06 + 24.99 = 125.03.
    assert 9998 - 1000 + result.total_tax + 2499 == 12503


def test_example_1_with_stacked_jurisdictions_keeps_the_figures() -> None:
    """The demo seed: NY State 4 % + NYC local 4.75 %, each component rounded on its own."""
    rates = [_rate("NY State", "0.04", "US-NY", order=0), _rate("NYC local", "0.0475", "US-NY-NYC", order=1)]
    result = compute(TaxRequest("USD", NY, (TaxLine("l1", 8998),), shipping_amount=2499), rates)
    assert [(c.name, c.rate, c.amount, c.jurisdiction) for c in result.lines[0].components] == [
        ("NY State", Decimal("0.04"), 360, "US-NY"),  # 3.5992
        ("NYC local", Decimal("0.0475"), 427, "US-NY-NYC"),  # 4.27405
    ]
    assert [c.amount for c in result.shipping] == [100, 119]  # 0.9996, 1.187025
    assert (result.lines[0].tax_amount, result.shipping_tax, result.total_tax) == (787, 219, 1006)


def test_stacked_rates_round_per_component_never_the_sum() -> None:
    """Spec NY example: Sales 0.08 + Local 0.01 as two breakdown lines (R12, R17)."""
    rates = [_rate("Sales", "0.08", "US-NY"), _rate("Local", "0.01", "US-NYC", order=1)]
    result = compute(TaxRequest("USD", NY, (TaxLine("a", 10000),)), rates)
    assert [(c.name, c.amount) for c in result.lines[0].components] == [("Sales", 800), ("Local", 100)]
    # Two 5 % components on 10.50: 0.525 -> 0.53 each = 1.06, where rounding the sum of
    # unrounded taxes (1.05) would give 1.05.
    halves = compute(
        TaxRequest("USD", NY, (TaxLine("c", 1050),)), [_rate("A", "0.05", "A"), _rate("B", "0.05", "B", order=1)]
    )
    assert halves.lines[0].tax_amount == 106


def test_example_2_germany_b2c() -> None:
    """2 x 29.99 at 19 % -> 11.40; shipping 10.00 -> 1.90; total 13.30; taxable 69.98."""
    result = compute(
        TaxRequest("EUR", DE, (TaxLine("l1", 5998, quantity=2),), shipping_amount=1000),
        [_rate("DE VAT 19%", "0.19", "DE")],
    )
    assert (result.lines[0].tax_amount, result.shipping_tax, result.total_tax) == (1140, 190, 1330)
    assert 5998 + 1000 + result.total_tax == 8328
    [row] = breakdown(result, 1000)
    assert (row.taxable_amount, row.tax_amount, row.rate) == (6998, 1330, "0.19")


def test_example_2_tax_doc_check_100_and_shipping() -> None:
    result = compute(
        TaxRequest("EUR", DE, (TaxLine("l1", 10000),), shipping_amount=1000), [_rate("DE VAT 19%", "0.19", "DE")]
    )
    assert (result.lines[0].tax_amount, result.shipping_tax, result.total_tax) == (1900, 190, 2090)
    assert breakdown(result, 1000)[0].taxable_amount == 11000


def test_example_2_reverse_charge_and_zero_result() -> None:
    """Paris, valid FR VAT id, seller DE: 0.00 tax, flag, empty breakdown, total 69.98."""
    assert reverse_charge_applies("DE", "FR", "FR")
    assert not reverse_charge_applies("DE", "DE", "DE")  # domestic B2B: normal VAT
    assert not reverse_charge_applies("DE", "DE", "FR")  # shipped within the seller's country
    assert not reverse_charge_applies("DE", "US", "FR")  # export, not intra-EU
    assert not reverse_charge_applies("", "FR", "FR")  # no seller country configured
    request = TaxRequest("EUR", Address("FR", "75001"), (TaxLine("l1", 5998),), shipping_amount=1000)
    result = zero_result(request, reverse_charge=True)
    assert (result.total_tax, result.reverse_charge_applied, result.lines[0].components, result.shipping) == (
        0,
        True,
        (),
        (),
    )
    assert breakdown(result, 1000) == []
    assert 5998 + 1000 + result.total_tax == 6998


@pytest.mark.parametrize(("gross", "tax", "net"), [(11900, 1900, 10000), (999, 160, 839)])
def test_example_2_inclusive_prices(gross: int, tax: int, net: int) -> None:
    """R18: tax = gross x r / (1 + r): 119.00 -> 19.00 (net 100.00); 9.99 -> 1.59504 -> 1.60 (net 8.39)."""
    result = compute(
        TaxRequest("EUR", DE, (TaxLine("l1", gross),), prices_include_tax=True), [_rate("DE VAT 19%", "0.19", "DE")]
    )
    assert (result.lines[0].tax_amount, result.lines[0].taxable_amount) == (tax, net)


def test_inclusive_stacked_rates_divide_by_the_combined_rate() -> None:
    rates = [_rate("A", "0.10", "A"), _rate("B", "0.05", "B", order=1)]
    result = compute(TaxRequest("EUR", DE, (TaxLine("l1", 11500),), prices_include_tax=True), rates)
    assert [c.amount for c in result.lines[0].components] == [1000, 500]  # 115.00 gross at 15 % combined
    assert result.lines[0].taxable_amount == 10000


def test_category_rates_replace_the_zone_standard_rate_per_zone() -> None:
    rates = [
        _rate("DE VAT 19%", "0.19", "DE"),
        _rate("DE VAT 7%", "0.07", "DE", "reduced"),
        _rate("City levy", "0.01", "DE-BER", order=1),
    ]
    assert [r.name for r in rates_for_category(rates, "reduced")] == ["DE VAT 7%", "City levy"]
    assert [r.name for r in rates_for_category(rates, "")] == ["DE VAT 19%", "City levy"]
    assert [r.name for r in rates_for_category(rates, "unknown")] == ["DE VAT 19%", "City levy"]
    result = compute(TaxRequest("EUR", DE, (TaxLine("book", 1000, "reduced"),), shipping_amount=500), rates)
    assert result.lines[0].tax_amount == 80  # 70 + 10
    assert [c.name for c in result.shipping] == ["DE VAT 19%", "City levy"]  # shipping: standard rates


def test_shipping_uses_only_rates_flagged_for_shipping() -> None:
    rates = [_rate("State", "0.04", "S"), _rate("Local", "0.045", "L", shipping=False, order=1)]
    result = compute(TaxRequest("USD", NY, (), shipping_amount=1000), rates)
    assert [(c.name, c.amount) for c in result.shipping] == [("State", 40)]


def test_exempt_zones_drop_their_rates_and_set_the_flag_when_nothing_is_left() -> None:
    rates = [_rate("State", "0.04", "S"), _rate("Local", "0.045", "L", order=1)]
    partial = compute(TaxRequest("USD", NY, (TaxLine("a", 1000),)), rates, exempt_zones={"L"})
    assert (partial.total_tax, partial.exempt) == (40, False)
    full = compute(TaxRequest("USD", NY, (TaxLine("a", 1000),)), rates, exempt_zones={"L", "S"})
    assert (full.total_tax, full.exempt) == (0, True)
    nothing = compute(TaxRequest("USD", NY, (TaxLine("a", 1000),)), [])
    assert (nothing.total_tax, nothing.exempt) == (0, False)


def test_round_half_up_is_commercial() -> None:
    assert [round_half_up(Decimal(v)) for v in ("0.5", "1.5", "2.5", "787.325", "218.6625", "-0.4")] == [
        1,
        2,
        3,
        787,
        219,
        0,
    ]


def test_results_sum_lines_and_shipping() -> None:
    c = TaxComponent("A", Decimal("0.1"), 10)
    result = TaxResult(lines=(LineTax("a", 100, (c, c)),), shipping=(c,))
    assert (result.lines[0].tax_amount, result.shipping_tax, result.total_tax) == (20, 10, 30)


@pytest.mark.parametrize(
    ("patterns", "code", "matches"),
    [
        ("", "", True), ("", "10001", True), ("100*", "10001", True), ("100*", "11001", False),
        ("10451-10475", "10460", True), ("10451-10475", "10476", False), ("10451-10475", "1046", False),
        ("10001", "10001", True), ("M5V*", "m5v 2t6", True), ("100*,112*", "11201", True), ("100*", "", False),
        ("*", "99999", True),
    ],
)  # fmt: skip
def test_postal_patterns(patterns: str, code: str, matches: bool) -> None:
    assert postal_matches(patterns, code) is matches


def test_regions_and_specificity() -> None:
    assert normalise_region("US", "us-ny") == "NY" and normalise_region("US", " NY ") == "NY"

    class Z:
        def __init__(self, region: str, postal: str) -> None:
            self.country_code, self.region_code, self.postal_patterns = "US", region, postal

    assert [specificity(Z("", "")), specificity(Z("NY", "")), specificity(Z("NY", "100*"))] == [0, 1, 2]


def test_rate_text() -> None:
    assert [rate_text(Decimal(v)) for v in ("0.087500", "0.190000", "0", "1.000000", "0.000001")] == [
        "0.0875",
        "0.19",
        "0",
        "1",
        "0.000001",
    ]
