"""Promotion rules: core-domain §4.2 Ex3 (a-j) and Ex4, allocation, stacking and the
validation order of §3.6. Pure functions, no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rcommerce.domain.promotions.engine import (
    CurrencyTerms,
    PromoContext,
    PromoLine,
    PromotionRule,
    PromotionType,
    Targets,
    allocate,
    apply_promotions,
    choose_promotions,
    validation_failure,
)

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def line(line_id: str, unit_price: int, quantity: int = 1, **kw: frozenset[str]) -> PromoLine:
    return PromoLine(line_id, f"prod_{line_id}", f"var_{line_id}", quantity, unit_price, unit_price * quantity, **kw)


def cart(*lines: PromoLine, codes: tuple[str, ...] = (), **kw: object) -> PromoContext:
    return PromoContext("USD", tuple(lines), codes, **kw)  # type: ignore[arg-type]


def percentage(percent: str, *, cap: int | None = None, code: str = "SAVE", **kw: object) -> PromotionRule:
    if cap is not None:
        kw["currencies"] = {"USD": CurrencyTerms(max_discount=cap)}
    return PromotionRule(f"promo_{code}", code, PromotionType.PERCENTAGE, code=code, percent=Decimal(percent), **kw)  # type: ignore[arg-type]


def fixed(amount: int, *, code: str = "FIXED", **kw: object) -> PromotionRule:
    terms = {"USD": CurrencyTerms(amount=amount)}
    return PromotionRule(f"promo_{code}", code, PromotionType.FIXED_AMOUNT, code=code, currencies=terms, **kw)  # type: ignore[arg-type]


def discount(rule: PromotionRule, ctx: PromoContext) -> int:
    assert validation_failure(rule, ctx, NOW) is None
    totals, _ = apply_promotions([rule], ctx)
    return sum(totals.values())


# -- Ex3 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("cap", "expected"), [(5000, 5000), (10000, 6000)])
def test_ex3_a_b_percentage_with_cap(cap: int, expected: int) -> None:
    ctx = cart(line("a", 30000))
    assert discount(percentage("20", cap=cap), ctx) == expected
    assert ctx.subtotal - discount(percentage("20", cap=cap), ctx) == 30000 - expected  # a: final 250.00


def test_ex3_c_d_fixed_amount_capped_at_the_base() -> None:
    assert discount(fixed(2500), cart(line("a", 7500))) == 2500  # final 50.00
    assert discount(fixed(2500), cart(line("a", 2000))) == 2000  # total 0.00


def test_ex3_e_f_listed_products_and_exclusions() -> None:
    lines = (line("A", 10000), line("B", 5000), line("C", 7500))
    listed = Targets(product_ids=frozenset({"prod_A", "prod_C"}))
    rule = percentage("10", include=listed)
    ctx = cart(*lines)
    totals, _ = apply_promotions([rule], ctx)
    assert totals == {"A": 1000, "C": 750}
    assert ctx.subtotal - sum(totals.values()) == 20750  # final 207.50
    excluded = replace(rule, exclude=Targets(product_ids=frozenset({"prod_C"})))
    assert apply_promotions([excluded], ctx)[0] == {"A": 1000}


def test_ex3_g_h_minimum_subtotal_equality_passes() -> None:
    rule = percentage("10", currencies={"USD": CurrencyTerms(minimum_subtotal=5000)})
    failure = validation_failure(rule, cart(line("a", 3500)), NOW)
    assert failure is not None and failure.reason.name == "COUPON_MINIMUM_NOT_MET"
    assert failure.metadata["minimumRequired"] == "5000" and failure.metadata["currentAmount"] == "3500"
    assert failure.reason.http_status == 422
    assert validation_failure(rule, cart(line("a", 5000)), NOW) is None


def test_ex3_i_usage_limit_reached() -> None:
    rule = percentage("10", usage_limit=1000, usage_count=1000)
    failure = validation_failure(rule, cart(line("a", 5000)), NOW)
    assert failure is not None and failure.reason.name == "COUPON_USAGE_LIMIT"
    assert validation_failure(replace(rule, usage_count=999), cart(line("a", 5000)), NOW) is None


def test_ex3_j_summer20_on_150() -> None:
    ctx = cart(line("a", 15000))
    amount = discount(percentage("20", code="SUMMER20"), ctx)
    assert (amount, ctx.subtotal - amount) == (3000, 12000)


# -- Ex4 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("quantity", "expected"), [(1, 0), (2, 0), (3, 1000), (4, 1000), (5, 1000), (6, 2000)])
def test_ex4_buy_two_get_one_is_x_plus_y_per_group(quantity: int, expected: int) -> None:
    rule = PromotionRule(
        "promo_b", "Buy 2 get 1", PromotionType.BUY_X_GET_Y, percent=Decimal(100), buy_quantity=2, get_quantity=1
    )
    totals, _ = apply_promotions([rule], cart(line("p", 1000, quantity)))
    assert sum(totals.values()) == expected


def test_buy_x_get_y_discounts_the_cheapest_qualifying_units_and_half_off() -> None:
    rule = PromotionRule(
        "promo_b", "b", PromotionType.BUY_X_GET_Y, percent=Decimal(100), buy_quantity=2, get_quantity=1
    )
    ctx = cart(line("big", 3000, 2), line("small", 1000, 1), line("mid", 2000, 3))
    # 6 units -> 2 groups -> the 2 cheapest units: 1 x 10.00 (small) + 1 x 20.00 (mid).
    assert apply_promotions([rule], ctx)[0] == {"small": 1000, "mid": 2000}
    half = replace(rule, percent=Decimal(50))
    assert apply_promotions([half], ctx)[0] == {"small": 500, "mid": 1000}


# -- allocation -----------------------------------------------------------------------------
def test_allocation_is_pro_rata_with_the_remainder_cent_on_the_largest_line() -> None:
    assert allocate(1000, {"a": 3333, "b": 3334, "c": 3333}) == {"a": 333, "b": 334, "c": 333}
    assert allocate(1000, {"a": 1000, "b": 1000, "c": 1000}) == {"a": 334, "b": 333, "c": 333}
    assert allocate(100, {"a": 1, "b": 999}) == {"b": 100}  # 0.1 cent rounds down; remainder to b
    assert allocate(2000, {"a": 500, "b": 1000}) == {"a": 500, "b": 1000}  # never above a line
    shares = allocate(999, {"x": 1234, "y": 5678, "z": 91})
    assert sum(shares.values()) == 999 and all(shares[k] <= w for k, w in {"x": 1234, "y": 5678, "z": 91}.items())


def test_fixed_amount_is_allocated_to_lines() -> None:
    totals, applied = apply_promotions([fixed(1000)], cart(line("a", 3333), line("b", 3334), line("c", 3333)))
    assert totals == {"a": 333, "b": 334, "c": 333} and applied[0].amount == 1000


def test_stacked_promotions_apply_on_what_is_left() -> None:
    ctx = cart(line("a", 10000))
    totals, applied = apply_promotions([percentage("50", code="HALF"), percentage("50", code="HALF2")], ctx)
    assert totals == {"a": 7500} and [a.amount for a in applied] == [5000, 2500]
    totals, _ = apply_promotions([fixed(8000), fixed(8000, code="F2")], ctx)
    assert totals == {"a": 10000}  # never more than the line


def test_percentage_rounds_half_up() -> None:
    assert discount(percentage("10"), cart(line("a", 1005))) == 101  # 100.5 -> 101
    assert discount(percentage("12.5"), cart(line("a", 999))) == 125  # 124.875 -> 125


def test_free_shipping_is_a_flag_without_line_discount() -> None:
    rule = PromotionRule(
        "promo_fs",
        "Free shipping",
        PromotionType.FREE_SHIPPING,
        currencies={"USD": CurrencyTerms(minimum_subtotal=10000)},
    )
    assert validation_failure(rule, cart(line("a", 9999)), NOW) is not None
    totals, applied = apply_promotions([rule], cart(line("a", 10000)))
    assert totals == {} and applied[0].free_shipping and applied[0].code == ""


# -- combinability --------------------------------------------------------------------------
def test_several_codes_only_when_all_are_combinable() -> None:
    a = percentage("10", code="A", combinable=True)
    b = percentage("10", code="B", combinable=True)
    solo = percentage("10", code="SOLO")
    ctx = cart(line("x", 10000))
    assert choose_promotions([a, b], [], ctx) == ([a, b], [])
    assert choose_promotions([a, solo, b], [], ctx) == ([a, b], [solo])
    assert choose_promotions([solo, a], [], ctx) == ([solo], [a])


def test_combinable_automatic_promotions_stack_with_combinable_codes_only() -> None:
    auto = PromotionRule("promo_auto", "Auto 5%", PromotionType.PERCENTAGE, percent=Decimal(5), combinable=True)
    code = percentage("10", code="A", combinable=True)
    solo = percentage("10", code="SOLO")
    ctx = cart(line("x", 10000))
    assert choose_promotions([code], [auto], ctx) == ([code, auto], [])
    assert choose_promotions([solo], [auto], ctx) == ([solo], [])
    assert choose_promotions([], [auto], ctx) == ([auto], [])


def test_a_non_combinable_automatic_promotion_competes_best_for_the_customer() -> None:
    auto = PromotionRule("promo_auto", "Auto 30%", PromotionType.PERCENTAGE, percent=Decimal(30))
    small = percentage("10", code="SMALL", combinable=True)
    big = percentage("40", code="BIG", combinable=True)
    ctx = cart(line("x", 10000))
    assert choose_promotions([small], [auto], ctx) == ([auto], [small])  # 30.00 beats 10.00
    assert choose_promotions([big], [auto], ctx) == ([big], [])  # 40.00 beats 30.00
    tie = percentage("30", code="TIE")
    assert choose_promotions([tie], [auto], ctx) == ([tie], [])  # a tie keeps the code


# -- validation order (§3.6) ----------------------------------------------------------------
def test_checks_run_in_the_documented_order() -> None:
    ctx = cart(line("x", 1000), codes=("OTHER", "CODE"), customer_id="cus_1", is_new_customer=False)
    other = percentage("10", code="OTHER")
    rule = percentage(
        "10",
        code="CODE",
        active=False,
        starts_at=NOW + timedelta(days=1),
        ends_at=NOW - timedelta(days=1),
        usage_limit=1,
        usage_count=1,
        usage_limit_per_customer=1,
        new_customers_only=True,
        customer_group_ids=frozenset({"cgrp_vip"}),
        currencies={"USD": CurrencyTerms(minimum_subtotal=5000)},
        include=Targets(product_ids=frozenset({"prod_other"})),
    )
    steps = [
        ("COUPON_INACTIVE", {"active": True}),
        ("COUPON_NOT_STARTED", {"starts_at": None}),
        ("COUPON_EXPIRED", {"ends_at": None}),
        ("COUPON_USAGE_LIMIT", {"usage_limit": None}),
        ("COUPON_CUSTOMER_LIMIT", {"usage_limit_per_customer": None}),
        ("COUPON_NEW_CUSTOMERS_ONLY", {"new_customers_only": False}),
        ("COUPON_CUSTOMER_NOT_ELIGIBLE", {"customer_group_ids": frozenset()}),
        ("COUPON_MINIMUM_NOT_MET", {"currencies": {}}),
        ("COUPON_PRODUCT_NOT_ELIGIBLE", {"include": Targets()}),
        ("COUPON_CANNOT_COMBINE", {"combinable": True}),
    ]
    for expected, fix in steps:
        failure = validation_failure(rule, ctx, NOW, customer_usage=1, other_codes=[other], already_applied=True)
        assert failure is not None and failure.reason.name == expected
        rule = replace(rule, **fix)  # type: ignore[arg-type]
    # Still "not combinable": OTHER is not combinable.
    failure = validation_failure(rule, ctx, NOW, customer_usage=1, other_codes=[other], already_applied=True)
    assert failure is not None and failure.reason.name == "COUPON_CANNOT_COMBINE"
    assert failure.metadata["conflictingCode"] == "OTHER"
    failure = validation_failure(
        rule, ctx, NOW, customer_usage=1, other_codes=[replace(other, combinable=True)], already_applied=True
    )
    assert failure is not None and failure.reason.name == "COUPON_ALREADY_APPLIED"
    assert validation_failure(rule, ctx, NOW, customer_usage=1, other_codes=[replace(other, combinable=True)]) is None


def test_window_bounds_are_inclusive() -> None:
    rule = percentage("10", starts_at=NOW, ends_at=NOW)
    assert validation_failure(rule, cart(line("x", 100)), NOW) is None
    failure = validation_failure(rule, cart(line("x", 100)), NOW + timedelta(microseconds=1))
    assert failure is not None and failure.reason.name == "COUPON_EXPIRED"


def test_customer_eligibility_by_group_or_customer() -> None:
    rule = percentage("10", customer_group_ids=frozenset({"cgrp_vip"}), customer_ids=frozenset({"cus_7"}))
    assert validation_failure(rule, cart(line("x", 100), customer_group_ids=frozenset({"cgrp_vip"})), NOW) is None
    assert validation_failure(rule, cart(line("x", 100), customer_id="cus_7"), NOW) is None
    failure = validation_failure(rule, cart(line("x", 100), customer_id="cus_8"), NOW)
    assert failure is not None and failure.reason.name == "COUPON_CUSTOMER_NOT_ELIGIBLE"


def test_targets_by_collection_and_category() -> None:
    lines = (
        line("a", 1000, collection_ids=frozenset({"col_sale"})),
        line("b", 2000, category_ids=frozenset({"cat_shoes"})),
        line("c", 4000),
    )
    by_collection = percentage("10", include=Targets(collection_ids=frozenset({"col_sale"})))
    assert apply_promotions([by_collection], cart(*lines))[0] == {"a": 100}
    by_category = percentage("10", exclude=Targets(category_ids=frozenset({"cat_shoes"})))
    assert apply_promotions([by_category], cart(*lines))[0] == {"a": 100, "c": 400}


def test_fixed_amount_needs_an_amount_in_the_cart_currency() -> None:
    rule = fixed(1000)
    failure = validation_failure(rule, PromoContext("EUR", (line("a", 5000),), ()), NOW)
    assert failure is not None and failure.reason.name == "COUPON_CURRENCY_NOT_SUPPORTED"
