"""Loading rows as the pure rules' specs.

Zones, rates, rules and profiles are reference data: the quoter reads them through the
process's :class:`~rcommerce.cache.reference.ReferenceCache` (namespace
:data:`REFERENCE_NAMESPACE`, bumped by every committed shipping write), so what these return
is immutable.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.shipping.models import ShippingProfileRow, ShippingRateRow, ShippingRuleRow, ShippingZoneRow
from rcommerce.domain.shipping.rates import RateKind, RateSpec
from rcommerce.domain.shipping.rules import Rule
from rcommerce.domain.shipping.zones import ZoneSpec

__all__ = [
    "REFERENCE_NAMESPACE", "active_zones", "product_profiles", "rate_spec", "rules", "zone_rates", "zone_spec",
]  # fmt: skip

#: The reference-cache namespace of the shipping tables.
REFERENCE_NAMESPACE = "shipping"


def zone_spec(row: ShippingZoneRow) -> ZoneSpec:
    return ZoneSpec(
        id=row.id,
        name=row.name,
        countries=tuple(row.countries),
        exclude_countries=tuple(row.exclude_countries),
        states=tuple(row.states),
        postal_codes=tuple(row.postal_codes),
        postal_ranges=tuple((str(a), str(b)) for a, b in row.postal_ranges),
    )


def rate_spec(row: ShippingRateRow) -> RateSpec:
    return RateSpec(
        id=row.id,
        zone_id=row.zone_id,
        name=row.name,
        service_code=row.service_code,
        currency=row.currency_code,
        kind=RateKind(row.kind),
        amount=row.amount,
        per_unit_amount=row.per_unit_amount,
        weight_unit=row.weight_unit,
        brackets=tuple((int(a), int(b)) for a, b in row.brackets),
        tiers=tuple((int(a), int(b)) for a, b in row.tiers),
        handling_fee=row.handling_fee,
        fuel_surcharge_percent=Decimal(row.fuel_surcharge_percent),
        free_over=row.free_over,
        min_weight_grams=row.min_weight_grams,
        max_weight_grams=row.max_weight_grams,
        volumetric=row.volumetric,
        profile_id=row.profile_id or "",
        min_days=row.min_days,
        max_days=row.max_days,
    )


async def active_zones(session: AsyncSession) -> tuple[ZoneSpec, ...]:
    """Active zones in their configured order (position, then creation)."""
    rows = await session.scalars(
        select(ShippingZoneRow)
        .where(ShippingZoneRow.active.is_(True))
        .order_by(ShippingZoneRow.position, ShippingZoneRow.created_at, ShippingZoneRow.id)
    )
    return tuple(zone_spec(r) for r in rows)


async def zone_rates(session: AsyncSession, zone_id: str, currency: str) -> tuple[RateSpec, ...]:
    rows = await session.scalars(
        select(ShippingRateRow)
        .where(
            ShippingRateRow.zone_id == zone_id,
            ShippingRateRow.currency_code == currency,
            ShippingRateRow.active.is_(True),
        )
        .order_by(ShippingRateRow.position, ShippingRateRow.created_at, ShippingRateRow.id)
    )
    return tuple(rate_spec(r) for r in rows)


async def rules(session: AsyncSession) -> tuple[Rule, ...]:
    rows = await session.scalars(
        select(ShippingRuleRow)
        .where(ShippingRuleRow.enabled.is_(True))
        .order_by(ShippingRuleRow.created_at, ShippingRuleRow.id)
    )
    return tuple(
        Rule(
            id=r.id,
            name=r.name,
            condition=r.condition,
            action=r.action,
            priority=r.priority,
            enabled=r.enabled,
            currency=r.currency_code,
        )
        for r in rows
    )


async def product_profiles(session: AsyncSession) -> Mapping[str, frozenset[str]]:
    """Product id -> the ids of the profiles listing it."""
    out: dict[str, set[str]] = {}
    for row in await session.scalars(select(ShippingProfileRow)):
        for product_id in row.product_ids:
            out.setdefault(product_id, set()).add(row.id)
    return {product_id: frozenset(ids) for product_id, ids in out.items()}
