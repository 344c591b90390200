"""Refund cap, line refunds, fulfilment/return quantities and status machines
(core-domain §2.2–2.4, §3.12–3.13, R19, R20, Ex5; DECISIONS 15)."""

from __future__ import annotations

import pytest

from rcommerce.domain.fulfillment.errors import FulfillmentError
from rcommerce.domain.fulfillment.rules import (
    ChangeStatus,
    FulfillmentState,
    LineState,
    PaymentSlice,
    allocate_capture,
    allocate_refund,
    check_change_transition,
    check_fulfillment_quantities,
    check_fulfillment_transition,
    check_refund_amount,
    check_refund_quantities,
    check_return_quantities,
    line_refund_amount,
    status_after_fulfillment,
    status_after_payment,
    status_after_refund,
)
from rcommerce.domain.orders.states import (
    FulfillmentStatus,
    OrderStatus,
    PaymentStatus,
    PaymentTotals,
    derive_payment_status,
)
from rcommerce.errors import DomainError

TOTAL = 12591  # Ex5: order total 125.91, paid


def _status(refunded: int) -> PaymentStatus:
    return derive_payment_status(PaymentTotals(total=TOTAL, captured=TOTAL, refunded=refunded))


# -- Ex5: refunds and returns, every step --------------------------------------------------------


def test_ex5_step1_partial_refund_leaves_75_91() -> None:
    assert check_refund_amount(5000, captured=TOTAL, refunded=0) == 7591
    assert _status(5000) is PaymentStatus.PARTIALLY_REFUNDED


def test_ex5_step2_refund_beyond_remaining_is_refused_with_figures() -> None:
    with pytest.raises(FulfillmentError) as caught:
        check_refund_amount(8000, captured=TOTAL, refunded=5000)
    assert caught.value.reason.name == "REFUND_EXCEEDS_PAYMENT"
    assert caught.value.metadata["requested"] == "8000"
    assert caught.value.metadata["remaining"] == "7591"


def test_ex5_step3_refunding_the_rest_fully_refunds_and_the_order_becomes_refunded() -> None:
    assert check_refund_amount(7591, captured=TOTAL, refunded=5000) == 0
    assert _status(12591) is PaymentStatus.REFUNDED
    assert status_after_refund(OrderStatus.CONFIRMED, PaymentStatus.REFUNDED) is OrderStatus.REFUNDED
    assert status_after_refund(OrderStatus.CONFIRMED, PaymentStatus.PARTIALLY_REFUNDED) is None


def test_ex5_step4_one_cent_more_is_refused_with_nothing_remaining() -> None:
    with pytest.raises(FulfillmentError) as caught:
        check_refund_amount(1, captured=TOTAL, refunded=TOTAL)
    assert caught.value.reason.name == "REFUND_EXCEEDS_PAYMENT"
    assert (caught.value.metadata["requested"], caught.value.metadata["remaining"]) == ("1", "0")


def test_ex5_step5_return_one_of_two_is_49_99_and_three_is_refused() -> None:
    lines = {"oli_1": LineState("oli_1", quantity=2, fulfilled=2, returned=0)}
    assert check_return_quantities(lines, [("oli_1", 1)]) == {"oli_1": 1}
    assert line_refund_amount(paid=2 * 4999, quantity=2, already=0, units=1) == 4999
    with pytest.raises(FulfillmentError) as caught:
        check_return_quantities(lines, [("oli_1", 3)])
    assert caught.value.reason.name == "INVALID_RETURN_QUANTITY"
    assert (caught.value.metadata["requested"], caught.value.metadata["available"]) == ("3", "2")


# -- R19 / R20 boundaries ------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1])
def test_refund_amount_must_be_positive(amount: int) -> None:
    with pytest.raises(DomainError) as caught:
        check_refund_amount(amount, captured=TOTAL, refunded=0)
    assert caught.value.reason.name == "VALIDATION_FAILED"


def test_refund_cap_is_what_was_captured_not_the_order_total() -> None:
    # Authorized 125.91 but only 100.00 captured: 100.00 is the cap.
    with pytest.raises(FulfillmentError) as caught:
        check_refund_amount(10001, captured=10000, refunded=0)
    assert caught.value.metadata["remaining"] == "10000"
    assert check_refund_amount(10000, captured=10000, refunded=0) == 0


def test_line_refund_rounds_cumulatively_so_units_add_up_to_the_line() -> None:
    # The Ex1 line under DECISIONS 12: 2 × 49.99 − 10.00 discount = 89.98, tax 7.87.
    paid = 8998 + 787
    first = line_refund_amount(paid, quantity=2, already=0, units=1)
    second = line_refund_amount(paid, quantity=2, already=1, units=1)
    assert (first, second) == (4893, 4892)
    assert first + second == line_refund_amount(paid, quantity=2, already=0, units=2) == 9785


def test_line_refund_of_three_units_never_sums_above_the_line() -> None:
    parts = [line_refund_amount(1000, 3, k, 1) for k in range(3)]
    assert parts == [333, 334, 333]
    assert sum(parts) == 1000


# -- capture and refund allocation ---------------------------------------------------------------


def test_capture_everything_authorized_oldest_first() -> None:
    pays = [PaymentSlice("pay_a", 3000, 0), PaymentSlice("pay_b", 9591, 0)]
    assert allocate_capture(pays, 0) == [("pay_a", 3000), ("pay_b", 9591)]
    assert allocate_capture(pays, 5000) == [("pay_a", 3000), ("pay_b", 2000)]


