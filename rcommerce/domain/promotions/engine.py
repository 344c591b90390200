"""Pure promotion rules: eligibility, validation order, discount amounts, allocation, stacking.

Nothing here touches the database or the clock: the evaluator loads :class:`PromotionRule`
values and passes ``now``. Amounts are minor units; percentages are percents (``20`` = 20 %).

Rules (core-domain §4.1, DECISIONS 12-13):

* R5 eligible base: lines matching an include target (product, collection or category; no
  include target = every line) minus lines matching an exclude target.
* R6 minimum subtotal: the cart subtotal before discounts must reach the minimum of the
  cart's currency (equality passes).
* R7 percentage: ``round_half_up(base * percent / 100)``, capped by the currency's cap.
* R8 fixed amount: ``min(amount in the cart's currency, base)``.
* R9 free shipping: a flag; the cart pipeline sets the shipping discount.
* R10 buy X get Y: qualifying units form groups of X + Y; per group the Y cheapest
  qualifying units get ``get_percent`` off (100 = free).
* Allocation: pro rata by eligible line amount, each share rounded down, the remainder
  cents to the largest line (DECISIONS 12). Buy X get Y discounts land on the lines of the
  discounted units.
* Stacking: promotions apply one after the other on what earlier ones left of each line, so
  a line's discount never exceeds its subtotal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from rcommerce.errors import Reason

from . import errors as E

__all__ = [
    "AppliedPromotion",
    "CurrencyTerms",
    "Failure",
    "PromoContext",
    "PromoLine",
    "PromotionResult",
    "PromotionRule",
    "PromotionType",
    "Targets",
    "allocate",
    "apply_promotions",
    "choose_promotions",
    "compute",
    "eligible_lines",
    "normalize_code",
    "validation_failure",
]


class PromotionType(StrEnum):
    PERCENTAGE = "percentage"
    FIXED_AMOUNT = "fixed_amount"
    FREE_SHIPPING = "free_shipping"
    BUY_X_GET_Y = "buy_x_get_y"


@dataclass(frozen=True, slots=True)
class PromoLine:
    line_id: str
    product_id: str
    variant_id: str
    quantity: int
    unit_price: int
    subtotal: int  # unit_price * quantity
    collection_ids: frozenset[str] = frozenset()
    category_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class PromoContext:
    currency: str
    lines: tuple[PromoLine, ...]
    codes: tuple[str, ...]  # coupon codes on the cart, upper-cased, in application order
    customer_id: str = ""
    customer_group_ids: frozenset[str] = frozenset()
    is_new_customer: bool = True

    @property
    def subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines)


@dataclass(frozen=True, slots=True)
class AppliedPromotion:
    promotion_id: str
    code: str  # "" for automatic promotions
    title: str
    amount: int  # total discount on lines
    free_shipping: bool


@dataclass(frozen=True, slots=True)
class PromotionResult:
    line_discounts: Mapping[str, int]  # line_id -> discount minor units (allocated)
    applied: tuple[AppliedPromotion, ...]
    free_shipping: bool
    rejected: tuple[tuple[str, str], ...]  # (code, reason name) for codes that no longer apply

    @property
    def total_discount(self) -> int:
        return sum(self.line_discounts.values())


@dataclass(frozen=True, slots=True)
class Targets:
    """Products, collections and categories a promotion includes or excludes."""

    product_ids: frozenset[str] = frozenset()
    collection_ids: frozenset[str] = frozenset()
    category_ids: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.product_ids or self.collection_ids or self.category_ids)

    def matches(self, line: PromoLine) -> bool:
        return (
            line.product_id in self.product_ids
            or bool(line.collection_ids & self.collection_ids)
            or bool(line.category_ids & self.category_ids)
        )


@dataclass(frozen=True, slots=True)
class CurrencyTerms:
    """Per-currency amounts of a promotion: fixed amount, percentage cap, minimum subtotal."""

    amount: int | None = None
    max_discount: int | None = None
    minimum_subtotal: int | None = None


@dataclass(frozen=True, slots=True)
class PromotionRule:
    """Everything the rules need to know about one promotion (loaded by the evaluator)."""

    id: str
    title: str
    type: PromotionType
    code: str = ""  # "" for automatic promotions
    active: bool = True
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    percent: Decimal = Decimal(0)  # percentage: percent off; buy X get Y: percent off the Y units
    currencies: Mapping[str, CurrencyTerms] = field(default_factory=dict)
    buy_quantity: int = 0
    get_quantity: int = 0
    include: Targets = Targets()
    exclude: Targets = Targets()
    usage_limit: int | None = None
    usage_count: int = 0
    usage_limit_per_customer: int | None = None
    new_customers_only: bool = False
    customer_group_ids: frozenset[str] = frozenset()
    customer_ids: frozenset[str] = frozenset()
    combinable: bool = False

    @property
    def automatic(self) -> bool:
        return not self.code


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a promotion does not apply: a reason, a message and metadata for the client."""

    reason: Reason
    message: str
    metadata: Mapping[str, str] = field(default_factory=dict)


