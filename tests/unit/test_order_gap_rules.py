"""Pure rules closed after the first order issue: payment status and balance due when
captures stay below a total an edit raised, the return window, and the tax snapshot
helpers shared by placement and edits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from rcommerce.domain.fulfillment.rules import return_window_closes
from rcommerce.domain.orders.states import PaymentStatus, PaymentTotals, balance_due, derive_payment_status
from rcommerce.domain.orders.taxes import component_dicts, tax_summary
from rcommerce.plugins.providers import TaxComponent


@pytest.mark.parametrize(
    ("totals", "status", "due"),
    [
        # Paid in full, then an edit raised the total to 99.98: nothing left to capture → paid, 49.99 due.
        (PaymentTotals(9998, captured=4999), PaymentStatus.PAID, 4999),
        # Part captured, the rest still authorized → authorized (to capture), 40.00 not collected yet.
        (PaymentTotals(10000, authorized=4000, captured=6000), PaymentStatus.AUTHORIZED, 4000),
        (PaymentTotals(10000, authorized=10000), PaymentStatus.AUTHORIZED, 10000),
        (PaymentTotals(10000, captured=10000), PaymentStatus.PAID, 0),
        # An edit lowered the total below what was captured: paid, nothing due (refund it).
        (PaymentTotals(5000, captured=10000), PaymentStatus.PAID, 0),
        # Refunds do not raise the balance (Ex5 step 1: 50.00 of 125.91 refunded).
        (PaymentTotals(12591, captured=12591, refunded=5000), PaymentStatus.PARTIALLY_REFUNDED, 0),
        (PaymentTotals(12591), PaymentStatus.PENDING, 12591),
    ],
)
def test_payment_status_and_balance_due(totals: PaymentTotals, status: PaymentStatus, due: int) -> None:
    assert derive_payment_status(totals) is status
    assert balance_due(totals) == due


def test_return_window_closes_thirty_days_after_delivery() -> None:
    delivered = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    closes = return_window_closes(delivered, 30)
    assert closes == datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    assert delivered + timedelta(days=29, hours=23, minutes=59) < closes  # still open
    assert return_window_closes(delivered, 0) == delivered  # 0 closes self-service returns


def test_tax_helpers_sum_components_by_name_rate_and_jurisdiction() -> None:
    ny = TaxComponent(name="NY combined", rate=Decimal("0.087500"), amount=787, jurisdiction="US-NY", rate_id="txr_1")
    ship = TaxComponent(name="NY combined", rate=Decimal("0.0875"), amount=219, jurisdiction="US-NY", rate_id="txr_1")
    assert component_dicts([ny]) == [
        {"name": "NY combined", "rate": "0.0875", "amount": 787, "jurisdiction": "US-NY", "rate_id": "txr_1"}
    ]
    assert tax_summary([ny, ship]) == [
        {"name": "NY combined", "rate": "0.0875", "amount": 1006, "jurisdiction": "US-NY"}
    ]