def test_capture_beyond_authorized_or_nothing_authorized_is_refused() -> None:
    with pytest.raises(FulfillmentError) as caught:
        allocate_capture([PaymentSlice("pay_a", 3000, 0)], 3001)
    assert caught.value.reason.name == "NOTHING_TO_CAPTURE"
    assert caught.value.metadata == {"requested": "3001", "capturable": "3000"}
    with pytest.raises(FulfillmentError):
        allocate_capture([], 0)


def test_refund_allocation_skips_fully_refunded_payments() -> None:
    pays = [PaymentSlice("pay_a", 0, 0), PaymentSlice("pay_b", 0, 5000), PaymentSlice("pay_c", 0, 7591)]
    assert allocate_refund(pays, 6000) == [("pay_b", 5000), ("pay_c", 1000)]


# -- fulfilment quantities ------------------------------------------------------------------------


def test_fulfilling_more_than_ordered_and_unfulfilled_is_refused() -> None:
    lines = {"a": LineState("a", 3, fulfilled=1), "b": LineState("b", 1)}
    assert check_fulfillment_quantities(lines, [("a", 1), ("a", 1), ("b", 1)]) == {"a": 2, "b": 1}
    with pytest.raises(FulfillmentError) as caught:
        check_fulfillment_quantities(lines, [("a", 3)])
    assert caught.value.reason.name == "INVALID_FULFILLMENT_QUANTITY"
    assert caught.value.metadata == {"lineId": "a", "requested": "3", "available": "2"}


def test_a_fully_fulfilled_order_answers_order_fulfilled() -> None:
    with pytest.raises(FulfillmentError) as caught:
        check_fulfillment_quantities({"a": LineState("a", 2, fulfilled=2)}, [("a", 1)])
    assert caught.value.reason.name == "ORDER_FULFILLED"


def test_unknown_line_and_bad_quantity() -> None:
    lines = {"a": LineState("a", 2)}
    with pytest.raises(FulfillmentError) as caught:
        check_fulfillment_quantities(lines, [("zz", 1)])
    assert caught.value.reason.name == "ORDER_LINE_NOT_FOUND"
    with pytest.raises(DomainError) as bad:
        check_fulfillment_quantities(lines, [("a", 0)])
    assert bad.value.reason.name == "VALIDATION_FAILED"
    with pytest.raises(DomainError):
        check_fulfillment_quantities(lines, [])


def test_returns_count_only_fulfilled_units_not_yet_returned() -> None:
    lines = {"a": LineState("a", 4, fulfilled=3, returned=1)}
    assert check_return_quantities(lines, [("a", 2)]) == {"a": 2}
    with pytest.raises(FulfillmentError) as caught:
        check_return_quantities(lines, [("a", 3)])
    assert caught.value.metadata["available"] == "2"


def test_line_refunds_count_against_units_not_refunded() -> None:
    lines = {"a": LineState("a", 2, refunded=1)}
    assert check_refund_quantities(lines, [("a", 1)]) == {"a": 1}
    with pytest.raises(FulfillmentError) as caught:
        check_refund_quantities(lines, [("a", 2)])
    assert caught.value.reason.name == "INVALID_REFUND_QUANTITY"


# -- status machines ------------------------------------------------------------------------------

F = FulfillmentState


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        (F.PENDING, F.SHIPPED, True),
        (F.PENDING, F.DELIVERED, True),
        (F.SHIPPED, F.DELIVERED, True),
        (F.PENDING, F.CANCELLED, True),
        (F.SHIPPED, F.CANCELLED, True),
        (F.DELIVERED, F.CANCELLED, False),
        (F.SHIPPED, F.SHIPPED, False),
        (F.CANCELLED, F.SHIPPED, False),
    ],
)
def test_fulfillment_machine(current: FulfillmentState, target: FulfillmentState, ok: bool) -> None:
    if ok:
        check_fulfillment_transition(current, target)
    else:
        with pytest.raises(FulfillmentError) as caught:
            check_fulfillment_transition(current, target)
        assert caught.value.reason.name == "INVALID_FULFILLMENT_STATUS"
        assert caught.value.metadata["currentStatus"] == current.value


R = ChangeStatus


@pytest.mark.parametrize(
    ("current", "target", "ok"),
    [
        (R.REQUESTED, R.RECEIVED, True),
        (R.RECEIVED, R.PROCESSED, True),
        (R.REQUESTED, R.PROCESSED, True),
        (R.REQUESTED, R.CANCELLED, True),
        (R.RECEIVED, R.CANCELLED, True),
        (R.PROCESSED, R.CANCELLED, False),
        (R.CANCELLED, R.RECEIVED, False),
        (R.RECEIVED, R.RECEIVED, False),
    ],
)
def test_change_machine(current: ChangeStatus, target: ChangeStatus, ok: bool) -> None:
    if ok:
        check_change_transition(current, target)
    else:
        with pytest.raises(FulfillmentError) as caught:
            check_change_transition(current, target)
        assert caught.value.reason.name == "INVALID_ORDER_CHANGE_STATUS"


def test_order_status_effects() -> None:
    S = OrderStatus
    assert status_after_payment(S.PENDING, PaymentStatus.PAID) is S.CONFIRMED
    assert status_after_payment(S.ON_HOLD, PaymentStatus.PAID) is None
    assert status_after_fulfillment(S.CONFIRMED, FulfillmentStatus.PARTIALLY_FULFILLED, shipped=False) is S.PROCESSING
    assert status_after_fulfillment(S.PROCESSING, FulfillmentStatus.FULFILLED, shipped=True) is S.SHIPPED
    assert status_after_fulfillment(S.SHIPPED, FulfillmentStatus.DELIVERED, shipped=True) is S.COMPLETED
    assert status_after_fulfillment(S.SHIPPED, FulfillmentStatus.FULFILLED, shipped=True) is None
    assert status_after_refund(S.CANCELLED, PaymentStatus.REFUNDED) is None
