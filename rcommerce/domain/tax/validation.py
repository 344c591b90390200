"""Input rules of the tax API: every bad field becomes a typed violation, nothing changes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from rcommerce.domain.tax.errors import INVALID_TAX_RATE
from rcommerce.domain.tax.zones import PATTERN
from rcommerce.errors import FieldViolation, invalid
from rcommerce.fieldmask import resolve_mask

__all__ = [
    "CODE", "COUNTRY", "EXEMPTION_TYPES", "REGION", "ZONE_TYPES", "parse_rate", "postal_violations", "resolve_mask",
]  # fmt: skip

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
COUNTRY = re.compile(r"^[A-Z]{2}$")
REGION = re.compile(r"^[A-Z0-9]{0,10}$")
ZONE_TYPES = ("country", "state", "county", "city", "district")
EXEMPTION_TYPES = ("resale", "nonprofit", "government", "diplomatic", "other")
_RATE = re.compile(r"^\d+(\.\d{1,6})?$")


def parse_rate(text: str, field: str = "rate") -> Decimal:
    """ "0.0875" -> Decimal("0.0875"); INVALID_TAX_RATE unless 0 <= rate <= 1 with <= 6 decimals."""
    value = text.strip()
    try:
        rate = Decimal(value) if _RATE.match(value) else None
    except InvalidOperation:
        rate = None
    if rate is None or rate > 1:
        raise invalid(field, f"{text!r} is not a fraction from 0 to 1 with at most 6 decimals (\"0.0875\" is 8.75 %)",
                      INVALID_TAX_RATE, rate=text)  # fmt: skip
    return rate


def postal_violations(patterns: Sequence[str], field: str) -> list[FieldViolation]:
    out = []
    for i, p in enumerate(patterns):
        if not PATTERN.match(p.replace(" ", "").upper()):
            out.append(
                FieldViolation(f"{field}[{i}]", f"{p!r} is not a postal pattern: use 100*, 10451-10475 or 10001")
            )
    return out
