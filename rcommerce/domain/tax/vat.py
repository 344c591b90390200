"""EU VAT ids: normalisation, national formats and check digits (pure), and the built-in
``format`` validator.

Formats follow the VIES patterns; check digits are verified where the member state
publishes the algorithm: AT, BE, DE, ES, FR (numeric key), IT, NL, PL. Other member
states are checked by format only; a registry-backed validator (``rcommerce_vat_validators``)
can confirm registration on top.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rcommerce.plugins.providers import VatCheck

__all__ = ["EU_COUNTRIES", "FormatVatValidator", "check_vat_id", "country_of_prefix", "normalise_vat_id"]

#: EU member states (ISO alpha-2). VAT ids use "EL" for Greece.
EU_COUNTRIES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)

_FORMATS: dict[str, str] = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]", "CZ": r"\d{8,10}",
    "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}", "EL": r"\d{9}", "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}", "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}", "HR": r"\d{11}", "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]", "IT": r"\d{11}", "LT": r"\d{9}|\d{12}", "LU": r"\d{8}",
    "LV": r"\d{11}", "MT": r"\d{8}", "NL": r"\d{9}B\d{2}", "PL": r"\d{10}", "PT": r"\d{9}", "RO": r"[1-9]\d{1,9}",
    "SE": r"\d{10}01", "SI": r"\d{8}", "SK": r"\d{10}",
}  # fmt: skip
_COMPILED = {prefix: re.compile(f"^(?:{pattern})$") for prefix, pattern in _FORMATS.items()}


def normalise_vat_id(value: str) -> str:
    """Upper case without spaces, dots or dashes: "de 136.695.976" -> "DE136695976"."""
    return re.sub(r"[\s.\-]", "", value).upper()


def country_of_prefix(prefix: str) -> str:
    """ISO country of a VAT prefix ("EL" -> "GR")."""
    return "GR" if prefix == "EL" else prefix


def _digits(number: str) -> list[int]:
    return [int(c) for c in number]


def _de(number: str) -> bool:
    # ISO 7064 MOD 11,10.
    product = 10
    for digit in _digits(number[:8]):
        total = (digit + product) % 10 or 10
        product = (2 * total) % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(number[8])


def _at(number: str) -> bool:
    d = _digits(number[1:])
    total = sum(x if i % 2 == 0 else (2 * x) // 10 + (2 * x) % 10 for i, x in enumerate(d[:7]))
    return (10 - (total + 4) % 10) % 10 == d[7]


def _be(number: str) -> bool:
    return 97 - int(number[:8]) % 97 == int(number[8:])


def _fr(number: str) -> bool:
    key, siren = number[:2], number[2:]
    if not key.isdigit():
        return True  # alphanumeric keys (new-style) have no published algorithm
    return int(key) == (12 + 3 * (int(siren) % 97)) % 97


def _it(number: str) -> bool:
    d = _digits(number)
    total = 0
    for i, x in enumerate(d[:10]):
        if i % 2:
            x *= 2
            x = x - 9 if x > 9 else x
        total += x
    return (10 - total % 10) % 10 == d[10]


def _nl(number: str) -> bool:
    d = _digits(number[:9])
    mod11 = sum(w * x for w, x in zip(range(9, 1, -1), d[:8], strict=True)) % 11
    if mod11 != 10 and mod11 == d[8]:
        return True
    # Sole traders since 2020: ISO 7064 MOD 97-10 over "NL" + the id (N=23, L=21, B=11).
    converted = "2321" + number[:9] + "11" + number[10:]
    return int(converted) % 97 == 1


def _pl(number: str) -> bool:
    d = _digits(number)
    total = sum(w * x for w, x in zip((6, 5, 7, 2, 3, 4, 5, 6, 7), d[:9], strict=True)) % 11
    return total != 10 and total == d[9]


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _es(number: str) -> bool:
    first, middle, last = number[0], number[1:8], number[8]
    if first.isdigit() or first in "XYZ":
        # Natural persons: DNI (8 digits) or NIE (X/Y/Z + 7 digits), control letter.
        digits = ("XYZ".index(first) if first in "XYZ" else int(first), middle)
        return last == _DNI_LETTERS[int(f"{digits[0]}{digits[1]}") % 23]
    if first in "KLM":
        return last == _DNI_LETTERS[int(middle) % 23]
    d = _digits(middle)
    total = sum(d[1::2]) + sum((2 * x) // 10 + (2 * x) % 10 for x in d[0::2])
    control = (10 - total % 10) % 10
    if first in "ABCDEFGHJUV":
        return last == str(control)
    if first in "NPQRSW":
        return last == "JABCDEFGHI"[control]
    return False


_CHECKSUMS: dict[str, Callable[[str], bool]] = {
    "AT": _at, "BE": _be, "DE": _de, "ES": _es, "FR": _fr, "IT": _it, "NL": _nl, "PL": _pl,
}  # fmt: skip


def check_vat_id(value: str) -> VatCheck:
    """Format and check-digit verdict for ``value`` (no I/O)."""
    vat_id = normalise_vat_id(value)
    prefix, number = vat_id[:2], vat_id[2:]
    pattern = _COMPILED.get(prefix)
    country = country_of_prefix(prefix) if pattern else ""
    if pattern is None or not pattern.match(number):
        return VatCheck(vat_id=vat_id, country=country, valid=False, reason="format")
    checksum = _CHECKSUMS.get(prefix)
    if checksum is not None and not checksum(number):
        return VatCheck(vat_id=vat_id, country=country, valid=False, reason="checksum")
    return VatCheck(vat_id=vat_id, country=country, valid=True)


class FormatVatValidator:
    """The built-in validator: national format and check digits, no registry lookup."""

    code = "format"
    display_name = "VAT id format and check digits"

    async def validate(self, vat_id: str) -> VatCheck:
        return check_vat_id(vat_id)
