"""Keep an order's tax transactions and promotion usage in step with an edit, in the
edit's transaction (core-domain §3.10).

* tax: the order's tax transactions are replaced by the edited result (the rows of the
  placement are deleted, the new ones recorded with ``record_tax_lines``, period of the
  edit), so tax reports always show what the order charges now;
* promotions: a promotion the edit adds is counted with
  ``PromotionEvaluator.record_usage`` (atomic limits: COUPON_USAGE_LIMIT /
  COUPON_CUSTOMER_LIMIT roll the edit back); one the edit drops gives its use back
  (usage row deleted, total and per-customer counters decremented, never below zero,
  ``promotion.usage_released``); one kept has its usage amount updated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.orders.convert import provider_address
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.promotions.evaluator import PromotionEvaluator
from rcommerce.domain.promotions.models import PromotionCustomerUsageRow, PromotionRow, PromotionUsageRow
from rcommerce.domain.tax.models import TaxTransactionRow
from rcommerce.domain.tax.transactions import record_tax_lines
from rcommerce.events import record_event
from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.plugins.providers import TaxResult

__all__ = ["sync_promotion_usage", "sync_tax_transactions"]


async def sync_tax_transactions(session: AsyncSession, order: OrderRow, tax: TaxResult, *, now: datetime) -> None:
    """Replace the order's tax transactions with ``tax`` (whose line ids are order line ids)."""
    await session.execute(delete(TaxTransactionRow).where(TaxTransactionRow.order_id == order.id))
    destination = provider_address(order.shipping_address)
    if destination is None or not tax.lines:
        return
    await record_tax_lines(
        session, order.id, {line.line_id: line.line_id for line in tax.lines}, tax, currency=order.currency,
        destination=destination, now=now, shipping_amount=order.shipping_total - order.shipping_discount,
        prices_include_tax=order.prices_include_tax,
    )  # fmt: skip


def _amounts(promotions: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {str(p["promotion_id"]): int(p.get("amount", 0) or 0) for p in promotions}


async def sync_promotion_usage(
    session: AsyncSession,
    evaluator: PromotionEvaluator,
    order: OrderRow,
    before: Sequence[Mapping[str, Any]],
    after: Sequence[Mapping[str, Any]],
    *,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """Record usage of promotions in ``after`` but not ``before``, release those only in
    ``before``; returns (added, released) promotion ids."""
    old, new = _amounts(before), _amounts(after)
    added = [pid for pid in new if pid not in old]
    released = [pid for pid in old if pid not in new]
    if added:
        await evaluator.record_usage(
            session, promotion_ids=added, customer_id=order.customer_id, order_id=order.id,
            amounts={pid: new[pid] for pid in added}, currency=order.currency,
        )  # fmt: skip
    for pid in released:
        await _release(session, pid, order, now)
    for pid, amount in new.items():
        if pid in old and old[pid] != amount:
            await session.execute(
                update(PromotionUsageRow)
                .where(PromotionUsageRow.promotion_id == pid, PromotionUsageRow.order_id == order.id)
                .values(amount=amount)
                .execution_options(synchronize_session=False)
            )
    return added, released


async def _release(session: AsyncSession, promotion_id: str, order: OrderRow, now: datetime) -> None:
    usage = await session.scalar(
        select(PromotionUsageRow).where(
            PromotionUsageRow.promotion_id == promotion_id, PromotionUsageRow.order_id == order.id
        )
    )
    if usage is None:  # never counted (an order placed before usage was recorded): nothing to give back
        return
    customer_id = usage.customer_id
    await session.delete(usage)
    await session.execute(
        update(PromotionRow)
        .where(PromotionRow.id == promotion_id, PromotionRow.usage_count > 0)
        .values(usage_count=PromotionRow.usage_count - 1)
        .execution_options(synchronize_session=False)
    )
    if customer_id:
        await session.execute(
            update(PromotionCustomerUsageRow)
            .where(
                PromotionCustomerUsageRow.promotion_id == promotion_id,
                PromotionCustomerUsageRow.customer_id == customer_id,
                PromotionCustomerUsageRow.usage_count > 0,
            )
            .values(usage_count=PromotionCustomerUsageRow.usage_count - 1)
            .execution_options(synchronize_session=False)
        )
    row = await session.get(PromotionRow, promotion_id)
    subject = P.Promotion(
        name=f"promotions/{promotion_id}", id=promotion_id, code=(row.code or "") if row else "",
        title=row.title if row else "",
    )  # fmt: skip
    record_event(
        session, "promotion.usage_released", subject.name, subject, now, orderId=order.id, customerId=customer_id,
    )  # fmt: skip
    await session.flush()
