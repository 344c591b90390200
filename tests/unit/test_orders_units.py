"""Pure pieces of the orders context: order_by parsing, the payment sums behind the
derived payment status (Ex5 figures), status enum mapping and the customer view."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from rcommerce.domain.orders import convert, listing
from rcommerce.domain.orders.repository import payment_totals
from rcommerce.domain.orders.states import PaymentStatus, derive_payment_status
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import orders_pb2 as O


def _pay(status: str, amount: int = 12591, authorized: int = 0, captured: int = 0, refunded: int = 0) -> Any:
    return SimpleNamespace(
        status=status, amount=amount, amount_authorized=authorized, amount_captured=captured, amount_refunded=refunded
    )


@pytest.mark.parametrize(
    ("payments", "expected"),
    [
        ([], PaymentStatus.PENDING),
        ([_pay("authorized", authorized=12591)], PaymentStatus.AUTHORIZED),
        ([_pay("succeeded", authorized=12591, captured=12591)], PaymentStatus.PAID),
        ([_pay("partially_refunded", captured=12591, refunded=5000)], PaymentStatus.PARTIALLY_REFUNDED),
        ([_pay("refunded", captured=12591, refunded=12591)], PaymentStatus.REFUNDED),
        ([_pay("cancelled", authorized=12591)], PaymentStatus.VOIDED),
        ([_pay("failed")], PaymentStatus.FAILED),
        ([_pay("failed"), _pay("authorized", authorized=12591)], PaymentStatus.AUTHORIZED),
    ],
)
def test_payment_status_from_the_order_payments_ex5(payments: list[Any], expected: PaymentStatus) -> None:
    assert derive_payment_status(payment_totals(12591, payments)) is expected


def test_order_by_parsing() -> None:
    clauses = listing.ordering("total desc, create_time")
    rendered = [str(c) for c in clauses]
    assert rendered == ["orders.total DESC", "orders.created_at ASC", "orders.id ASC"]
    assert [str(c) for c in listing.ordering("")] == ["orders.created_at DESC", "orders.id DESC"]
    for bad in ("price desc", "total sideways", "total desc extra"):
        with pytest.raises(DomainError) as caught:
            listing.ordering(bad)
        assert caught.value.reason.name == "VALIDATION_FAILED"


def test_status_enums_round_trip() -> None:
    for status in ("pending", "confirmed", "processing", "on_hold", "shipped", "completed", "cancelled", "refunded"):
        assert convert.status_from_value(convert.status_value(status)) == status
    assert convert.status_value("on_hold") == O.ORDER_STATUS_ON_HOLD
    assert convert.payment_status_value("partially_refunded") == O.ORDER_PAYMENT_STATUS_PARTIALLY_REFUNDED
    assert convert.fulfillment_status_value("delivered") == O.ORDER_FULFILLMENT_STATUS_DELIVERED
