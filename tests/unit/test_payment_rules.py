"""Payment rules: the state machine, gateway limits, capture and refund caps (spec S5),
and how webhooks move a payment."""

from __future__ import annotations

import pytest

from rcommerce.domain.payments.errors import (
    ALREADY_CAPTURED,
    ALREADY_REFUNDED,
    CAPTURE_AMOUNT_INVALID,
    GATEWAY_CAPABILITY_UNSUPPORTED,
    INVALID_AMOUNT,
    INVALID_PAYMENT_METHOD,
    INVALID_PAYMENT_STATUS,
    PAYMENT_CURRENCY_UNSUPPORTED,
    REFUND_AMOUNT_INVALID,
    PaymentError,
)
from rcommerce.domain.payments.rules import (
    Amounts,
    PaymentState,
    available_methods,
    can_transition,
    check_capture,
    check_initiate,
    check_refund,
    check_void,
    status_after_refund,
    webhook_target,
)
from rcommerce.plugins.builtin.manual_gateway import ManualGateway
from rcommerce.plugins.builtin.test_gateway import TestGateway
from rcommerce.plugins.providers import WebhookEventType

S = PaymentState
E = WebhookEventType
CARDS = TestGateway().config()
MANUAL = ManualGateway().config()


def _raises(reason_name: str) -> pytest.RaisesExc[PaymentError]:
    return pytest.raises(PaymentError, match=f"^{reason_name}: ")


def test_state_machine_follows_the_spec_diagram() -> None:
    assert can_transition(S.PENDING, S.REQUIRES_ACTION) and can_transition(S.REQUIRES_ACTION, S.SUCCEEDED)
    assert can_transition(S.AUTHORIZED, S.SUCCEEDED) and can_transition(S.AUTHORIZED, S.CANCELLED)
    assert can_transition(S.SUCCEEDED, S.PARTIALLY_REFUNDED) and can_transition(S.PARTIALLY_REFUNDED, S.REFUNDED)
    assert can_transition(S.SUCCEEDED, S.DISPUTED) and can_transition(S.REQUIRES_ACTION, S.CANCELLED)
    # Final states stay final; a captured payment never goes back.
    for final in (S.FAILED, S.CANCELLED, S.REFUNDED):
        assert not any(can_transition(final, t) for t in S if t is not final)
    assert not can_transition(S.SUCCEEDED, S.AUTHORIZED) and not can_transition(S.FAILED, S.SUCCEEDED)


def test_unsupported_currency_method_and_amount_limits_are_refused() -> None:
    with _raises(PAYMENT_CURRENCY_UNSUPPORTED.name):
        check_initiate(CARDS, "card", 1000, "BRL", capture=True)
    with _raises(INVALID_PAYMENT_METHOD.name):
        check_initiate(CARDS, "bank_transfer", 1000, "USD", capture=True)
    with _raises(INVALID_AMOUNT.name) as err:
        check_initiate(CARDS, "card", 49, "USD", capture=True)  # 0.49 USD < 0.50 minimum
    assert err.value.metadata["minAmount"] == "50"
    with _raises(INVALID_AMOUNT.name):
        check_initiate(CARDS, "card", 49, "JPY", capture=True)  # JPY has no minor unit: 49 yen < 50 yen
    check_initiate(CARDS, "card", 50, "JPY", capture=True)
    with _raises(INVALID_AMOUNT.name):
        check_initiate(CARDS, "card", 0, "USD", capture=True)
    check_initiate(MANUAL, "cash_on_delivery", 1, "BRL", capture=False)  # manual: every currency


def test_available_methods_filter_by_currency_and_amount() -> None:
    assert [m.method_type for m in available_methods(CARDS, 9999, "USD")] == ["card"]
    assert available_methods(CARDS, 10, "USD") == []
    assert available_methods(CARDS, 9999, "BRL") == []
    assert [m.method_type for m in available_methods(MANUAL, 10, "BRL")] == ["bank_transfer", "cash_on_delivery"]


def test_s5_partial_then_full_refund_then_nothing_left() -> None:
    captured = Amounts(9999, 9999, 9999, 0)
    assert check_refund(CARDS, S.SUCCEEDED, captured, 3000, "pay_1") == 3000
    assert status_after_refund(9999, 3000) is S.PARTIALLY_REFUNDED
    after_first = Amounts(9999, 9999, 9999, 3000)
    assert check_refund(CARDS, S.PARTIALLY_REFUNDED, after_first, 6999, "pay_1") == 6999
    assert status_after_refund(9999, 9999) is S.REFUNDED
    with _raises(ALREADY_REFUNDED.name):
        check_refund(CARDS, S.REFUNDED, Amounts(9999, 9999, 9999, 9999), 1, "pay_1")


