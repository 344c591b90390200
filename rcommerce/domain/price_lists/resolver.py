"""Resolves what a variant costs for a customer right now (used when a cart line is priced).

Two queries whatever the number of variants: the base prices from the catalog's
``variant_prices``, then every applicable price-list price. The choice among them is the
pure rule in :mod:`rcommerce.domain.price_lists.rules`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.domain.catalog.models import VariantPriceRow
from rcommerce.domain.price_lists.models import PriceListCustomerGroupRow, PriceListPriceRow, PriceListRow
from rcommerce.domain.price_lists.rules import Candidate, PriceListStatus, PriceListType, UnitPrice, resolve

__all__ = ["PriceResolver", "UnitPrice"]


class PriceResolver:
    """Unit prices of variants in a currency for a customer's groups, at the clock's now."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def unit_prices(
        self,
        session: AsyncSession,
        variant_ids: Collection[str],
        currency: str,
        customer_group_ids: frozenset[str],
    ) -> dict[str, UnitPrice]:
        """``variant id -> UnitPrice``; variants without a base price in ``currency`` are absent."""
        ids = sorted(set(variant_ids))
        if not ids:
            return {}
        base_rows = await session.execute(
            select(VariantPriceRow.variant_id, VariantPriceRow.amount).where(
                VariantPriceRow.variant_id.in_(ids), VariantPriceRow.currency_code == currency
            )
        )
        base = {variant_id: amount for variant_id, amount in base_rows}
        if not base:
            return {}
        now = self._clock.now()
        restricted = exists().where(PriceListCustomerGroupRow.price_list_id == PriceListRow.id)
        audience = ~restricted
        if customer_group_ids:
            audience = or_(
                audience,
                exists().where(
                    PriceListCustomerGroupRow.price_list_id == PriceListRow.id,
                    PriceListCustomerGroupRow.customer_group_id.in_(sorted(customer_group_ids)),
                ),
            )
        rows = await session.execute(
            select(PriceListPriceRow.variant_id, PriceListRow.id, PriceListRow.type, PriceListPriceRow.amount)
            .join(PriceListRow, PriceListRow.id == PriceListPriceRow.price_list_id)
            .where(
                PriceListPriceRow.variant_id.in_(sorted(base)),
                PriceListPriceRow.currency_code == currency,
                PriceListRow.status == PriceListStatus.ACTIVE.value,
                or_(PriceListRow.starts_at.is_(None), PriceListRow.starts_at <= now),
                or_(PriceListRow.ends_at.is_(None), PriceListRow.ends_at > now),
                audience,
            )
        )
        candidates: dict[str, list[Candidate]] = defaultdict(list)
        for variant_id, list_id, list_type, amount in rows:
            candidates[variant_id].append(Candidate(list_id, PriceListType(list_type), amount))
        return {variant_id: resolve(amount, candidates.get(variant_id, ())) for variant_id, amount in base.items()}
