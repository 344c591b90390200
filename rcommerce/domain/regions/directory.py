"""Read access to regions for the other contexts (carts, checkout, orders).

Each call takes the caller's session so that a command stays one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache, through
from rcommerce.domain.regions.models import RegionCountryRow, RegionProviderRow, RegionRow

__all__ = ["REFERENCE_NAMESPACE", "ProviderKind", "RegionDirectory", "RegionInfo", "load_regions"]

#: The reference-cache namespace of regions; every committed region write bumps it.
REFERENCE_NAMESPACE = "regions"


class ProviderKind:
    PAYMENT = "payment"
    SHIPPING = "shipping"


@dataclass(frozen=True, slots=True)
class RegionInfo:
    """What the pricing pipeline needs to know about a region."""

    id: str
    name: str
    currency_code: str
    #: ISO 3166-1 alpha-2 codes, upper case.
    countries: frozenset[str]
    prices_include_tax: bool
    #: Provider codes in display order.
    payment_providers: tuple[str, ...]
    shipping_providers: tuple[str, ...]
    automatic_capture: bool
    #: Tax provider code, "builtin" by default.
    tax_provider: str


async def load_regions(session: AsyncSession, rows: Iterable[RegionRow]) -> list[RegionInfo]:
    """``RegionInfo`` for each row, in the given order, with two batch queries."""
    rows = list(rows)
    ids = [row.id for row in rows]
    if not ids:
        return []
    countries: dict[str, set[str]] = {region_id: set() for region_id in ids}
    for region_id, code in await session.execute(
        select(RegionCountryRow.region_id, RegionCountryRow.country_code).where(RegionCountryRow.region_id.in_(ids))
    ):
        countries[region_id].add(code)
    providers: dict[tuple[str, str], list[str]] = {}
    for region_id, kind, code in await session.execute(
        select(RegionProviderRow.region_id, RegionProviderRow.kind, RegionProviderRow.provider_code)
        .where(RegionProviderRow.region_id.in_(ids))
        .order_by(RegionProviderRow.position)
    ):
        providers.setdefault((region_id, kind), []).append(code)
    return [
        RegionInfo(
            id=row.id,
            name=row.name,
            currency_code=row.currency_code,
            countries=frozenset(countries[row.id]),
            prices_include_tax=row.prices_include_tax,
            payment_providers=tuple(providers.get((row.id, ProviderKind.PAYMENT), ())),
            shipping_providers=tuple(providers.get((row.id, ProviderKind.SHIPPING), ())),
            automatic_capture=row.automatic_capture,
            tax_provider=row.tax_provider,
        )
        for row in rows
    ]


class RegionDirectory:
    """Looks regions up by id or by country.

    With a ``reference`` cache, ``get`` answers from the process's memo of ``RegionInfo``
    (invalidated by every committed region write); without one it reads the database.
    """

    def __init__(self, reference: ReferenceCache | None = None) -> None:
        self._reference = reference

    async def get(self, session: AsyncSession, region_id: str) -> RegionInfo | None:
        return await through(self._reference, REFERENCE_NAMESPACE, region_id, lambda: self._load(session, region_id))

    async def for_country(self, session: AsyncSession, country_code: str) -> RegionInfo | None:
        """The region serving ``country_code`` (alpha-2, any case), or None."""
        region_id = await session.scalar(
            select(RegionCountryRow.region_id).where(RegionCountryRow.country_code == country_code.upper())
        )
        return None if region_id is None else await self.get(session, region_id)

    @staticmethod
    async def _load(session: AsyncSession, region_id: str) -> RegionInfo | None:
        row = await session.get(RegionRow, region_id)
        if row is None:
            return None
        return (await load_regions(session, [row]))[0]
