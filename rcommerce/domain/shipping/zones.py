"""Zone matching (spec §1.8 as settled by DECISIONS 21).

A zone matches an address when:

- its ``countries`` contain the address's country (case-insensitive) or ``"*"``, and the
  country is not in ``exclude_countries``;
- ``states`` is empty or contains the address's region (case-insensitive, ``"*"`` = any);
- ``postal_codes`` and ``postal_ranges`` are both empty, or the postal code matches one
  of them: an exact code, a pattern with ``*`` ("SW1*", "100*"), or a range
  ``start..end`` compared numerically when both ends and the code are numeric (ZIP+4
  "10001-1234" compares as 10001) and as case-insensitive strings otherwise.

Unlike the first implementation, ranges are honoured even when no exact codes are
listed. Zones are tried in their configured order (``position``, then creation); the
first match wins.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from rcommerce.plugins.providers import Address

__all__ = ["WILDCARD", "ZoneSpec", "find_zone", "normalize_postal", "postal_in_range"]

WILDCARD = "*"


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    id: str
    name: str
    countries: tuple[str, ...]
    exclude_countries: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    postal_codes: tuple[str, ...] = ()
    postal_ranges: tuple[tuple[str, str], ...] = ()

    def contains(self, address: Address) -> bool:
        country = address.country.strip().upper()
        countries = {c.upper() for c in self.countries}
        if WILDCARD not in countries and country not in countries:
            return False
        if country in {c.upper() for c in self.exclude_countries}:
            return False
        if self.states:
            states = {s.strip().upper() for s in self.states}
            if WILDCARD not in states and address.region.strip().upper() not in states:
                return False
        if self.postal_codes or self.postal_ranges:
            return _postal_matches(normalize_postal(address.postal_code), self.postal_codes, self.postal_ranges)
        return True


def normalize_postal(code: str) -> str:
    """Upper case without spaces: "sw1a 1aa" → "SW1A1AA"."""
    return "".join(code.split()).upper()


def _numeric_part(code: str) -> str:
    # "10001-1234" (ZIP+4) compares by its first part.
    return code.split("-", 1)[0]


def postal_in_range(code: str, start: str, end: str) -> bool:
    """``start <= code <= end``; numerically when all three are numbers, else as strings."""
    code, start, end = normalize_postal(code), normalize_postal(start), normalize_postal(end)
    num = _numeric_part(code)
    if start.isdigit() and end.isdigit() and num.isdigit():
        return int(start) <= int(num) <= int(end)
    return start <= code <= end


def _postal_matches(code: str, patterns: Sequence[str], ranges: Sequence[tuple[str, str]]) -> bool:
    if not code:
        return False
    for pattern in patterns:
        p = normalize_postal(pattern)
        if p in (WILDCARD, code) or p == _numeric_part(code):
            return True
        if WILDCARD in p and fnmatch.fnmatchcase(code, p):
            return True
    return any(postal_in_range(code, start, end) for start, end in ranges)


def find_zone(zones: Sequence[ZoneSpec], address: Address) -> ZoneSpec | None:
    """The first zone (in the given order) that contains ``address``."""
    for zone in zones:
        if zone.contains(address):
            return zone
    return None
