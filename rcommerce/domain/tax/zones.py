"""Zone matching: which zones contain a destination address (pure).

A zone matches when its country equals the address's, its ``region_code`` is empty or
equals the address's region ("NY"; "US-NY" is accepted too), and its postal patterns are
empty or one of them matches. Patterns, comma separated, compare upper-cased codes with
spaces removed: ``100*`` (prefix), ``10451-10475`` (inclusive range of equal-length
codes) or an exact code.
"""

from __future__ import annotations

import re
from typing import Protocol

from rcommerce.plugins.providers import Address

__all__ = ["PATTERN", "ZoneShape", "normalise_region", "postal_matches", "specificity", "zone_matches"]

#: One postal pattern as accepted by the API.
PATTERN = re.compile(r"^(?:[A-Z0-9]+\*?|\*|[A-Z0-9]+-[A-Z0-9]+)$")


class ZoneShape(Protocol):
    """The fields matching needs (a row or a test double)."""

    @property
    def country_code(self) -> str: ...

    @property
    def region_code(self) -> str: ...

    @property
    def postal_patterns(self) -> str: ...


def normalise_region(country: str, region: str) -> str:
    """ "US-NY" and "ny" both become "NY"."""
    value = region.strip().upper()
    prefix = f"{country.upper()}-"
    return value[len(prefix) :] if value.startswith(prefix) else value


def _one(pattern: str, code: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    if "-" in pattern:
        low, high = pattern.split("-", 1)
        return len(code) == len(low) == len(high) and low <= code <= high
    return code == pattern


def postal_matches(patterns: str, postal_code: str) -> bool:
    """True when ``patterns`` is empty or one pattern matches ``postal_code``."""
    items = [p.strip().upper() for p in patterns.split(",") if p.strip()]
    if not items:
        return True
    code = postal_code.replace(" ", "").upper()
    return bool(code) and any(_one(p, code) for p in items)


def zone_matches(zone: ZoneShape, address: Address) -> bool:
    country = address.country.upper()
    if zone.country_code != country:
        return False
    if zone.region_code and zone.region_code != normalise_region(country, address.region):
        return False
    return postal_matches(zone.postal_patterns, address.postal_code)


def specificity(zone: ZoneShape) -> int:
    """0 country, 1 region, 2 postal: broader zones come first in a breakdown."""
    return 2 if zone.postal_patterns else 1 if zone.region_code else 0
