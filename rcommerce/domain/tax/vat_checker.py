"""VAT id checks: the built-in format check first, then registry validators, with a cache.

Registry answers are cached in ``vat_validations`` for ``[tax] vat_cache_days``; format
answers need no cache. A registry that raises means "could not find out":
``VAT_SERVICE_UNAVAILABLE`` for explicit checks, and no reverse charge in calculations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock, SystemClock
from rcommerce.domain.tax.errors import VAT_SERVICE_UNAVAILABLE, TaxError
from rcommerce.domain.tax.models import VatValidationRow
from rcommerce.domain.tax.vat import FormatVatValidator, check_vat_id
from rcommerce.plugins.providers import VatCheck, VatValidator

__all__ = ["VatIdChecker"]

log = logging.getLogger("rcommerce.tax")


class VatIdChecker:
    """Checks VAT ids with every installed validator (the ``vat_validator`` of the calculator)."""

    def __init__(
        self, validators: Sequence[VatValidator] = (), clock: Clock | None = None, *, cache_days: int = 30
    ) -> None:
        self._registries = [v for v in validators if not isinstance(v, FormatVatValidator) and v.code != "format"]
        self._clock = clock or SystemClock()
        self._cache_days = cache_days

    @property
    def has_registry(self) -> bool:
        return bool(self._registries)

    async def check(self, session: AsyncSession, vat_id: str) -> VatCheck:
        """The verdict for ``vat_id``; raises ``VAT_SERVICE_UNAVAILABLE`` when a registry
        could not answer."""
        verdict = check_vat_id(vat_id)
        if not verdict.valid or not self._registries:
            return verdict
        now = self._clock.now()
        cached = await session.get(VatValidationRow, verdict.vat_id)
        if cached is not None and cached.expires_at > now:
            return VatCheck(
                verdict.vat_id,
                verdict.country,
                cached.valid,
                cached.reason,
                cached.business_name,
                cached.business_address,
            )
        checked_by = "format"
        for registry in self._registries:
            try:
                verdict = await registry.validate(verdict.vat_id)
            except Exception as exc:
                log.warning("VAT validator %s failed: %r", registry.code, exc)
                raise TaxError(
                    VAT_SERVICE_UNAVAILABLE,
                    f"The VAT registry {registry.code} could not be reached; retry later.",
                    validator=registry.code,
                ) from exc
            checked_by = registry.code
            if not verdict.valid:
                break
        await self._store(session, verdict, checked_by)
        return verdict

    async def _store(self, session: AsyncSession, verdict: VatCheck, checked_by: str) -> None:
        now = self._clock.now()
        try:
            async with session.begin_nested():
                row = await session.get(VatValidationRow, verdict.vat_id)
                if row is None:
                    row = VatValidationRow(vat_id=verdict.vat_id)
                    session.add(row)
                row.country_code = verdict.country[:2]
                row.valid = verdict.valid
                row.reason = verdict.reason[:40]
                row.business_name = verdict.business_name[:255]
                row.business_address = verdict.business_address
                row.checked_by = checked_by[:64]
                row.validated_at = now
                row.expires_at = now + timedelta(days=self._cache_days)
        except IntegrityError:
            # A concurrent check cached the same id first; its answer is as good as ours.
            pass
