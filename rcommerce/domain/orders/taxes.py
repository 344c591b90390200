"""Pure helpers that turn tax components into what an order stores: per-line component
dicts (``order_lines.tax_components``) and the order's summary by (name, rate,
jurisdiction) (``orders.tax_lines``). Shared by placement and order edits so that both
write the same shapes."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from rcommerce.plugins.providers import TaxComponent

__all__ = ["component_dicts", "tax_summary"]


def component_dicts(components: Iterable[TaxComponent]) -> list[dict[str, Any]]:
    """One dict per component, the rate as a plain decimal string ("0.0875")."""
    return [
        {"name": c.name, "rate": format(c.rate.normalize(), "f"), "amount": c.amount, "jurisdiction": c.jurisdiction,
         "rate_id": c.rate_id}
        for c in components
    ]  # fmt: skip


def tax_summary(components: Iterable[TaxComponent]) -> list[dict[str, Any]]:
    """Tax per (name, rate, jurisdiction) over the given components (lines, then
    shipping), in first-seen order."""
    sums: dict[tuple[str, Decimal, str], int] = {}
    for c in components:
        key = (c.name, c.rate, c.jurisdiction)
        sums[key] = sums.get(key, 0) + c.amount
    return [
        {"name": n, "rate": format(r.normalize(), "f"), "amount": a, "jurisdiction": j}
        for (n, r, j), a in sums.items()
    ]  # fmt: skip