def normalize_code(code: str) -> str:
    """Codes are stored and compared upper-cased, without surrounding blanks."""
    return code.strip().upper()


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def eligible_lines(rule: PromotionRule, lines: Iterable[PromoLine]) -> list[PromoLine]:
    """R5: lines matching an include target (all lines when there is none), minus excluded ones."""
    return [
        line for line in lines if (not rule.include or rule.include.matches(line)) and not rule.exclude.matches(line)
    ]


def validation_failure(
    rule: PromotionRule,
    ctx: PromoContext,
    now: datetime,
    *,
    customer_usage: int = 0,
    other_codes: Sequence[PromotionRule] = (),
    already_applied: bool = False,
) -> Failure | None:
    """The first failed check of core-domain §3.6, in its order, or ``None`` when the promotion applies.

    ``other_codes`` are the promotions of the other codes on the cart (for the combinability
    check); ``already_applied`` says whether this very code is already on the cart.
    """
    label = rule.code or rule.title
    if not rule.active:
        return Failure(E.COUPON_INACTIVE, f"{label} is not active.", {"code": rule.code})
    if rule.starts_at is not None and now < rule.starts_at:
        return Failure(
            E.COUPON_NOT_STARTED, f"{label} starts at {rule.starts_at.isoformat()}.",
            {"code": rule.code, "startsAt": rule.starts_at.isoformat()},
        )  # fmt: skip
    if rule.ends_at is not None and now > rule.ends_at:
        return Failure(
            E.COUPON_EXPIRED, f"{label} expired at {rule.ends_at.isoformat()}.",
            {"code": rule.code, "endsAt": rule.ends_at.isoformat()},
        )  # fmt: skip
    if rule.usage_limit is not None and rule.usage_count >= rule.usage_limit:
        return Failure(
            E.COUPON_USAGE_LIMIT, f"{label} has reached its usage limit of {rule.usage_limit}.",
            {"code": rule.code, "usageLimit": str(rule.usage_limit)},
        )  # fmt: skip
    if (
        rule.usage_limit_per_customer is not None
        and ctx.customer_id
        and customer_usage >= rule.usage_limit_per_customer
    ):
        return Failure(
            E.COUPON_CUSTOMER_LIMIT,
            f"{label} can be used {rule.usage_limit_per_customer} time(s) per customer.",
            {"code": rule.code, "usageLimitPerCustomer": str(rule.usage_limit_per_customer)},
        )
    if rule.new_customers_only and not ctx.is_new_customer:
        return Failure(E.COUPON_NEW_CUSTOMERS_ONLY, f"{label} is for new customers only.", {"code": rule.code})
    if (rule.customer_group_ids or rule.customer_ids) and not (
        (ctx.customer_id and ctx.customer_id in rule.customer_ids) or (ctx.customer_group_ids & rule.customer_group_ids)
    ):
        return Failure(
            E.COUPON_CUSTOMER_NOT_ELIGIBLE, f"{label} is not available to this customer.", {"code": rule.code}
        )
    terms = rule.currencies.get(ctx.currency, CurrencyTerms())
    if rule.type is PromotionType.FIXED_AMOUNT and terms.amount is None:
        return Failure(
            E.COUPON_CURRENCY_NOT_SUPPORTED, f"{label} has no amount in {ctx.currency}.",
            {"code": rule.code, "currency": ctx.currency},
        )  # fmt: skip
    if terms.minimum_subtotal is not None and ctx.subtotal < terms.minimum_subtotal:
        return Failure(
            E.COUPON_MINIMUM_NOT_MET,
            f"{label} needs a subtotal of at least {terms.minimum_subtotal} {ctx.currency} minor units; "
            f"the cart has {ctx.subtotal}.",
            {
                "code": rule.code,
                "currency": ctx.currency,
                "minimumRequired": str(terms.minimum_subtotal),
                "currentAmount": str(ctx.subtotal),
            },
        )
    if not eligible_lines(rule, ctx.lines):
        return Failure(
            E.COUPON_PRODUCT_NOT_ELIGIBLE, f"No line of the cart is eligible for {label}.", {"code": rule.code}
        )
    others = [other for other in other_codes if other.id != rule.id]
    if others and (not rule.combinable or not all(other.combinable for other in others)):
        blocking = next((o.code for o in others if not o.combinable), rule.code)
        return Failure(
            E.COUPON_CANNOT_COMBINE,
            f"{label} cannot be combined with the codes already applied.",
            {"code": rule.code, "conflictingCode": blocking},
        )
    if already_applied:
        return Failure(E.COUPON_ALREADY_APPLIED, f"{label} is already applied.", {"code": rule.code})
    return None


