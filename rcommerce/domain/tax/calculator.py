"""The tax calculator: the one entry point carts, checkout and the preview RPC use.

Order (core-domain §3.14): no destination -> no tax; customer exemption -> zero tax with
``exempt``; EU B2B reverse charge (see ``reverse_charge_applies``) -> zero tax with
``reverse_charge_applied`` and no breakdown; otherwise the region's provider computes the
breakdown. Exemptions and reverse charge are decided here so every provider honours them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock, SystemClock
from rcommerce.domain.tax.errors import TAX_CALCULATION_FAILED, TAX_PROVIDER_NOT_FOUND, TaxError
from rcommerce.domain.tax.provider import SessionBoundTaxProvider
from rcommerce.domain.tax.rates import ALL_ZONES, active_exemption_zones
from rcommerce.domain.tax.rules import zero_result
from rcommerce.domain.tax.vat import EU_COUNTRIES
from rcommerce.domain.tax.vat_checker import VatIdChecker
from rcommerce.errors import DomainError
from rcommerce.plugins.providers import TaxProvider, TaxRequest, TaxResult

__all__ = ["TaxCalculator", "reverse_charge_applies"]

log = logging.getLogger("rcommerce.tax")


def reverse_charge_applies(origin_country: str, destination_country: str, vat_country: str) -> bool:
    """EU B2B reverse charge: seller and buyer in different member states and the goods go
    to a member state other than the seller's (intra-community supply). The VAT id must
    already be known valid."""
    origin, destination, buyer = origin_country.upper(), destination_country.upper(), vat_country.upper()
    return (
        origin in EU_COUNTRIES and destination in EU_COUNTRIES and buyer in EU_COUNTRIES
        and buyer != origin and destination != origin
    )  # fmt: skip


class TaxCalculator:
    """Computes tax for a request with the region's provider (``"builtin"`` by default)."""

    def __init__(
        self,
        providers: Mapping[str, TaxProvider],
        vat_validator: VatIdChecker | None = None,
        *,
        clock: Clock | None = None,
        origin_country: str = "",
        reference: ReferenceCache | None = None,
    ) -> None:
        self._providers = providers
        #: Zone tables for the session-bound (built-in) provider; None reads them every time.
        self._reference = reference
        self._vat = vat_validator or VatIdChecker()
        self._clock = clock or SystemClock()
        self._origin = origin_country.upper()

    @property
    def origin_country(self) -> str:
        return self._origin

    async def calculate(self, session: AsyncSession, request: TaxRequest, provider_code: str = "builtin") -> TaxResult:
        """The tax of ``request``. Raises ``TAX_PROVIDER_NOT_FOUND`` for an unknown code and
        ``TAX_CALCULATION_FAILED`` when the provider could not answer."""
        if not request.destination.country:
            return zero_result(request)
        now = self._clock.now()
        if request.customer_tax_exempt:
            return zero_result(request, exempt=True)
        if ALL_ZONES in await active_exemption_zones(session, request.customer_id, now):
            return zero_result(request, exempt=True)
        if request.vat_id and await self._reverse_charge(session, request):
            return zero_result(request, reverse_charge=True)
        provider = self._provider(provider_code)
        if isinstance(provider, SessionBoundTaxProvider):
            provider = provider.bind(session, now, self._reference)
        try:
            return await provider.calculate(request)
        except DomainError:
            raise
        except Exception as exc:
            log.warning("tax provider %s failed: %r", provider_code, exc)
            raise TaxError(
                TAX_CALCULATION_FAILED,
                f"The tax provider {provider_code} could not compute the tax; retry later.",
                provider=provider_code,
            ) from exc

    def _provider(self, code: str) -> TaxProvider:
        provider = self._providers.get(code)
        if provider is None:
            known = ", ".join(sorted(self._providers)) or "none"
            raise TaxError(
                TAX_PROVIDER_NOT_FOUND,
                f"No tax provider has the code {code}; installed: {known}.",
                provider=code,
                known=known,
            )
        return provider

    async def _reverse_charge(self, session: AsyncSession, request: TaxRequest) -> bool:
        origin = (request.origin_country or self._origin).upper()
        try:
            verdict = await self._vat.check(session, request.vat_id)
        except DomainError:
            # Registry down: the id is unchecked, so B2C rules apply (never zero-rate blind).
            return False
        return verdict.valid and reverse_charge_applies(origin, request.destination.country, verdict.country)
