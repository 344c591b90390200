"""Input rules of the tax API: every bad field becomes a typed violation, nothing changes."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from rcommerce.domain.tax.errors import INVALID_TAX_RATE
from rcommerce.domain.tax.zones import PATTERN
from rcommerce.errors import INVALID_FIELD_MASK, FieldViolation, RequestError, invalid

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


def resolve_mask(mask: FieldMask, message: Message, allowed: Sequence[str], field: str = "update_mask") -> list[str]:
    """The paths to update: ``"*"`` is every allowed path, an empty mask the populated
    fields of ``message``; an unknown path raises INVALID_FIELD_MASK."""
    paths = list(mask.paths)
    if paths == ["*"]:
        return list(allowed)
    if not paths:
        present = {d.name for d, _ in message.ListFields()}
        return [p for p in allowed if p in present]
    unknown = [p for p in paths if p not in allowed]
    if unknown:
        raise RequestError(
            INVALID_FIELD_MASK,
            f"{field} names {', '.join(unknown)}, which cannot be updated; use any of {', '.join(allowed)} or '*'.",
            violations=[FieldViolation(field, f"unknown path {p!r}") for p in unknown],
            field=field, paths=",".join(unknown),
        )  # fmt: skip
    return list(dict.fromkeys(paths))
