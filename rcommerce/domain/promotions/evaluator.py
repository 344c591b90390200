"""The database-facing side of promotions for carts and checkout.

Loads promotions as :class:`~rcommerce.domain.promotions.engine.PromotionRule` values,
validates a code in the order of core-domain §3.6, evaluates a cart's promotions and
records usage with atomic limits. Every method takes the caller's ``AsyncSession`` so one
command stays one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.errors import invalid
from rcommerce.events import record_event
from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.ids import new_id

from . import errors as E
from .engine import (
    AppliedPromotion,
    CurrencyTerms,
    Failure,
    PromoContext,
    PromoLine,
    PromotionResult,
    PromotionRule,
    PromotionType,
    Targets,
    apply_promotions,
    choose_promotions,
    normalize_code,
    validation_failure,
)
from .models import (
    PromotionCurrencyRow,
    PromotionCustomerUsageRow,
    PromotionEligibilityRow,
    PromotionRow,
    PromotionTargetRow,
    PromotionUsageRow,
)

__all__ = [
    "AppliedPromotion",
    "PromoContext",
    "PromoLine",
    "PromotionEvaluator",
    "PromotionResult",
    "load_rules",
]


def _targets(rows: Sequence[PromotionTargetRow]) -> Targets:
    by_kind: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        by_kind[row.kind].add(row.target_id)
    return Targets(
        product_ids=frozenset(by_kind["product"]),
        collection_ids=frozenset(by_kind["collection"]),
        category_ids=frozenset(by_kind["category"]),
    )


async def load_rules(session: AsyncSession, where: ColumnElement[bool]) -> list[PromotionRule]:
    """The promotions matching ``where`` with their currencies, targets and eligibility."""
    rows = list((await session.scalars(select(PromotionRow).where(where).order_by(PromotionRow.created_at))).all())
    if not rows:
        return []
    ids = [row.id for row in rows]
    currencies: dict[str, dict[str, CurrencyTerms]] = defaultdict(dict)
    for c in await session.scalars(select(PromotionCurrencyRow).where(PromotionCurrencyRow.promotion_id.in_(ids))):
        currencies[c.promotion_id][c.currency_code] = CurrencyTerms(c.amount, c.max_discount, c.minimum_subtotal)
    includes: dict[str, list[PromotionTargetRow]] = defaultdict(list)
    excludes: dict[str, list[PromotionTargetRow]] = defaultdict(list)
    for t in await session.scalars(select(PromotionTargetRow).where(PromotionTargetRow.promotion_id.in_(ids))):
        (excludes if t.exclude else includes)[t.promotion_id].append(t)
    groups: dict[str, set[str]] = defaultdict(set)
    customers: dict[str, set[str]] = defaultdict(set)
    for e in await session.scalars(
        select(PromotionEligibilityRow).where(PromotionEligibilityRow.promotion_id.in_(ids))
    ):
        (groups if e.kind == "customer_group" else customers)[e.promotion_id].add(e.subject_id)
    return [
        PromotionRule(
            id=row.id,
            title=row.title,
            type=PromotionType(row.type),
            code=row.code or "",
            active=row.status == "active",
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            percent=row.percent,
            currencies=currencies[row.id],
            buy_quantity=row.buy_quantity,
            get_quantity=row.get_quantity,
            include=_targets(includes[row.id]),
            exclude=_targets(excludes[row.id]),
            usage_limit=row.usage_limit,
            usage_count=row.usage_count,
            usage_limit_per_customer=row.usage_limit_per_customer,
            new_customers_only=row.new_customers_only,
            customer_group_ids=frozenset(groups[row.id]),
            customer_ids=frozenset(customers[row.id]),
            combinable=row.combinable,
        )
        for row in rows
    ]


def _raise(failure: Failure) -> None:
    error = E.PromotionError(failure.reason, failure.message)
    error.metadata = dict(failure.metadata)
    raise error


class PromotionEvaluator:
    """Validates codes, evaluates a cart's promotions and records usage."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def _by_codes(self, session: AsyncSession, codes: Collection[str]) -> dict[str, PromotionRule]:
        if not codes:
            return {}
        return {rule.code: rule for rule in await load_rules(session, PromotionRow.code.in_(list(codes)))}

    async def _customer_usage(
        self, session: AsyncSession, promotion_ids: Collection[str], customer_id: str
    ) -> dict[str, int]:
        if not customer_id or not promotion_ids:
            return {}
        rows = await session.scalars(
            select(PromotionCustomerUsageRow).where(
                PromotionCustomerUsageRow.customer_id == customer_id,
                PromotionCustomerUsageRow.promotion_id.in_(list(promotion_ids)),
            )
        )
        return {row.promotion_id: row.usage_count for row in rows}

    async def validate_code(self, session: AsyncSession, code: str, ctx: PromoContext) -> None:
        """Raise the first failed check of core-domain §3.6 for applying ``code`` to the cart.

        ``ctx.codes`` are the codes already on the cart; the checks run in this order:
        COUPON_NOT_FOUND, COUPON_INACTIVE, COUPON_NOT_STARTED, COUPON_EXPIRED,
        COUPON_USAGE_LIMIT, COUPON_CUSTOMER_LIMIT, COUPON_NEW_CUSTOMERS_ONLY /
        COUPON_CUSTOMER_NOT_ELIGIBLE, COUPON_CURRENCY_NOT_SUPPORTED, COUPON_MINIMUM_NOT_MET,
        COUPON_PRODUCT_NOT_ELIGIBLE, COUPON_CANNOT_COMBINE, COUPON_ALREADY_APPLIED.
        """
        await self.check_code(session, code, ctx)

    async def check_code(self, session: AsyncSession, code: str, ctx: PromoContext) -> PromotionRule:
        """:meth:`validate_code` that also returns the code's promotion."""
        normalized = normalize_code(code)
        if not normalized:
            raise invalid("code", "a coupon code is required")
        rules = await self._by_codes(session, {normalized, *ctx.codes})
        rule = rules.get(normalized)
        if rule is None:
            raise E.PromotionError(E.COUPON_NOT_FOUND, f"No promotion has the code {normalized}.", code=normalized)
        usage = await self._customer_usage(session, [rule.id], ctx.customer_id)
        others = [rules[c] for c in ctx.codes if c != normalized and c in rules]
        failure = validation_failure(
            rule,
            ctx,
            self._clock.now(),
            customer_usage=usage.get(rule.id, 0),
            other_codes=others,
            already_applied=normalized in ctx.codes,
        )
        if failure is not None:
            _raise(failure)
        return rule

    async def evaluate(self, session: AsyncSession, ctx: PromoContext) -> PromotionResult:
        """Which promotions apply to the cart and the discount of each line.

        Codes that no longer apply are reported in ``rejected`` with their reason name; the
        cart decides whether to drop them. See ``engine.choose_promotions`` for stacking.
        """
        now = self._clock.now()
        by_code = await self._by_codes(session, set(ctx.codes))
        automatic = await load_rules(session, (PromotionRow.code.is_(None)) & (PromotionRow.status == "active"))
        usage = await self._customer_usage(
            session, [r.id for r in by_code.values()] + [r.id for r in automatic], ctx.customer_id
        )
        rejected: list[tuple[str, str]] = []
        valid_codes: list[PromotionRule] = []
        seen: set[str] = set()
        for code in ctx.codes:
            rule = by_code.get(code)
            if code in seen:
                rejected.append((code, E.COUPON_ALREADY_APPLIED.name))
                continue
            seen.add(code)
            if rule is None:
                rejected.append((code, E.COUPON_NOT_FOUND.name))
                continue
            failure = validation_failure(rule, ctx, now, customer_usage=usage.get(rule.id, 0))
            if failure is not None:
                rejected.append((code, failure.reason.name))
            else:
                valid_codes.append(rule)
        valid_automatic = [
            rule
            for rule in automatic
            if validation_failure(rule, ctx, now, customer_usage=usage.get(rule.id, 0)) is None
        ]
        chosen, dropped = choose_promotions(valid_codes, valid_automatic, ctx)
        rejected.extend((rule.code, E.COUPON_CANNOT_COMBINE.name) for rule in dropped)
        totals, applied = apply_promotions(chosen, ctx)
        return PromotionResult(
            line_discounts=totals,
            applied=tuple(applied),
            free_shipping=any(a.free_shipping for a in applied),
            rejected=tuple(rejected),
        )

    async def record_usage(
        self,
        session: AsyncSession,
        *,
        promotion_ids: Sequence[str],
        customer_id: str,
        order_id: str,
        amounts: Mapping[str, int],
        currency: str = "",
    ) -> None:
        """Count one use of each promotion by ``order_id`` (checkout calls it in the order's transaction).

        Limits hold under concurrency: the total counter moves with
        ``UPDATE ... SET usage_count = usage_count + 1 WHERE usage_count < usage_limit`` and the
        per-customer counter the same way, so no limit can be overshot; a use beyond a limit
        raises COUPON_USAGE_LIMIT or COUPON_CUSTOMER_LIMIT and the caller's transaction rolls
        back. Recording the same order twice counts once.
        """
        now = self._clock.now()
        for promotion_id in dict.fromkeys(promotion_ids):
            existing = await session.scalar(
                select(PromotionUsageRow.id).where(
                    PromotionUsageRow.promotion_id == promotion_id, PromotionUsageRow.order_id == order_id
                )
            )
            if existing is not None:
                continue
            row = await session.get(PromotionRow, promotion_id)
            if row is None:
                raise E.PromotionError(
                    E.PROMOTION_NOT_FOUND, f"Promotion {promotion_id} does not exist.", promotionId=promotion_id
                )
            label = row.code or row.title
            bumped = await session.execute(
                update(PromotionRow)
                .where(
                    PromotionRow.id == promotion_id,
                    or_(PromotionRow.usage_limit.is_(None), PromotionRow.usage_count < PromotionRow.usage_limit),
                )
                .values(usage_count=PromotionRow.usage_count + 1)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(bumped) != 1:
                raise E.PromotionError(
                    E.COUPON_USAGE_LIMIT,
                    f"{label} has reached its usage limit of {row.usage_limit}.",
                    code=row.code or "",
                    usageLimit=row.usage_limit,
                )
            if customer_id:
                await self._bump_customer(session, row, customer_id, label)
            session.add(
                PromotionUsageRow(
                    id=new_id("prus", now),
                    promotion_id=promotion_id,
                    customer_id=customer_id,
                    order_id=order_id,
                    currency_code=currency,
                    amount=amounts.get(promotion_id, 0),
                    used_at=now,
                )
            )
            subject = P.Promotion(name=f"promotions/{row.id}", id=row.id, code=row.code or "", title=row.title)
            record_event(
                session, "promotion.used", subject.name, subject, now,
                orderId=order_id, customerId=customer_id, amount=amounts.get(promotion_id, 0), currency=currency,
            )  # fmt: skip
        await session.flush()

    async def _bump_customer(self, session: AsyncSession, row: PromotionRow, customer_id: str, label: str) -> None:
        values: dict[str, Any] = {"promotion_id": row.id, "customer_id": customer_id, "usage_count": 0}
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            await session.execute(pg_insert(PromotionCustomerUsageRow).values(values).on_conflict_do_nothing())
        elif dialect in ("mysql", "mariadb"):
            await session.execute(mysql_insert(PromotionCustomerUsageRow).values(values).prefix_with("IGNORE"))
        else:
            await session.execute(sqlite_insert(PromotionCustomerUsageRow).values(values).on_conflict_do_nothing())
        condition: list[ColumnElement[bool]] = [
            PromotionCustomerUsageRow.promotion_id == row.id,
            PromotionCustomerUsageRow.customer_id == customer_id,
        ]
        if row.usage_limit_per_customer is not None:
            condition.append(PromotionCustomerUsageRow.usage_count < row.usage_limit_per_customer)
        bumped = await session.execute(
            update(PromotionCustomerUsageRow)
            .where(*condition)
            .values(usage_count=PromotionCustomerUsageRow.usage_count + 1)
            .execution_options(synchronize_session=False)
        )
        if _rowcount(bumped) != 1:
            raise E.PromotionError(
                E.COUPON_CUSTOMER_LIMIT,
                f"{label} can be used {row.usage_limit_per_customer} time(s) per customer.",
                code=row.code or "",
                usageLimitPerCustomer=row.usage_limit_per_customer,
            )


def _rowcount(result: object) -> int:
    return int(getattr(result, "rowcount", 0))
