"""Currencies and minor units (DECISIONS 5).

Amounts are ``int`` minor units next to an ISO 4217 code. The exponent says how many
minor units make one major unit: USD 2 (cents), JPY 0, KWD 3.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

#: ISO 4217 active currencies with a minor-unit exponent other than 2.
_EXPONENTS_NOT_2 = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0,
    "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0,
    "XPF": 0, "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "CLF": 4, "UYW": 4,
}  # fmt: skip
_EXPONENT_2 = [
    "AED",
    "AFN",
    "ALL",
    "AMD",
    "ANG",
    "AOA",
    "ARS",
    "AUD",
    "AWG",
    "AZN",
    "BAM",
    "BBD",
    "BDT",
    "BGN",
    "BMD",
    "BND",
    "BOB",
    "BOV",
    "BRL",
    "BSD",
    "BTN",
    "BWP",
    "BYN",
    "BZD",
    "CAD",
    "CDF",
    "CHE",
    "CHF",
    "CHW",
    "CNY",
    "COP",
    "COU",
    "CRC",
    "CUP",
    "CVE",
    "CZK",
    "DKK",
    "DOP",
    "DZD",
    "EGP",
    "ERN",
    "ETB",
    "EUR",
    "FJD",
    "FKP",
    "GBP",
    "GEL",
    "GHS",
    "GIP",
    "GMD",
    "GTQ",
    "GYD",
    "HKD",
    "HNL",
    "HTG",
    "HUF",
    "IDR",
    "ILS",
    "INR",
    "IRR",
    "JMD",
    "KES",
    "KGS",
    "KHR",
    "KPW",
    "KYD",
    "KZT",
    "LAK",
    "LBP",
    "LKR",
    "LRD",
    "LSL",
    "MAD",
    "MDL",
    "MGA",
    "MKD",
    "MMK",
    "MNT",
    "MOP",
    "MRU",
    "MUR",
    "MVR",
    "MWK",
    "MXN",
    "MXV",
    "MYR",
    "MZN",
    "NAD",
    "NGN",
    "NIO",
    "NOK",
    "NPR",
    "NZD",
    "PAB",
    "PEN",
    "PGK",
    "PHP",
    "PKR",
    "PLN",
    "QAR",
    "RON",
    "RSD",
    "RUB",
    "SAR",
    "SBD",
    "SCR",
    "SDG",
    "SEK",
    "SGD",
    "SHP",
    "SLE",
    "SOS",
    "SRD",
    "SSP",
    "STN",
    "SVC",
    "SYP",
    "SZL",
    "THB",
    "TJS",
    "TMT",
    "TOP",
    "TRY",
    "TTD",
    "TWD",
    "TZS",
    "UAH",
    "USD",
    "USN",
    "UYU",
    "UZS",
    "VED",
    "VES",
    "WST",
    "XCD",
    "XCG",
    "YER",
    "ZAR",
    "ZMW",
    "ZWG",
]

CURRENCY_EXPONENTS: dict[str, int] = {code: 2 for code in _EXPONENT_2} | _EXPONENTS_NOT_2

#: Largest amount accepted anywhere, in minor units: 10^15 (ten trillion dollars). Keeps
#: sums of many lines far from int64 overflow.
MAX_AMOUNT = 10**15


def is_currency(code: str) -> bool:
    """True for an active ISO 4217 code in upper case."""
    return code in CURRENCY_EXPONENTS


def exponent(code: str) -> int:
    """Minor-unit exponent of ``code``. Raises ``KeyError`` for unknown codes."""
    return CURRENCY_EXPONENTS[code]


def to_decimal(amount: int, code: str) -> Decimal:
    """Minor units to a major-unit Decimal: ``to_decimal(1999, "USD") == Decimal("19.99")``."""
    return Decimal(amount).scaleb(-exponent(code))


def from_decimal(value: Decimal, code: str) -> int:
    """Major units to minor units, rounding commercially (half up, DECISIONS 5)."""
    return int(value.scaleb(exponent(code)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_amount(amount: int, code: str) -> str:
    """``format_amount(1999, "USD") == "19.99 USD"``; for messages and logs."""
    return f"{to_decimal(amount, code):f} {code}"
