"""Loading the rates and exemptions that apply at a destination from the database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.tax.models import TaxCategoryRow, TaxExemptionRow, TaxRateRow, TaxZoneRow
from rcommerce.domain.tax.rules import RateSpec
from rcommerce.domain.tax.zones import specificity, zone_matches
from rcommerce.plugins.providers import Address

__all__ = ["active_exemption_zones", "matching_zones", "rates_at"]

#: Marks an exemption that covers every zone.
ALL_ZONES = "*"


async def matching_zones(session: AsyncSession, address: Address) -> list[TaxZoneRow]:
    """Every zone that contains ``address``, broadest first."""
    country = address.country.upper()
    if not country:
        return []
    rows = (await session.scalars(select(TaxZoneRow).where(TaxZoneRow.country_code == country))).all()
    return sorted((z for z in rows if zone_matches(z, address)), key=lambda z: (specificity(z), z.code))


def _valid(now: datetime, valid_from: datetime | None, valid_until: datetime | None) -> bool:
    return (valid_from is None or valid_from <= now) and (valid_until is None or now < valid_until)


async def rates_at(session: AsyncSession, address: Address, now: datetime) -> list[RateSpec]:
    """The rates of every matching zone valid at ``now``, as rule inputs."""
    zones = await matching_zones(session, address)
    if not zones:
        return []
    by_id = {z.id: (i, z) for i, z in enumerate(zones)}
    rows = (
        await session.execute(
            select(TaxRateRow, TaxCategoryRow.code)
            .outerjoin(TaxCategoryRow, TaxCategoryRow.id == TaxRateRow.category_id)
            .where(TaxRateRow.zone_id.in_(list(by_id)))
        )
    ).all()
    specs: list[RateSpec] = []
    for rate, category_code in rows:
        if not _valid(now, rate.valid_from, rate.valid_until):
            continue
        index, zone = by_id[rate.zone_id]
        specs.append(
            RateSpec(
                rate_id=rate.id,
                name=rate.name,
                rate=rate.rate,
                jurisdiction=zone.code,
                category=category_code or "",
                applies_to_shipping=rate.applies_to_shipping,
                order=(index, rate.priority),
            )
        )
    return specs


async def active_exemption_zones(session: AsyncSession, customer_id: str, now: datetime) -> set[str]:
    """Zone codes where ``customer_id`` is exempt now; ``ALL_ZONES`` for a global exemption."""
    if not customer_id:
        return set()
    rows = (
        await session.execute(
            select(TaxExemptionRow, TaxZoneRow.code)
            .outerjoin(TaxZoneRow, TaxZoneRow.id == TaxExemptionRow.zone_id)
            .where(TaxExemptionRow.customer_id == customer_id, TaxExemptionRow.active.is_(True))
            .where(or_(TaxExemptionRow.valid_until.is_(None), TaxExemptionRow.valid_until > now))
        )
    ).all()
    return {code or ALL_ZONES for row, code in rows if _valid(now, row.valid_from, row.valid_until)}
