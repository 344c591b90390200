"""What an order still needs before another payment (``orders.access.unpaid``): its total
less what is captured and kept (net of refunds, as an order edit's balance), authorized
and not captured, or still being paid."""

from __future__ import annotations

import pytest

from rcommerce.domain.orders.access import unpaid

#: (status, amount, amount_authorized, amount_captured, amount_refunded)
CASES = [
    pytest.param([], 5000, id="nothing-paid"),
    pytest.param([("succeeded", 2000, 2000, 2000, 0)], 3000, id="deposit-captured"),
    pytest.param([("authorized", 2000, 2000, 0, 0)], 3000, id="authorized-held"),
    pytest.param([("authorized", 2000, 2000, 500, 0)], 3000, id="partly-captured-authorization-counts-once"),
    pytest.param([("pending", 1500, 0, 0, 0), ("requires_action", 1000, 0, 0, 0)], 2500, id="in-flight-held"),
    pytest.param([("failed", 5000, 0, 0, 0), ("cancelled", 5000, 5000, 0, 0)], 5000, id="failed-and-voided-free"),
    pytest.param([("refunded", 5000, 5000, 5000, 5000)], 5000, id="refunded-in-full-asks-again"),
    pytest.param([("partially_refunded", 5000, 5000, 5000, 1500)], 1500, id="a-refunded-line-is-to-pay-again"),
    pytest.param([("succeeded", 6000, 6000, 6000, 0)], 0, id="never-negative"),
]


@pytest.mark.parametrize(("payments", "expected"), CASES)
def test_unpaid(payments: list[tuple[str, int, int, int, int]], expected: int) -> None:
    assert unpaid(5000, payments) == expected
