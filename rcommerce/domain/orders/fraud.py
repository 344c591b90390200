"""Built-in fraud rules and thresholds (core-domain §3.15, Ex6).

Rules add up to a score: ``high_value_order`` (+30 when the total reaches the threshold,
1,000.00 in the order currency by default), ``address_mismatch`` (+20 for each of country,
city and postal code that differ between billing and shipping) and, when switched on,
``new_customer_high_value`` (+50 for a first order at or above the threshold). With an
external provider the score is the mean of the rules' score and the provider's. Thresholds:
≥ 75 block, ≥ 50 review (the order goes ``on_hold``), ≥ 25 monitor, otherwise approve.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from rcommerce.money import from_decimal
from rcommerce.plugins.providers import Address


class Recommendation(enum.StrEnum):
    APPROVE = "approve"
    MONITOR = "monitor"
    REVIEW = "review"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class FraudSettings:
    high_value_threshold: Decimal = Decimal("1000.00")
    high_value_score: int = 30
    mismatch_score: int = 20
    new_customer_rule: bool = False
    new_customer_score: int = 50
    block_at: int = 75
    review_at: int = 50
    monitor_at: int = 25


@dataclass(frozen=True, slots=True)
class FraudInput:
    total: int  # minor units
    currency: str
    billing: Address | None = None
    shipping: Address | None = None
    customer_orders_count: int = 0


@dataclass(frozen=True, slots=True)
class RuleHit:
    rule: str
    score: int
    detail: str = ""


@dataclass(frozen=True, slots=True)
class FraudResult:
    score: int
    recommendation: Recommendation
    hits: tuple[RuleHit, ...] = field(default_factory=tuple)
    provider_score: int | None = None

    @property
    def reasons(self) -> list[str]:
        return [h.rule if not h.detail else f"{h.rule}:{h.detail}" for h in self.hits]


def _half_up(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


def _norm(value: str) -> str:
    return " ".join(value.split()).casefold()


def rule_hits(order: FraudInput, settings: FraudSettings = FraudSettings()) -> list[RuleHit]:
    hits: list[RuleHit] = []
    threshold = from_decimal(settings.high_value_threshold, order.currency)
    if order.total >= threshold:
        hits.append(RuleHit("high_value_order", settings.high_value_score))
    if order.billing is not None and order.shipping is not None:
        b, s = order.billing, order.shipping
        for name, left, right in (("country", b.country, s.country), ("city", b.city, s.city),
                                  ("postal_code", b.postal_code, s.postal_code)):  # fmt: skip
            if _norm(left) != _norm(right):
                hits.append(RuleHit("address_mismatch", settings.mismatch_score, name))
    if settings.new_customer_rule and order.customer_orders_count == 0 and order.total >= threshold:
        hits.append(RuleHit("new_customer_high_value", settings.new_customer_score))
    return hits


def recommend(score: int, settings: FraudSettings = FraudSettings()) -> Recommendation:
    if score >= settings.block_at:
        return Recommendation.BLOCK
    if score >= settings.review_at:
        return Recommendation.REVIEW
    if score >= settings.monitor_at:
        return Recommendation.MONITOR
    return Recommendation.APPROVE


def assess(
    order: FraudInput, settings: FraudSettings = FraudSettings(), provider_scores: Sequence[int] = ()
) -> FraudResult:
    """Score ``order`` with the built-in rules, averaged with external providers' scores.

    Several providers: their mean is averaged with the rules' score, so the rules always
    weigh half (core-domain §3.15 gives the one-provider case).
    """
    hits = tuple(rule_hits(order, settings))
    rules = sum(h.score for h in hits)
    if not provider_scores:
        return FraudResult(rules, recommend(rules, settings), hits)
    provider = _half_up(Decimal(sum(provider_scores)) / len(provider_scores))
    score = _half_up(Decimal(rules + provider) / 2)
    return FraudResult(score, recommend(score, settings), hits, provider)
