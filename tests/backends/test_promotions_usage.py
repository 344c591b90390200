"""Usage limits hold under concurrency on every database: the counters move with
conditional UPDATEs, so concurrent checkouts can never overshoot a limit."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import func, select

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.customers.directory import CustomerDirectory
from rcommerce.domain.promotions.errors import PromotionError
from rcommerce.domain.promotions.evaluator import PromotionEvaluator
from rcommerce.domain.promotions.models import PromotionCustomerUsageRow, PromotionRow, PromotionUsageRow
from rcommerce.domain.promotions.service import PromotionService
from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.pagination import PageTokens

NOW = datetime(2026, 5, 1, 9, tzinfo=UTC)


async def _promotion(db: Database, clock: FrozenClock, **fields: int) -> str:
    service = PromotionService(db, clock, PageTokens(b"u" * 32), CustomerDirectory(clock))
    code = f"U{uuid.uuid4().hex[:12]}".upper()
    created = await service.create_promotion(
        P.Promotion(code=code, title="Limited", type=P.PROMOTION_TYPE_PERCENTAGE, percent="10", **fields)  # type: ignore[arg-type]
    )
    return created.id


async def _race(db: Database, evaluator: PromotionEvaluator, promotion_id: str, customers: list[str]) -> list[str]:
    """Record one use per customer concurrently; returns "ok" or the reason name of each."""

    async def one(i: int, customer_id: str) -> str:
        try:
            async with db.transaction() as s:
                await evaluator.record_usage(
                    s, promotion_ids=[promotion_id], customer_id=customer_id, order_id=f"ord_{i}",
                    amounts={promotion_id: 100}, currency="USD",
                )  # fmt: skip
        except PromotionError as exc:
            return exc.reason.name
        return "ok"

    return list(await asyncio.gather(*(one(i, c) for i, c in enumerate(customers))))


async def _counts(db: Database, promotion_id: str) -> tuple[int, int]:
    async with db.read() as s:
        counter = await s.scalar(select(PromotionRow.usage_count).where(PromotionRow.id == promotion_id))
        rows = await s.scalar(select(func.count()).where(PromotionUsageRow.promotion_id == promotion_id))
    return int(counter or 0), int(rows or 0)


async def test_twenty_concurrent_uses_at_limit_five_record_exactly_five(db: Database) -> None:
    clock = FrozenClock(NOW)
    promotion_id = await _promotion(db, clock, usage_limit=5)
    outcomes = await _race(db, PromotionEvaluator(clock), promotion_id, [f"cus_{i}" for i in range(20)])
    assert outcomes.count("ok") == 5
    assert outcomes.count("COUPON_USAGE_LIMIT") == 15
    assert await _counts(db, promotion_id) == (5, 5)


async def test_concurrent_uses_by_one_customer_respect_the_per_customer_limit(db: Database) -> None:
    clock = FrozenClock(NOW)
    promotion_id = await _promotion(db, clock, usage_limit_per_customer=2)
    outcomes = await _race(db, PromotionEvaluator(clock), promotion_id, ["cus_same"] * 10)
    assert outcomes.count("ok") == 2
    assert outcomes.count("COUPON_CUSTOMER_LIMIT") == 8
    # The total counter rolled back with every refused use.
    assert await _counts(db, promotion_id) == (2, 2)
    async with db.read() as s:
        per_customer = await s.scalar(
            select(PromotionCustomerUsageRow.usage_count).where(PromotionCustomerUsageRow.promotion_id == promotion_id)
        )
    assert per_customer == 2
