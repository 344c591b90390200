"""Order status machines and the built-in fraud rules (core-domain §2, §3.15, Ex5, Ex6)."""

from __future__ import annotations

import pytest

from rcommerce.domain.orders.fraud import FraudInput, Recommendation, assess
from rcommerce.domain.orders.states import (
    EDITABLE,
    FulfillmentStatus,
    LineQuantities,
    OrderStatus,
    PaymentStatus,
    PaymentTotals,
    allowed_targets,
    can_transition,
    derive_fulfillment_status,
    derive_payment_status,
)
from rcommerce.plugins.providers import Address

S = OrderStatus
NYC_10001 = Address(country="US", region="NY", city="New York", postal_code="10001")


# -- order status ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.PENDING, S.CONFIRMED),
        (S.PENDING, S.ON_HOLD),
        (S.PENDING, S.CANCELLED),
        (S.CONFIRMED, S.PROCESSING),
        (S.PROCESSING, S.SHIPPED),
        (S.SHIPPED, S.COMPLETED),
        (S.ON_HOLD, S.CONFIRMED),
        (S.ON_HOLD, S.CANCELLED),
        (S.COMPLETED, S.REFUNDED),
    ],
)
def test_documented_transitions_are_allowed(current: OrderStatus, target: OrderStatus) -> None:
    assert can_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.SHIPPED, S.CANCELLED),
        (S.CANCELLED, S.CONFIRMED),
        (S.REFUNDED, S.PENDING),
        (S.COMPLETED, S.SHIPPED),
        (S.PENDING, S.SHIPPED),
        (S.PENDING, S.COMPLETED),
    ],
)
def test_other_transitions_are_refused(current: OrderStatus, target: OrderStatus) -> None:
    assert not can_transition(current, target)


def test_terminal_statuses_have_no_targets_and_metadata_lists_them_sorted() -> None:
    assert allowed_targets(S.CANCELLED) == [] and allowed_targets(S.REFUNDED) == []
    assert allowed_targets(S.PENDING) == ["cancelled", "confirmed", "on_hold"]


def test_editable_statuses() -> None:
    assert {S.PENDING, S.CONFIRMED, S.ON_HOLD} == EDITABLE


# -- payment status from the ledger (Ex5: order total 125.91) --------------------------------


def test_ex5_refund_sequence() -> None:
    total = 12591
    assert derive_payment_status(PaymentTotals(total, captured=total)) is PaymentStatus.PAID
    assert (
        derive_payment_status(PaymentTotals(total, captured=total, refunded=5000)) is PaymentStatus.PARTIALLY_REFUNDED
    )
    assert derive_payment_status(PaymentTotals(total, captured=total, refunded=12591)) is PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    ("totals", "expected"),
    [
        (PaymentTotals(1000), PaymentStatus.PENDING),
        (PaymentTotals(1000, authorized=1000), PaymentStatus.AUTHORIZED),
        (PaymentTotals(1000, authorized=400, captured=600), PaymentStatus.AUTHORIZED),
        (PaymentTotals(1000, voided=1000), PaymentStatus.VOIDED),
        (PaymentTotals(1000, failed_attempts=2), PaymentStatus.FAILED),
        (PaymentTotals(1000, authorized=1000, failed_attempts=1), PaymentStatus.AUTHORIZED),
        (PaymentTotals(0), PaymentStatus.PAID),
    ],
)
def test_payment_status_derivation(totals: PaymentTotals, expected: PaymentStatus) -> None:
    assert derive_payment_status(totals) is expected


# -- fulfilment status ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "delivered", "expected"),
    [
        ([LineQuantities(2), LineQuantities(1)], False, FulfillmentStatus.UNFULFILLED),
        ([LineQuantities(2, 1), LineQuantities(1)], False, FulfillmentStatus.PARTIALLY_FULFILLED),
        ([LineQuantities(2, 2), LineQuantities(1, 1)], False, FulfillmentStatus.FULFILLED),
        ([LineQuantities(2, 2), LineQuantities(1, 1)], True, FulfillmentStatus.DELIVERED),
        ([LineQuantities(2, 2, 1), LineQuantities(1, 1)], True, FulfillmentStatus.PARTIALLY_RETURNED),
        ([LineQuantities(2, 2, 2), LineQuantities(1, 1, 1)], True, FulfillmentStatus.RETURNED),
    ],
)
def test_fulfillment_status_derivation(
    lines: list[LineQuantities], delivered: bool, expected: FulfillmentStatus
) -> None:
    assert derive_fulfillment_status(lines, all_delivered=delivered) is expected


# -- fraud (Ex6) ---------------------------------------------------------------------------


def test_ex6_below_the_threshold_with_identical_addresses_is_approved() -> None:
    result = assess(FraudInput(99999, "USD", NYC_10001, NYC_10001))
    assert (result.score, result.recommendation) == (0, Recommendation.APPROVE)


def test_ex6_threshold_is_inclusive_and_monitored() -> None:
    result = assess(FraudInput(100000, "USD", NYC_10001, NYC_10001))
    assert (result.score, result.recommendation, result.reasons) == (30, Recommendation.MONITOR, ["high_value_order"])


def test_ex6_postal_mismatch_goes_to_review() -> None:
    shipping = Address(country="US", region="NY", city="New York", postal_code="10002")
    result = assess(FraudInput(100000, "USD", NYC_10001, shipping))
    assert (result.score, result.recommendation) == (50, Recommendation.REVIEW)
    assert result.reasons == ["high_value_order", "address_mismatch:postal_code"]


def test_ex6_foreign_shipping_is_blocked() -> None:
    shipping = Address(country="CA", region="ON", city="Toronto", postal_code="M5V 2T6")
    result = assess(FraudInput(120000, "USD", NYC_10001, shipping))
    assert (result.score, result.recommendation) == (90, Recommendation.BLOCK)


def test_ex6_provider_score_is_averaged_with_the_rules() -> None:
    result = assess(FraudInput(100000, "USD", NYC_10001, NYC_10001), provider_scores=[80])
    assert (result.score, result.provider_score, result.recommendation) == (55, 80, Recommendation.REVIEW)


def test_address_comparison_ignores_case_and_spacing_and_threshold_follows_the_currency() -> None:
    shipping = Address(country="us", city="new  york", postal_code="10001")
    assert assess(FraudInput(100, "USD", NYC_10001, shipping)).score == 0
    assert assess(FraudInput(1000, "JPY")).score == 30  # 1,000 yen: JPY has no minor unit
