"""Input rules of the customers context: emails, passwords, addresses. Pure functions."""

from __future__ import annotations

import re

from rcommerce.domain.customers.errors import INVALID_EMAIL, WEAK_PASSWORD
from rcommerce.errors import FieldViolation, invalid
from rcommerce.gen.v1 import common_pb2
from rcommerce.money import is_currency

MIN_PASSWORD_LENGTH = 8
#: Longer passwords are refused rather than hashed: bounds the work one request causes.
MAX_PASSWORD_BYTES = 1024
MAX_EMAIL_LENGTH = 254

# One "@", no spaces, a dot in the domain, no empty labels. Deliverability is the mail
# server's business; this catches typing mistakes and garbage.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def normalize_email(value: str, *, field: str = "email") -> str:
    """``value`` trimmed and lower-cased; INVALID_EMAIL when it is not an address."""
    email = value.strip().lower()
    if not email:
        raise invalid(field, "is required", INVALID_EMAIL)
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise invalid(field, "is not a valid email address", INVALID_EMAIL)
    return email


def check_password(value: str, *, field: str = "password") -> str:
    """``value`` unchanged when acceptable; WEAK_PASSWORD otherwise."""
    if len(value) < MIN_PASSWORD_LENGTH:
        raise invalid(field, f"must be at least {MIN_PASSWORD_LENGTH} characters", WEAK_PASSWORD)
    if len(value.encode()) > MAX_PASSWORD_BYTES:
        raise invalid(field, f"must be at most {MAX_PASSWORD_BYTES} bytes", WEAK_PASSWORD)
    return value


_ADDRESS_LIMITS = {
    "first_name": 100, "last_name": 100, "company": 255, "address1": 255, "address2": 255, "city": 100,
    "province": 100, "postal_code": 20, "country_code": 2, "phone": 50,
}  # fmt: skip
_ADDRESS_REQUIRED = ("address1", "city", "country_code")


def address_violations(address: common_pb2.Address, prefix: str) -> list[FieldViolation]:
    """Every problem of a saved address: address1, city and country_code (ISO 3166-1
    alpha-2, upper case) are required; lengths are bounded."""
    violations: list[FieldViolation] = []
    for field, limit in _ADDRESS_LIMITS.items():
        value = getattr(address, field)
        if field in _ADDRESS_REQUIRED and not value.strip():
            violations.append(FieldViolation(f"{prefix}.{field}", "is required"))
        elif len(value) > limit:
            violations.append(FieldViolation(f"{prefix}.{field}", f"must be at most {limit} characters"))
    if address.country_code and not _COUNTRY.match(address.country_code):
        violations.append(FieldViolation(f"{prefix}.country_code", "must be an upper-case ISO 3166-1 alpha-2 code"))
    return violations


def currency_violation(code: str, field: str) -> FieldViolation | None:
    """An empty code is allowed (no preference)."""
    if code and not (_CURRENCY.match(code) and is_currency(code)):
        return FieldViolation(field, "must be an active upper-case ISO 4217 code or empty")
    return None
