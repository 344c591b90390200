"""The built-in tax provider's engine: zones and rates from the database, rules from ``rules.py``.

Providers see only messages, but the built-in one must read rates in the caller's
transaction, so it is *session bound*: the calculator calls ``bind(session, now)`` and
uses the provider that returns. ``reference`` is the process's memo of zone tables (None:
read them from the database every time).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache
from rcommerce.domain.tax.rates import active_exemption_zones, rates_at
from rcommerce.domain.tax.rules import compute
from rcommerce.plugins.providers import TaxProvider, TaxRequest, TaxResult

__all__ = ["DbTaxProvider", "SessionBoundTaxProvider"]


@runtime_checkable
class SessionBoundTaxProvider(Protocol):
    """A tax provider that needs the caller's session (the built-in one)."""

    def bind(self, session: AsyncSession, now: datetime, reference: ReferenceCache | None = None) -> TaxProvider: ...


class DbTaxProvider:
    """Computes tax from the zones and rates stored in the database, for one session."""

    code = "builtin"
    display_name = "Built-in zones and rates"

    def __init__(self, session: AsyncSession, now: datetime, reference: ReferenceCache | None = None) -> None:
        self._session = session
        self._now = now
        self._reference = reference

    async def calculate(self, request: TaxRequest) -> TaxResult:
        rates = await rates_at(self._session, request.destination, self._now, self._reference)
        exempt_zones = await active_exemption_zones(self._session, request.customer_id, self._now)
        return compute(request, rates, exempt_zones=exempt_zones)