def allocate(amount: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Split ``amount`` over lines pro rata to ``weights`` (their eligible amounts).

    Each share is rounded down and the remainder goes to the largest line (DECISIONS 12);
    a share never exceeds its line's weight (the overflow moves to the next largest line).
    """
    total = sum(w for w in weights.values() if w > 0)
    positive = {line_id: w for line_id, w in weights.items() if w > 0}
    if amount <= 0 or total <= 0:
        return {}
    amount = min(amount, total)
    shares = {line_id: amount * w // total for line_id, w in positive.items()}
    remainder = amount - sum(shares.values())
    # Largest first; ties keep the lines' order (stable sort).
    for line_id in sorted(positive, key=lambda i: -positive[i]):
        if remainder <= 0:
            break
        room = positive[line_id] - shares[line_id]
        extra = min(room, remainder)
        shares[line_id] += extra
        remainder -= extra
    return {line_id: share for line_id, share in shares.items() if share > 0}


def compute(rule: PromotionRule, ctx: PromoContext, remaining: Mapping[str, int]) -> dict[str, int]:
    """The discount of ``rule`` per line, given what is ``remaining`` of each line's amount."""
    lines = [line for line in eligible_lines(rule, ctx.lines) if remaining.get(line.line_id, 0) > 0]
    weights = {line.line_id: remaining[line.line_id] for line in lines}
    base = sum(weights.values())
    terms = rule.currencies.get(ctx.currency, CurrencyTerms())
    if rule.type is PromotionType.PERCENTAGE:
        amount = _half_up(Decimal(base) * rule.percent / 100)
        if terms.max_discount is not None:
            amount = min(amount, terms.max_discount)
        return allocate(amount, weights)
    if rule.type is PromotionType.FIXED_AMOUNT:
        return allocate(min(terms.amount or 0, base), weights)
    if rule.type is PromotionType.BUY_X_GET_Y:
        return _buy_x_get_y(rule, lines, remaining)
    return {}


def _buy_x_get_y(rule: PromotionRule, lines: Sequence[PromoLine], remaining: Mapping[str, int]) -> dict[str, int]:
    """R10 per DECISIONS 13: groups of X + Y qualifying units; the Y cheapest of each group's
    worth of units get ``percent`` off. With P at 10.00, buy 2 get 1: qty 2 -> 0, 3 -> 10.00,
    4 -> 10.00, 6 -> 20.00."""
    group = rule.buy_quantity + rule.get_quantity
    if rule.buy_quantity <= 0 or rule.get_quantity <= 0:
        return {}
    units = sum(line.quantity for line in lines)
    free_units = (units // group) * rule.get_quantity
    discounts: dict[str, int] = {}
    for line in sorted(lines, key=lambda line: line.unit_price):  # cheapest units first
        if free_units <= 0:
            break
        take = min(line.quantity, free_units)
        free_units -= take
        amount = min(_half_up(Decimal(line.unit_price * take) * rule.percent / 100), remaining[line.line_id])
        if amount > 0:
            discounts[line.line_id] = amount
    return discounts


def apply_promotions(
    rules: Sequence[PromotionRule], ctx: PromoContext
) -> tuple[dict[str, int], list[AppliedPromotion]]:
    """Apply ``rules`` in order on what earlier ones left; returns line discounts and the applied list."""
    remaining = {line.line_id: line.subtotal for line in ctx.lines}
    totals: dict[str, int] = {}
    applied: list[AppliedPromotion] = []
    for rule in rules:
        discounts = compute(rule, ctx, remaining)
        for line_id, amount in discounts.items():
            remaining[line_id] -= amount
            totals[line_id] = totals.get(line_id, 0) + amount
        applied.append(
            AppliedPromotion(
                promotion_id=rule.id,
                code=rule.code,
                title=rule.title,
                amount=sum(discounts.values()),
                free_shipping=rule.type is PromotionType.FREE_SHIPPING,
            )
        )
    return totals, applied


def choose_promotions(
    codes: Sequence[PromotionRule], automatic: Sequence[PromotionRule], ctx: PromoContext
) -> tuple[list[PromotionRule], list[PromotionRule]]:
    """Pick what applies among valid ``codes`` (in cart order) and valid ``automatic`` promotions.

    * Codes: the first one applies; each later one applies only if it and every code kept so
      far are combinable (DECISIONS 13). The others are dropped (``COUPON_CANNOT_COMBINE``).
    * Combinable automatic promotions stack with each other and with the codes when every kept
      code is combinable.
    * A non-combinable automatic promotion applies alone. It competes with the combination
      above and the customer gets the larger discount (best for the customer); on a tie the
      codes win, then free shipping, then the earlier promotion.

    Returns ``(applied rules in order, codes dropped for not combining)``.
    """
    kept: list[PromotionRule] = []
    dropped: list[PromotionRule] = []
    for rule in codes:
        if not kept or (rule.combinable and all(k.combinable for k in kept)):
            kept.append(rule)
        else:
            dropped.append(rule)
    stackable = [rule for rule in automatic if rule.combinable]
    combination = kept + stackable if all(k.combinable for k in kept) else list(kept)

    def score(option: Sequence[PromotionRule]) -> tuple[int, bool]:
        totals, applied = apply_promotions(option, ctx)
        return sum(totals.values()), any(a.free_shipping for a in applied)

    best, best_score = combination, score(combination)
    for rule in automatic:
        if rule.combinable:
            continue
        candidate = score([rule])
        if candidate > best_score:
            best, best_score = [rule], candidate
    if best is not combination:
        dropped = dropped + kept
    return best, dropped
