"""Builds the tax context for one process (called from the composition root)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import Clock
from rcommerce.config import TaxSettings
from rcommerce.db import Database
from rcommerce.domain.tax.calculator import TaxCalculator
from rcommerce.domain.tax.rates import REFERENCE_NAMESPACE
from rcommerce.domain.tax.seed import seed_zones
from rcommerce.domain.tax.service import TaxService
from rcommerce.domain.tax.vat_checker import VatIdChecker
from rcommerce.pagination import PageTokens
from rcommerce.plugins.providers import TaxProvider, VatValidator

__all__ = ["TaxServices", "build_tax"]

log = logging.getLogger("rcommerce.tax")


@dataclass(frozen=True, slots=True)
class TaxServices:
    """What other contexts use: ``calculator`` (carts, checkout), ``vat`` (VAT id checks),
    ``service`` (the API)."""

    calculator: TaxCalculator
    vat: VatIdChecker
    service: TaxService


async def build_tax(
    db: Database, clock: Clock, tokens: PageTokens, settings: TaxSettings,
    tax_providers: dict[str, TaxProvider], vat_validators: dict[str, VatValidator],
    reference: ReferenceCache | None = None,
) -> TaxServices:  # fmt: skip
    """The tax services; seeds ``[[tax.zones]]`` whose codes are new."""
    vat = VatIdChecker(list(vat_validators.values()), clock, cache_days=settings.vat_cache_days)
    calculator = TaxCalculator(
        tax_providers, vat, clock=clock, origin_country=settings.origin_country, reference=reference
    )
    service = TaxService(
        db, clock, tokens, calculator, vat, default_provider=settings.default_provider, reference=reference
    )
    if settings.zones:
        try:
            async with db.transaction() as session:
                created, _ = await seed_zones(session, settings.zones, clock.now())
            if created:
                log.info("seeded %d tax zone(s) from [tax] zones", created)
                if reference is not None:
                    await reference.bump(REFERENCE_NAMESPACE)
        except IntegrityError:
            log.info("tax zones were seeded by another process")
    return TaxServices(calculator, vat, service)
