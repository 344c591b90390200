"""The ``builtin`` tax provider: zones, categories and rates managed through the API (or
seeded from ``[tax]``), read in the caller's transaction.

It is registered through ``rcommerce_tax_providers`` like any plugin's provider. Because
it reads the database, the calculator binds it to the command's session first
(``bind``); calling ``calculate`` on the unbound object is a programming error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache
from rcommerce.domain.tax.provider import DbTaxProvider
from rcommerce.plugins.providers import TaxProvider, TaxRequest, TaxResult

__all__ = ["BuiltinTaxProvider"]


class BuiltinTaxProvider:
    """Factory of per-session :class:`DbTaxProvider` objects."""

    code = "builtin"
    display_name = "Built-in zones and rates"

    def bind(self, session: AsyncSession, now: datetime, reference: ReferenceCache | None = None) -> TaxProvider:
        return DbTaxProvider(session, now, reference)

    async def calculate(self, request: TaxRequest) -> TaxResult:
        raise RuntimeError("the builtin tax provider reads the database: call it through TaxCalculator")
