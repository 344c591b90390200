"""Loading the rates and exemptions that apply at a destination from the database.

A destination's rates come from its country's zone table (every zone of the country with all
its rates), which is reference data: with a :class:`ReferenceCache` it is memoised per
country and invalidated by every committed tax write. Exemptions belong to a customer and
are always read in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache, through
from rcommerce.domain.tax.models import TaxCategoryRow, TaxExemptionRow, TaxRateRow, TaxZoneRow
from rcommerce.domain.tax.rules import RateSpec
from rcommerce.domain.tax.zones import specificity, zone_matches
from rcommerce.plugins.providers import Address

__all__ = [
    "REFERENCE_NAMESPACE", "StoredRate", "ZoneRates", "active_exemption_zones", "country_zones", "matching_zones",
    "rates_at",
]  # fmt: skip

#: Marks an exemption that covers every zone.
ALL_ZONES = "*"

#: The reference-cache namespace of tax zones and rates; every committed tax write bumps it.
REFERENCE_NAMESPACE = "tax"


@dataclass(frozen=True, slots=True)
class StoredRate:
    """A rate as stored, valid or not at any given time."""

    id: str
    name: str
    rate: Decimal
    #: Category code; "" for the zone's standard rate.
    category: str
    applies_to_shipping: bool
    priority: int
    valid_from: datetime | None
    valid_until: datetime | None


@dataclass(frozen=True, slots=True)
class ZoneRates:
    """A tax zone and all its rates (a :class:`~rcommerce.domain.tax.zones.ZoneShape`)."""

    id: str
    code: str
    country_code: str
    region_code: str
    postal_patterns: str
    rates: tuple[StoredRate, ...]


async def matching_zones(session: AsyncSession, address: Address) -> list[TaxZoneRow]:
    """Every zone that contains ``address``, broadest first."""
    country = address.country.upper()
    if not country:
        return []
    rows = (await session.scalars(select(TaxZoneRow).where(TaxZoneRow.country_code == country))).all()
    return sorted((z for z in rows if zone_matches(z, address)), key=lambda z: (specificity(z), z.code))


async def country_zones(session: AsyncSession, country: str) -> tuple[ZoneRates, ...]:
    """Every zone of ``country`` (alpha-2, upper case) with its rates."""
    zones = (await session.scalars(select(TaxZoneRow).where(TaxZoneRow.country_code == country))).all()
    if not zones:
        return ()
    rates: dict[str, list[StoredRate]] = {z.id: [] for z in zones}
    for rate, category_code in await session.execute(
        select(TaxRateRow, TaxCategoryRow.code)
        .outerjoin(TaxCategoryRow, TaxCategoryRow.id == TaxRateRow.category_id)
        .where(TaxRateRow.zone_id.in_(list(rates)))
    ):
        rates[rate.zone_id].append(
            StoredRate(
                id=rate.id,
                name=rate.name,
                rate=rate.rate,
                category=category_code or "",
                applies_to_shipping=rate.applies_to_shipping,
                priority=rate.priority,
                valid_from=rate.valid_from,
                valid_until=rate.valid_until,
            )
        )
    return tuple(
        ZoneRates(
            id=z.id,
            code=z.code,
            country_code=z.country_code,
            region_code=z.region_code,
            postal_patterns=z.postal_patterns,
            rates=tuple(rates[z.id]),
        )
        for z in zones
    )


def _valid(now: datetime, valid_from: datetime | None, valid_until: datetime | None) -> bool:
    return (valid_from is None or valid_from <= now) and (valid_until is None or now < valid_until)


async def rates_at(
    session: AsyncSession, address: Address, now: datetime, reference: ReferenceCache | None = None
) -> list[RateSpec]:
    """The rates of every matching zone valid at ``now``, as rule inputs."""
    country = address.country.upper()
    if not country:
        return []
    zones = await through(reference, REFERENCE_NAMESPACE, country, lambda: country_zones(session, country))
    matching = sorted((z for z in zones if zone_matches(z, address)), key=lambda z: (specificity(z), z.code))
    return [
        RateSpec(
            rate_id=rate.id,
            name=rate.name,
            rate=rate.rate,
            jurisdiction=zone.code,
            category=rate.category,
            applies_to_shipping=rate.applies_to_shipping,
            order=(index, rate.priority),
        )
        for index, zone in enumerate(matching)
        for rate in zone.rates
        if _valid(now, rate.valid_from, rate.valid_until)
    ]


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
