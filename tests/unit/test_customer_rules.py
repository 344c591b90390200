"""Input rules of the customers context and who may touch which customer."""

from __future__ import annotations

import pytest

from rcommerce.auth.principal import ANONYMOUS, Principal, PrincipalKind, customer_id_of
from rcommerce.auth.scopes import CUSTOMER_SCOPES, STOREFRONT_SCOPES, ScopeSet
from rcommerce.domain.customers.access import resolve_address, resolve_customer
from rcommerce.domain.customers.errors import INVALID_EMAIL, WEAK_PASSWORD
from rcommerce.domain.customers.rules import address_violations, check_password, currency_violation, normalize_email
from rcommerce.errors import INSUFFICIENT_PERMISSIONS, INVALID_RESOURCE_NAME, DomainError
from rcommerce.gen.v1 import common_pb2

ME = "cus_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"
OTHER = "cus_01JA9ZQ3K8M0Q4XH7D2V5C6B8P"
ADDR = "addr_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"
CUSTOMER = Principal(PrincipalKind.CUSTOMER, f"customers/{ME}")
STAFF = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_1")


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("Ada@Example.COM", "ada@example.com"), ("  a.b+tag@mail.example.co.uk ", "a.b+tag@mail.example.co.uk")],
)
def test_emails_are_trimmed_and_lower_cased(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a@b@c.com",
        "a b@c.com",
        "a@.com",
        "a@c..com",
        "x" * 250 + "@e.com",
    ],
)
def test_bad_emails_are_invalid_email(raw: str) -> None:
    with pytest.raises(DomainError) as caught:
        normalize_email(raw, field="customer.email")
    assert caught.value.reason is INVALID_EMAIL and caught.value.violations[0].field == "customer.email"


def test_password_bounds() -> None:
    assert check_password("12345678") == "12345678"
    for bad in ("1234567", "é" * 513):  # 7 characters; 1026 bytes
        with pytest.raises(DomainError) as caught:
            check_password(bad)
        assert caught.value.reason is WEAK_PASSWORD


def test_address_rules() -> None:
    ok = common_pb2.Address(address1="1 Main St", city="Springfield", country_code="US")
    assert address_violations(ok, "a") == []
    bad = common_pb2.Address(address1=" ", city="x" * 101, country_code="us", postal_code="1" * 21)
    assert {(v.field, v.description) for v in address_violations(bad, "a")} == {
        ("a.address1", "is required"),
        ("a.city", "must be at most 100 characters"),
        ("a.postal_code", "must be at most 20 characters"),
        ("a.country_code", "must be an upper-case ISO 3166-1 alpha-2 code"),
    }


def test_currency_preference() -> None:
    assert currency_violation("", "c") is None and currency_violation("EUR", "c") is None
    assert currency_violation("eur", "c") is not None and currency_violation("XYZ", "c") is not None


def test_customer_id_of() -> None:
    assert customer_id_of(CUSTOMER) == ME
    assert customer_id_of(STAFF) is None and customer_id_of(ANONYMOUS) is None
    assert customer_id_of(Principal(PrincipalKind.CUSTOMER, "apiKeys/key_1")) is None


def test_customers_reach_only_themselves() -> None:
    assert resolve_customer(CUSTOMER, "customers/me") == ME
    assert resolve_customer(CUSTOMER, f"customers/{ME}") == ME
    assert resolve_customer(STAFF, f"customers/{OTHER}") == OTHER
    assert resolve_address(CUSTOMER, f"customers/me/addresses/{ADDR}") == (ME, ADDR)
    with pytest.raises(DomainError) as caught:
        resolve_customer(CUSTOMER, f"customers/{OTHER}")
    assert caught.value.reason is INSUFFICIENT_PERMISSIONS
    with pytest.raises(DomainError) as caught:
        resolve_address(CUSTOMER, f"customers/{OTHER}/addresses/{ADDR}")
    assert caught.value.reason is INSUFFICIENT_PERMISSIONS
    for principal, name in ((STAFF, "customers/me"), (CUSTOMER, "customers/cus_bad"), (CUSTOMER, f"products/{ME}")):
        with pytest.raises(DomainError) as caught:
            resolve_customer(principal, name)
        assert caught.value.reason is INVALID_RESOURCE_NAME


def test_customer_scopes_are_valid_and_never_staff() -> None:
    scopes = ScopeSet.of(*sorted(CUSTOMER_SCOPES))
    assert scopes.allows("customers:read") and scopes.allows("carts:read") and scopes.allows("checkout:write")
    assert not scopes.allows("customers:admin") and not scopes.allows("products:write") and not scopes.is_admin
    assert {"carts:write", "checkout:write", "payments:write"} <= CUSTOMER_SCOPES & STOREFRONT_SCOPES