def test_s5_refund_above_the_capture_is_invalid() -> None:
    with _raises(REFUND_AMOUNT_INVALID.name) as err:
        check_refund(CARDS, S.SUCCEEDED, Amounts(9999, 9999, 9999, 0), 10000, "pay_2")
    assert err.value.metadata["refundableAmount"] == "9999"
    assert check_refund(CARDS, S.SUCCEEDED, Amounts(9999, 9999, 9999, 0), 0, "pay_2") == 9999  # 0 = all


def test_refund_needs_a_capture() -> None:
    with _raises(INVALID_PAYMENT_STATUS.name) as err:
        check_refund(CARDS, S.AUTHORIZED, Amounts(9999, 9999, 0, 0), 100, "pay_3")
    assert err.value.metadata["allowedStatuses"] == "succeeded,partially_refunded"


def test_capture_rules() -> None:
    authorized = Amounts(9999, 9999, 0, 0)
    assert check_capture(CARDS, S.AUTHORIZED, authorized, 0, "pay_4") == 9999
    assert check_capture(CARDS, S.AUTHORIZED, authorized, 5000, "pay_4") == 5000  # partial capture
    with _raises(CAPTURE_AMOUNT_INVALID.name):
        check_capture(CARDS, S.AUTHORIZED, authorized, 10000, "pay_4")
    with _raises(ALREADY_CAPTURED.name):
        check_capture(CARDS, S.SUCCEEDED, Amounts(9999, 9999, 9999, 0), 0, "pay_4")
    with _raises(INVALID_PAYMENT_STATUS.name):  # capture after void
        check_capture(CARDS, S.CANCELLED, authorized, 0, "pay_4")
    no_partial = type(CARDS)(CARDS.currencies, CARDS.methods, supports_partial_capture=False)
    with _raises(GATEWAY_CAPABILITY_UNSUPPORTED.name):
        check_capture(no_partial, S.AUTHORIZED, authorized, 5000, "pay_4")


def test_void_only_before_capture() -> None:
    check_void(S.AUTHORIZED, "pay_5")
    check_void(S.REQUIRES_ACTION, "pay_5")
    with _raises(INVALID_PAYMENT_STATUS.name):
        check_void(S.SUCCEEDED, "pay_5")


def test_refund_webhooks_carry_the_cumulative_total() -> None:
    paid = Amounts(9999, 9999, 9999, 0)
    moved = webhook_target(E.PAYMENT_REFUNDED, S.SUCCEEDED, paid, 3000, "", "")
    assert moved == (S.PARTIALLY_REFUNDED, Amounts(9999, 9999, 9999, 3000))
    # Redelivered, or arriving after our own refund already counted it: nothing happens.
    assert (
        webhook_target(E.PAYMENT_REFUNDED, S.PARTIALLY_REFUNDED, Amounts(9999, 9999, 9999, 3000), 3000, "", "") is None
    )
    assert webhook_target(E.PAYMENT_REFUNDED, S.PARTIALLY_REFUNDED, Amounts(9999, 9999, 9999, 3000), 9999, "", "") == (
        S.REFUNDED, Amounts(9999, 9999, 9999, 9999),
    )  # fmt: skip


def test_out_of_order_webhooks_change_nothing() -> None:
    paid = Amounts(9999, 9999, 9999, 0)
    assert webhook_target(E.PAYMENT_FAILED, S.SUCCEEDED, paid, None, "", "") is None
    assert webhook_target(E.PAYMENT_SUCCEEDED, S.SUCCEEDED, paid, 9999, "", "") is None
    assert webhook_target(E.PAYMENT_SUCCEEDED, S.REQUIRES_ACTION, Amounts(9999, 0, 0, 0), 9999, "", "") == (
        S.SUCCEEDED, paid,
    )  # fmt: skip


def test_disputes_restore_or_refund() -> None:
    paid = Amounts(9999, 9999, 9999, 0)
    assert webhook_target(E.DISPUTE_CREATED, S.SUCCEEDED, paid, None, "", "") == (S.DISPUTED, paid)
    assert webhook_target(E.DISPUTE_RESOLVED, S.DISPUTED, paid, None, "succeeded", "won") == (S.SUCCEEDED, paid)
    lost = webhook_target(E.DISPUTE_RESOLVED, S.DISPUTED, paid, None, "succeeded", "lost")
    assert lost == (S.REFUNDED, Amounts(9999, 9999, 9999, 9999))
