"""The pricing pipeline on every worked example of core-domain §4.2 (DECISIONS 12)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from rcommerce.domain.pricing.formulas import (
    Rate,
    RateTable,
    allocate,
    fixed_discount,
    meets_minimum,
    percentage_discount,
    round_half_up,
    tax_exclusive,
    tax_inclusive,
)
from rcommerce.domain.pricing.pipeline import PricingInput, PricingLine, prepare, price
from rcommerce.plugins.providers import Address

NY = Address(country="US", region="NY", postal_code="10001", city="New York")
MUNICH = Address(country="DE", postal_code="80331", city="München")
NY_RATE = RateTable(
    line_rates={"": [Rate("NY combined", Decimal("0.0875"))]}, shipping_rates=[Rate("NY combined", Decimal("0.0875"))]
)
DE_VAT = RateTable(
    line_rates={"": [Rate("DE VAT 19%", Decimal("0.19"))]}, shipping_rates=[Rate("DE VAT 19%", Decimal("0.19"))]
)


def test_ex1_us_checkout_tax_after_discount_totals_125_03() -> None:
    # 2 × 49.99, fixed coupon 10.00, NY 8.75 %, UPS 2-day 24.99 (DECISIONS 12).
    line = PricingLine("l1", quantity=2, unit_price=4999)
    subtotal = line.unit_price * line.quantity
    assert subtotal == 9998  # R2, R4
    discount = fixed_discount(1000, subtotal)
    assert discount == 1000  # R8
    assert allocate(discount, {"l1": subtotal}) == {"l1": 1000}
    result = price(
        PricingInput("USD", (line,), line_discounts={"l1": discount}, shipping_amount=2499, destination=NY), NY_RATE
    )
    (priced,) = result.lines
    assert (priced.subtotal, priced.discount, priced.total) == (9998, 1000, 8998)  # R3
    assert priced.tax == 787  # R12: 89.98 × 0.0875 = 7.87325 → 7.87
    t = result.totals
    assert t.subtotal == 9998 and t.discount_total == 1000
    assert t.shipping_total == 2499 and t.shipping_discount == 0  # R15
    assert t.shipping_tax == 219  # R13: 24.99 × 0.0875 = 2.186625 → 2.19
    assert t.item_tax == 787 and t.tax_total == 1006  # R14: 10.06
    assert t.total == 12503  # R16: 89.98 + 10.06 + 24.99 = 125.03


def test_ex1_pre_discount_base_would_differ_by_0_88() -> None:
    # The spec's CHK figures tax the pre-discount base; DECISIONS 12 rejects that.
    assert tax_exclusive(9998, Decimal("0.0875")) == 875
    assert tax_exclusive(8998, Decimal("0.0875")) == 787
    assert (9998 - 1000 + 875 + 219 + 2499) - 12503 == 88


def test_ex2_eu_vat_domestic() -> None:
    line = PricingLine("l1", quantity=2, unit_price=2999)
    result = price(PricingInput("EUR", (line,), shipping_amount=1000, destination=MUNICH, origin_country="DE"), DE_VAT)
    t = result.totals
    assert t.subtotal == 5998  # R2
    assert t.item_tax == 1140  # R12: 59.98 × 0.19 = 11.3962 → 11.40
    assert t.shipping_tax == 190  # R13: 1.90
    assert t.tax_total == 1330  # R14: 13.30
    assert t.total == 8328  # 83.28
    # Breakdown taxable amount: 59.98 + 10.00 = 69.98 (not the 70.00 the web example prints).
    assert result.tax.lines[0].taxable_amount + 1000 == 6998


def test_ex2_reverse_charge_to_paris() -> None:
    paris = Address(country="FR", postal_code="75001", city="Paris")
    table = RateTable(line_rates=DE_VAT.line_rates, shipping_rates=DE_VAT.shipping_rates, reverse_charge=True)
    line = PricingLine("l1", quantity=2, unit_price=2999)
    result = price(
        PricingInput(
            "EUR", (line,), shipping_amount=1000, destination=paris, vat_id="FR40303265045", origin_country="DE"
        ),
        table,
    )
    assert result.tax.reverse_charge_applied
    assert result.totals.tax_total == 0 and result.lines[0].tax_components == ()
    assert result.totals.total == 6998


def test_ex2_tax_doc_example_100_plus_shipping() -> None:
    result = price(
        PricingInput("EUR", (PricingLine("l1", 1, 10000),), shipping_amount=1000, destination=MUNICH), DE_VAT
    )
    assert (result.totals.item_tax, result.totals.shipping_tax, result.totals.tax_total) == (1900, 190, 2090)
    assert result.tax.lines[0].taxable_amount + 1000 == 11000


@pytest.mark.parametrize(("gross", "tax", "net"), [(11900, 1900, 10000), (999, 160, 839)])
def test_r18_tax_inclusive_extraction(gross: int, tax: int, net: int) -> None:
    # 119.00 at 19 % → 19.00, net 100.00; 9.99 → 1.59504… → 1.60, net 8.39.
    assert tax_inclusive(gross, Decimal("0.19")) == tax
    result = price(
        PricingInput("EUR", (PricingLine("l1", 1, gross),), destination=MUNICH, prices_include_tax=True), DE_VAT
    )
    assert result.lines[0].tax == tax and result.lines[0].total - tax == net
    assert result.totals.total == gross  # the tax is inside the price, not added


def test_tax_inclusive_region_with_shipping_and_discount() -> None:
    line = PricingLine("l1", quantity=1, unit_price=11900)
    result = price(
        PricingInput(
            "EUR",
            (line,),
            line_discounts={"l1": 1190},
            shipping_amount=595,
            destination=MUNICH,
            prices_include_tax=True,
        ),
        DE_VAT,
    )
    assert result.lines[0].total == 10710
    assert result.totals.item_tax == 1710  # 107.10 × 0.19 / 1.19 = 17.10
    assert result.totals.shipping_tax == 95  # 5.95 × 0.19 / 1.19 = 0.95
    assert result.totals.total == 10710 + 595


def _ex3(lines: dict[str, int], discount_for: int) -> tuple[int, int]:
    """Runs a cart of single-unit lines with a cart-level discount through the pipeline:
    returns (discount_total, total before tax and shipping)."""
    pricing = tuple(PricingLine(k, 1, v) for k, v in lines.items())
    eligible = {k: v for k, v in lines.items()}
    shares = allocate(discount_for, eligible)
    result = price(PricingInput("USD", pricing, line_discounts=shares), NY_RATE)
    return result.totals.discount_total, result.totals.total


@pytest.mark.parametrize(
    ("subtotal", "percent", "cap", "discount", "final"),
    [(30000, 20, 5000, 5000, 25000), (30000, 20, 10000, 6000, 24000), (15000, 20, None, 3000, 12000)],
    ids=["a-capped", "b-under-cap", "j-summer20"],
)
def test_ex3_percentage(subtotal: int, percent: int, cap: int | None, discount: int, final: int) -> None:
    amount = percentage_discount(subtotal, Decimal(percent), cap)
    assert amount == discount
    assert _ex3({"l1": subtotal}, amount) == (discount, final)


@pytest.mark.parametrize(
    ("subtotal", "value", "discount", "final"), [(7500, 2500, 2500, 5000), (2000, 2500, 2000, 0)], ids=["c", "d"]
)
def test_ex3_fixed(subtotal: int, value: int, discount: int, final: int) -> None:
    amount = fixed_discount(value, subtotal)
    assert amount == discount
    assert _ex3({"l1": subtotal}, amount) == (discount, final)


def test_ex3_e_and_f_eligible_lines_only() -> None:
    lines = {"A": 10000, "B": 5000, "C": 7500}
    # e: A and C listed: (100 + 75) × 10 % = 17.50, allocated to A and C only.
    eligible = {k: lines[k] for k in ("A", "C")}
    amount = percentage_discount(sum(eligible.values()), Decimal(10))
    assert amount == 1750
    shares = allocate(amount, eligible)
    assert shares == {"A": 1000, "C": 750}
    result = price(
        PricingInput("USD", tuple(PricingLine(k, 1, v) for k, v in lines.items()), line_discounts=shares), NY_RATE
    )
    assert result.totals.discount_total == 1750 and result.totals.total == 20750
    assert [line.discount for line in result.lines] == [1000, 0, 750]
    # f: C excluded: 100 × 10 % = 10.00.
    assert percentage_discount(lines["A"], Decimal(10)) == 1000


@pytest.mark.parametrize(("minimum", "subtotal", "ok"), [(5000, 3500, False), (5000, 5000, True)], ids=["g", "h"])
def test_ex3_minimum_purchase(minimum: int, subtotal: int, ok: bool) -> None:
    assert meets_minimum(subtotal, minimum) is ok


def test_free_shipping_discounts_shipping_and_its_tax() -> None:
    line = PricingLine("l1", quantity=2, unit_price=4999)
    result = price(PricingInput("USD", (line,), shipping_amount=2499, free_shipping=True, destination=NY), NY_RATE)
    t = result.totals
    assert (t.shipping_total, t.shipping_discount, t.shipping_tax) == (2499, 2499, 0)
    assert t.total == 9998 + 875


def test_nothing_to_ship_means_no_shipping_charge() -> None:
    line = PricingLine("l1", quantity=1, unit_price=1000, requires_shipping=False)
    result = price(PricingInput("USD", (line,), shipping_amount=2499, destination=NY), NY_RATE)
    assert result.totals.shipping_total == 0 and result.totals.shipping_tax == 0


def test_no_address_means_no_tax() -> None:
    staged = prepare(PricingInput("USD", (PricingLine("l1", 2, 4999),), shipping_amount=2499))
    assert staged.tax_request is None
    result = price(PricingInput("USD", (PricingLine("l1", 2, 4999),), shipping_amount=2499), NY_RATE)
    assert result.totals.tax_total == 0 and result.totals.total == 9998 + 2499


def test_exempt_customer_pays_no_tax() -> None:
    result = price(
        PricingInput("USD", (PricingLine("l1", 2, 4999),), destination=NY, customer_tax_exempt=True), NY_RATE
    )
    assert result.tax.exempt and result.totals.tax_total == 0 and result.totals.total == 9998


def test_rounding_is_half_up_per_line_and_per_component() -> None:
    assert round_half_up(Decimal("0.5")) == 1 and round_half_up(Decimal("2.5")) == 3  # not banker's
    # Two lines of 10 at 5 %: 0.5 → 1 each, summed 2 (rounding the sum would give 1).
    table = RateTable(line_rates={"": [Rate("five", Decimal("0.05"))]})
    lines = (PricingLine("a", 1, 10), PricingLine("b", 1, 10))
    result = price(PricingInput("USD", lines, destination=NY), table)
    assert [line.tax for line in result.lines] == [1, 1] and result.totals.tax_total == 2
    # Stacked components round separately: 1000 at 4 % + 4.5 % → 40 + 45.
    stacked = RateTable(line_rates={"": [Rate("NY State", Decimal("0.04")), Rate("NYC", Decimal("0.045"))]})
    one = price(PricingInput("USD", (PricingLine("a", 1, 1010),), destination=NY), stacked)
    assert [c.amount for c in one.lines[0].tax_components] == [40, 45]  # 40.4 → 40, 45.45 → 45


def test_allocation_remainder_goes_to_the_largest_line() -> None:
    assert allocate(100, {"a": 100, "b": 200}) == {"a": 33, "b": 67}
    assert allocate(1000, {"a": 3333, "b": 3333, "c": 3334}) == {"a": 333, "b": 333, "c": 334}
    assert sum(allocate(999, {"x": 700, "y": 1300, "z": 2900}).values()) == 999
    assert allocate(5000, {"a": 1000}) == {"a": 1000}  # never more than the base


def test_total_never_below_zero_and_discount_clamped_to_the_line() -> None:
    result = price(PricingInput("USD", (PricingLine("l1", 1, 2000),), line_discounts={"l1": 2500}), NY_RATE)
    assert result.lines[0].discount == 2000 and result.totals.total == 0


def test_zero_decimal_currency() -> None:
    # JPY has no minor unit: 1,980 yen × 3 at 10 % → 594 yen.
    table = RateTable(line_rates={"": [Rate("JP consumption", Decimal("0.10"))]})
    result = price(PricingInput("JPY", (PricingLine("l1", 3, 1980),), destination=Address(country="JP")), table)
    assert result.totals.tax_total == 594 and result.totals.total == 6534
