"""Zones and rates created from ``[[tax.zones]]`` at start-up, and the demo set.

Seeding is idempotent: a zone whose code exists is left alone (the API owns it after the
first start), a missing category code is created.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.config import TaxRateSeed, TaxZoneSeed
from rcommerce.domain.tax.models import TaxCategoryRow, TaxRateRow, TaxZoneRow
from rcommerce.ids import new_id

__all__ = ["DEMO_ZONES", "seed_zones"]

#: New York: state 4 % + New York City local 4.75 % = the 8.75 % combined rate of the
#: worked example 1; Germany: VAT 19 %, 7 % reduced for the "reduced" category.
DEMO_ZONES: tuple[TaxZoneSeed, ...] = (
    TaxZoneSeed(code="US-NY", name="New York State", country="US", region="NY",
                rates=[TaxRateSeed(name="NY State", rate="0.04")]),
    TaxZoneSeed(code="US-NY-NYC", name="New York City", country="US", region="NY",
                postal_patterns=["100*", "101*", "102*", "103*", "104*", "111*", "112*", "113*", "114*", "116*"],
                rates=[TaxRateSeed(name="NYC local", rate="0.0475")]),
    TaxZoneSeed(code="DE", name="Germany", country="DE",
                rates=[TaxRateSeed(name="DE VAT 19%", rate="0.19"),
                       TaxRateSeed(name="DE VAT 7%", rate="0.07", category="reduced", applies_to_shipping=False)]),
)  # fmt: skip


async def seed_zones(session: AsyncSession, zones: Sequence[TaxZoneSeed], now: datetime) -> tuple[int, int]:
    """Create the zones whose code is new; returns (created, skipped)."""
    created = skipped = 0
    categories: dict[str, str] = {}
    for seed in zones:
        if await session.scalar(select(TaxZoneRow.id).where(TaxZoneRow.code == seed.code)) is not None:
            skipped += 1
            continue
        zone = TaxZoneRow(
            id=new_id("txz", now), code=seed.code, name=seed.name or seed.code, country_code=seed.country,
            region_code=seed.region.upper(), postal_patterns=",".join(p.replace(" ", "").upper() for p in seed.postal_patterns),
            zone_type="district" if seed.postal_patterns else "state" if seed.region else "country",
            created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(zone)
        await session.flush()  # rows are not related in the mapper: insert the zone first
        for priority, rate in enumerate(seed.rates):
            category_id = await _category(session, rate.category, now, categories) if rate.category else None
            session.add(TaxRateRow(
                id=new_id("txr", now), zone_id=zone.id, category_id=category_id, name=rate.name, rate=Decimal(rate.rate),
                applies_to_shipping=rate.applies_to_shipping and category_id is None, priority=priority,
                valid_from=None, valid_until=None, created_at=now, updated_at=now,
            ))  # fmt: skip
        await session.flush()
        created += 1
    return created, skipped


async def _category(session: AsyncSession, code: str, now: datetime, known: dict[str, str]) -> str:
    if code not in known:
        found = await session.scalar(select(TaxCategoryRow.id).where(TaxCategoryRow.code == code))
        if found is None:
            found = new_id("txc", now)
            session.add(TaxCategoryRow(id=found, code=code, name=code, description="", created_at=now, updated_at=now))
            await session.flush()
        known[code] = found
    return known[code]
