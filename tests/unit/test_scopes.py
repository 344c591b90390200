"""Scope parsing and evaluation (api-compat.md §7 scenarios 1-2, DECISIONS 7)."""

from __future__ import annotations

import pytest

from rcommerce.auth.scopes import ScopeError, ScopeSet, parse_scope


@pytest.mark.parametrize(
    ("held", "required", "allowed"),
    [
        pytest.param(["products:read", "orders:write"], "products:read", True, id="read-held"),
        pytest.param(["products:read", "orders:write"], "products:write", False, id="read-is-not-write"),
        pytest.param(["products:read", "orders:write"], "orders:read", True, id="write-implies-read"),
        pytest.param(["products:read", "orders:write"], "orders:write", True, id="write-held"),
        pytest.param(["products:read", "orders:write"], "customers:read", False, id="other-resource"),
        pytest.param(["admin"], "customers:admin", True, id="global-admin"),
        pytest.param(["admin"], "admin", True, id="global-admin-itself"),
        pytest.param(["read"], "products:write", False, id="global-read-not-write"),
        pytest.param(["read"], "webhooks:read", True, id="global-read"),
        pytest.param(["write"], "orders:read", True, id="global-write-implies-read"),
        pytest.param(["products:admin"], "admin", False, id="resource-admin-is-not-global-admin"),
        pytest.param(["products:admin"], "products:write", True, id="resource-admin-implies-write"),
        pytest.param(["products:admin"], "orders:read", False, id="resource-admin-elsewhere"),
        pytest.param([], "products:read", False, id="no-scopes"),
    ],
)
def test_scope_evaluation(held: list[str], required: str, allowed: bool) -> None:
    assert ScopeSet.of(*held).allows(required) is allowed


def test_is_admin_needs_global_admin() -> None:
    assert ScopeSet.of("admin").is_admin
    assert not ScopeSet.of("products:admin", "orders:admin").is_admin


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("invalid_resource:read", "Unknown resource: invalid_resource", id="resource"),
        pytest.param("products:execute", "Unknown action: execute", id="action"),
        pytest.param("products:read:extra", "Invalid scope format: products:read:extra", id="format"),
        pytest.param("products-read", "Unknown action: products-read", id="no-colon"),
    ],
)
def test_scope_parse_errors(text: str, message: str) -> None:
    with pytest.raises(ScopeError, match=f"^{message}$"):
        parse_scope(text)


def test_statistics_is_a_resource() -> None:
    assert str(parse_scope("statistics:read")) == "statistics:read"
