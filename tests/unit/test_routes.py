"""Path templates and route matching of the REST bridge."""

from __future__ import annotations

import pytest

from rcommerce.api.methods import method_table
from rcommerce.api.rest.routes import RouteTable

ROUTES = RouteTable(method_table())


@pytest.mark.parametrize(
    ("verb", "path", "method", "values"),
    [
        pytest.param("GET", "/v1/products/prod_1", "GetProduct", {"name": "products/prod_1"}, id="get"),
        pytest.param(
            "POST", "/v1/products/prod_1:archive", "ArchiveProduct", {"name": "products/prod_1"}, id="custom-verb-first"
        ),
        pytest.param("GET", "/v1/products", "ListProducts", {}, id="list"),
        pytest.param(
            "GET",
            "/v1/collections/col_1/products",
            "ListProducts",
            {"collection": "collections/col_1"},
            id="additional-binding",
        ),
        pytest.param(
            "GET",
            "/v1/categories/cat_1/products",
            "ListProducts",
            {"category": "categories/cat_1"},
            id="second-binding",
        ),
        pytest.param(
            "PATCH",
            "/v1/products/p1/variants/v1",
            "UpdateVariant",
            {"variant.name": "products/p1/variants/v1"},
            id="nested-field",
        ),
        pytest.param("GET", "/v1/products:lookup", "LookupProduct", {}, id="collection-verb"),
        pytest.param("GET", "/v1/products/a%20b", "GetProduct", {"name": "products/a b"}, id="percent-decoded"),
        pytest.param("DELETE", "/v1/apiKeys/key_1", None, None, id="no-delete-route"),
        pytest.param("GET", "/v1/products/p1/extra", None, None, id="too-many-segments"),
    ],
)
def test_route_matching(verb: str, path: str, method: str | None, values: dict[str, str] | None) -> None:
    matched = ROUTES.match(verb, path)
    if method is None:
        assert matched is None
        return
    assert matched is not None
    route, found = matched
    assert (route.method.name, found) == (method, values)


def test_allowed_verbs_for_405() -> None:
    assert ROUTES.allowed_verbs("/v1/products/prod_1") == ["DELETE", "GET", "PATCH"]
    assert ROUTES.allowed_verbs("/v1/nowhere") == []


def test_every_rpc_has_http_binding_and_auth_rule() -> None:
    for method in method_table().values():
        assert method.bindings, method.full_name
        assert method.auth.scope or method.auth.allow_anonymous, method.full_name
