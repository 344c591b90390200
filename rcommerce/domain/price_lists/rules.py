"""The price resolution rule, pure so it can be tested without a database.

Among the price lists that apply to a line (active, inside their window, in the line's
currency, for everyone or for one of the customer's groups):

1. ``override`` lists win over ``sale`` lists, whatever their amounts: an override
   sets the price, even above the base price (a B2B contract price);
2. within a type, the lowest amount wins; on equal amounts the list with the smallest
   id (the oldest) wins, so the answer never depends on row order;
3. a ``sale`` price applies only when it is lower than the base price; otherwise the
   base price stays.

A variant without a base price in the currency is not priced at all: price lists
adjust a base price, they never invent one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

__all__ = ["Candidate", "PriceListStatus", "PriceListType", "UnitPrice", "is_live", "resolve"]


class PriceListType(enum.StrEnum):
    SALE = "sale"
    OVERRIDE = "override"


class PriceListStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class UnitPrice:
    """What a line is charged per unit, and where that price came from."""

    #: What the line is charged per unit, minor units.
    amount: int
    #: The variant's base price in this currency (before price lists).
    original_amount: int
    #: The price list that set ``amount``; "" when the base price applies.
    price_list_id: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A price of an applicable price list for one variant in the line's currency."""

    price_list_id: str
    type: PriceListType
    amount: int


def is_live(status: str, starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> bool:
    """True when a list is active and ``starts_at <= now < ends_at`` (open ends are unbounded)."""
    return (
        status == PriceListStatus.ACTIVE
        and (starts_at is None or starts_at <= now)
        and (ends_at is None or now < ends_at)
    )


def resolve(base_amount: int, candidates: Iterable[Candidate]) -> UnitPrice:
    """The unit price from the base price and the applicable lists' prices."""
    candidates = tuple(candidates)
    overrides = [c for c in candidates if c.type is PriceListType.OVERRIDE]
    if overrides:
        best = min(overrides, key=lambda c: (c.amount, c.price_list_id))
        return UnitPrice(best.amount, base_amount, best.price_list_id)
    sales = [c for c in candidates if c.type is PriceListType.SALE and c.amount < base_amount]
    if sales:
        best = min(sales, key=lambda c: (c.amount, c.price_list_id))
        return UnitPrice(best.amount, base_amount, best.price_list_id)
    return UnitPrice(base_amount, base_amount, "")
