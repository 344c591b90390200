"""Stock status, alert events and reorder quantities (core-domain 2.9, worked example 6)."""

from __future__ import annotations

import pytest

from rcommerce.domain.inventory.levels import (
    CRITICAL,
    IN_STOCK,
    LOW,
    OUT_OF_STOCK,
    alert_events,
    recommended_reorder_quantity,
    stock_status,
)
from rcommerce.domain.inventory.stock import Availability


@pytest.mark.parametrize(
    ("stock", "expected"),
    [
        # Worked example 6, threshold 20.
        (20, IN_STOCK),
        (15, LOW),
        (10, LOW),  # 10 is not < 10
        (9, CRITICAL),
        (5, CRITICAL),  # the WEB sample
        (0, OUT_OF_STOCK),
        # Around the edges.
        (21, IN_STOCK),
        (19, LOW),
        (1, CRITICAL),
        (-3, OUT_OF_STOCK),  # backorders under policy continue
    ],
)
def test_stock_status_with_threshold_20(stock: int, expected: str) -> None:
    assert stock_status(stock, 20) == expected


def test_odd_and_zero_thresholds() -> None:
    # T = 5: T/2 = 2.5, so 2 is critical and 3 is low.
    assert [stock_status(n, 5) for n in (0, 1, 2, 3, 4, 5)] == [OUT_OF_STOCK, CRITICAL, CRITICAL, LOW, LOW, IN_STOCK]
    # T = 0 disables low-stock alerts; only running out still counts.
    assert [stock_status(n, 0) for n in (0, 1)] == [OUT_OF_STOCK, IN_STOCK]


def test_recommended_reorder_quantity() -> None:
    assert recommended_reorder_quantity(5, 20) == 95  # the spec's sample: 5 x 20 - 5
    assert recommended_reorder_quantity(0, 20) == 100
    assert recommended_reorder_quantity(-4, 20) == 100  # backorders do not raise it further
    assert recommended_reorder_quantity(150, 20) == 0


@pytest.mark.parametrize(
    ("before", "after", "events"),
    [
        (IN_STOCK, IN_STOCK, ()),
        (LOW, LOW, ()),
        (IN_STOCK, LOW, ("inventory.low_stock",)),
        (LOW, CRITICAL, ("inventory.critical_stock",)),
        (CRITICAL, OUT_OF_STOCK, ("inventory.out_of_stock",)),
        (IN_STOCK, OUT_OF_STOCK, ("inventory.out_of_stock",)),
        (OUT_OF_STOCK, IN_STOCK, ("inventory.back_in_stock",)),
        (OUT_OF_STOCK, LOW, ("inventory.back_in_stock", "inventory.low_stock")),
        (CRITICAL, LOW, ("inventory.low_stock",)),
        (LOW, IN_STOCK, ("inventory.restocked",)),
    ],
)
def test_alert_events_fire_on_a_change_of_level_only(before: str, after: str, events: tuple[str, ...]) -> None:
    assert alert_events(before, after) == events


def test_can_sell() -> None:
    assert Availability("var_x", 3, "deny", True).can_sell(3)
    assert not Availability("var_x", 3, "deny", True).can_sell(4)
    assert Availability("var_x", 0, "continue", True).can_sell(50)
    assert Availability("var_x", 0, "deny", False).can_sell(50)
