"""Pure validation of regions: names, currency, countries and provider codes.

Each check returns ``(reason, violation)`` pairs so one request reports every problem at
once; :func:`raise_all` picks the reason (the shared one, or VALIDATION_FAILED when the
problems are of different kinds).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rcommerce import money
from rcommerce.domain.catalog.errors import INVALID_CURRENCY
from rcommerce.domain.regions.countries import is_country
from rcommerce.domain.regions.errors import INVALID_COUNTRY, UNKNOWN_PROVIDER
from rcommerce.errors import VALIDATION_FAILED, FieldViolation, Reason, raise_violations

__all__ = [
    "BUILTIN_PROVIDERS",
    "DEFAULT_TAX_PROVIDER",
    "KnownProviders",
    "Problem",
    "check_countries",
    "check_currency",
    "check_display_name",
    "check_providers",
    "raise_all",
]

DEFAULT_TAX_PROVIDER = "builtin"
MAX_NAME = 255
MAX_PROVIDERS = 20
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")

#: Codes always accepted: the manual (offline) and test payment gateways, table-rate
#: shipping and the built-in tax calculator are part of the core.
BUILTIN_PROVIDERS: dict[str, frozenset[str]] = {
    "payment": frozenset({"manual", "test"}),
    "shipping": frozenset({"builtin"}),
    "tax": frozenset({DEFAULT_TAX_PROVIDER}),
}

Problem = tuple[Reason, FieldViolation]


@dataclass(frozen=True, slots=True)
class KnownProviders:
    """Codes of the installed providers per kind ("payment", "shipping", "tax"). When no
    provider of a kind is installed, codes of that kind are only checked for form: the
    plugin may be installed later, and a region must be creatable before it is."""

    installed: dict[str, frozenset[str]] = field(default_factory=dict)

    def accepts(self, kind: str, code: str) -> bool:
        installed = self.installed.get(kind, frozenset())
        return not installed or code in installed or code in BUILTIN_PROVIDERS.get(kind, frozenset())


def check_display_name(value: str, path: str) -> list[Problem]:
    if not value.strip():
        return [(VALIDATION_FAILED, FieldViolation(path, "is required"))]
    if len(value) > MAX_NAME:
        return [(VALIDATION_FAILED, FieldViolation(path, f"must be at most {MAX_NAME} characters"))]
    return []


def check_currency(code: str, path: str) -> list[Problem]:
    if not money.is_currency(code):
        return [(INVALID_CURRENCY, FieldViolation(path, f"{code!r} is not an active upper-case ISO 4217 code"))]
    return []


def check_countries(codes: Sequence[str], path: str) -> list[Problem]:
    """Every code an assigned upper-case alpha-2 code, none twice."""
    out: list[Problem] = []
    seen: set[str] = set()
    for i, code in enumerate(codes):
        if not is_country(code):
            out.append(
                (
                    INVALID_COUNTRY,
                    FieldViolation(f"{path}[{i}]", f"{code!r} is not an upper-case ISO 3166-1 alpha-2 code"),
                )
            )
        elif code in seen:
            out.append((INVALID_COUNTRY, FieldViolation(f"{path}[{i}]", f"{code} is listed twice")))
        seen.add(code)
    return out


def check_providers(
    kind: str, codes: Sequence[str], known: KnownProviders, path: str, *, single: bool = False
) -> list[Problem]:
    """Well-formed codes (lower-case letters, digits, "_", "-"), none twice, installed when
    known. ``single``: ``codes`` holds the one value of a scalar field at ``path``."""
    out: list[Problem] = []
    if len(codes) > MAX_PROVIDERS:
        out.append((UNKNOWN_PROVIDER, FieldViolation(path, f"at most {MAX_PROVIDERS} providers")))
    seen: set[str] = set()
    for i, code in enumerate(codes):
        item = path if single else f"{path}[{i}]"
        if not _CODE.match(code):
            out.append(
                (
                    UNKNOWN_PROVIDER,
                    FieldViolation(item, f"{code!r} is not a provider code (lower-case letters, digits, '_', '-')"),
                )
            )
        elif code in seen:
            out.append((UNKNOWN_PROVIDER, FieldViolation(item, f"{code} is listed twice")))
        elif not known.accepts(kind, code):
            installed = ", ".join(
                sorted(known.installed.get(kind, frozenset()) | BUILTIN_PROVIDERS.get(kind, frozenset()))
            )
            out.append(
                (
                    UNKNOWN_PROVIDER,
                    FieldViolation(item, f"no {kind} provider {code!r} is installed; known: {installed}"),
                )
            )
        seen.add(code)
    return out


def raise_all(problems: Iterable[Problem]) -> None:
    """Raise one error listing every violation: the problems' reason when they share one,
    VALIDATION_FAILED otherwise."""
    problems = list(problems)
    if not problems:
        return
    reasons = {reason_ for reason_, _ in problems}
    raise_violations([v for _, v in problems], reasons.pop() if len(reasons) == 1 else VALIDATION_FAILED)
