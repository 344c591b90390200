"""Helpers shared by the regions and price list tests.

The database is shared by the whole test session and a country belongs to at most one
region, so tests take countries that no region holds yet instead of fixed ones.
"""

from __future__ import annotations

import random

from sqlalchemy import select

from rcommerce.db import Database
from rcommerce.domain.regions.countries import COUNTRY_CODES
from rcommerce.domain.regions.models import RegionCountryRow


async def free_countries(db: Database, count: int) -> list[str]:
    """``count`` distinct country codes that belong to no region right now."""
    async with db.read() as s:
        taken = set(await s.scalars(select(RegionCountryRow.country_code)))
    free = sorted(COUNTRY_CODES - taken)
    assert len(free) >= count, "the test database ran out of free countries"
    return random.sample(free, count)
