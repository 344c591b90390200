"""Pure stock rules: the stock status of an available quantity and the alerts it raises
(core-domain 2.9, worked example 6).

With threshold T: in stock when available >= T; low when T/2 <= available < T; critical
when 0 < available < T/2; out of stock when available <= 0. For T = 20: 20 in stock,
15 and 10 low (10 is not < 10), 9 critical, 0 out of stock.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALERT_LEVELS",
    "CRITICAL",
    "IN_STOCK",
    "LOW",
    "OUT_OF_STOCK",
    "alert_events",
    "recommended_reorder_quantity",
    "stock_status",
]

IN_STOCK: Final = "in_stock"
LOW: Final = "low"
CRITICAL: Final = "critical"
OUT_OF_STOCK: Final = "out_of_stock"
#: Statuses that raise an alert, in rising severity.
ALERT_LEVELS: Final = (LOW, CRITICAL, OUT_OF_STOCK)

_EVENTS: Final = {
    LOW: "inventory.low_stock",
    CRITICAL: "inventory.critical_stock",
    OUT_OF_STOCK: "inventory.out_of_stock",
}


def stock_status(available: int, threshold: int) -> str:
    """The status of ``available`` units against the low-stock ``threshold`` (units)."""
    if available <= 0:
        return OUT_OF_STOCK
    if available >= threshold:
        return IN_STOCK
    # 2 * available < threshold is "available < threshold / 2" without fractions.
    return CRITICAL if 2 * available < threshold else LOW


def recommended_reorder_quantity(available: int, threshold: int) -> int:
    """Units to reorder: ``5 * threshold - available``, never negative. The spec's only
    sample (stock 5, threshold 20 -> 95) fits this formula; it is documented as ours."""
    return max(0, 5 * threshold - max(0, available))


def alert_events(before: str, after: str) -> tuple[str, ...]:
    """The events a status change emits; none when the status did not change.

    Leaving out of stock emits ``inventory.back_in_stock``; entering low, critical or
    out of stock emits ``inventory.low_stock``, ``inventory.critical_stock`` or
    ``inventory.out_of_stock``; recovering from low or critical to in stock emits
    ``inventory.restocked``. Out of stock -> low emits back_in_stock then low_stock.
    """
    if before == after:
        return ()
    events: list[str] = []
    if before == OUT_OF_STOCK:
        events.append("inventory.back_in_stock")
    if after in _EVENTS:
        events.append(_EVENTS[after])
    elif before != OUT_OF_STOCK:
        events.append("inventory.restocked")
    return tuple(events)
