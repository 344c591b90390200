"""HTTP request -> request message (body rules, query, PATCH masks)."""

from __future__ import annotations

import pytest

from rcommerce.api.methods import method_table
from rcommerce.api.rest.routes import RouteTable
from rcommerce.api.rest.transcode import build_request
from rcommerce.errors import DomainError

ROUTES = RouteTable(method_table())


def _request(verb: str, path: str, query: bytes = b"", body: bytes = b""):  # type: ignore[no-untyped-def]
    matched = ROUTES.match(verb, path)
    assert matched is not None
    route, values = matched
    return build_request(route, values, query, body)


def test_query_parameters_fill_list_requests() -> None:
    req = _request(
        "GET",
        "/v1/products",
        b"pageSize=5&status=PRODUCT_STATUS_ACTIVE&order_by=title%20desc&minPrice=100&currencyCode=USD",
    )
    assert (req.page_size, req.status, req.order_by, req.min_price, req.currency_code) == (
        5,
        2,
        "title desc",
        100,
        "USD",
    )


def test_unknown_query_parameters_are_ignored() -> None:
    assert _request("GET", "/v1/products", b"foo=bar&pageSize=3").page_size == 3


def test_path_variable_wins_over_query() -> None:
    req = _request("GET", "/v1/collections/col_1/products", b"collection=collections/col_2")
    assert req.collection == "collections/col_1"


def test_body_field_and_path() -> None:
    req = _request("PATCH", "/v1/products/prod_1", body=b'{"title": "New", "seo_title": "S"}')
    assert req.product.name == "products/prod_1"
    assert req.product.title == "New"
    assert sorted(req.update_mask.paths) == ["seo_title", "title"]


def test_explicit_mask_is_kept() -> None:
    req = _request("PATCH", "/v1/products/prod_1", b"updateMask=title", body=b'{"title": "New", "vendor": "V"}')
    assert list(req.update_mask.paths) == ["title"]


def test_body_star_reads_everything() -> None:
    req = _request("POST", "/v1/collections/col_1:addProducts", body=b'{"products": ["products/p1"], "position": 0}')
    assert (req.collection, list(req.products), req.position) == ("collections/col_1", ["products/p1"], 0)


@pytest.mark.parametrize(
    ("verb", "path", "query", "body"),
    [
        pytest.param("POST", "/v1/products", b"", b"{not json", id="bad-json"),
        pytest.param("POST", "/v1/products", b"", b'"a string"', id="not-an-object"),
        pytest.param("POST", "/v1/products", b"", b'{"status": "PRODUCT_STATUS_NOPE"}', id="unknown-enum"),
        pytest.param("POST", "/v1/products", b"", b'{"titel": "typo"}', id="unknown-field"),
        pytest.param(
            "POST",
            "/v1/products",
            b"",
            b'{"variants": [{"prices": [{"amount": "9223372036854775808"}]}]}',
            id="int64-overflow",
        ),
        pytest.param("GET", "/v1/products", b"pageSize=abc", b"", id="bad-int"),
        pytest.param("GET", "/v1/apiKeys", b"showInactive=maybe", b"", id="bad-bool"),
        # "\u00b2" (superscript two) passes str.isdigit but int() refuses it (was a 500).
        pytest.param("GET", "/v1/products", b"status=%C2%B2", b"", id="enum-unicode-digit"),
        pytest.param("GET", "/v1/products", b"pageSize=%C2%B2", b"", id="int-unicode-digit"),
    ],
)
def test_malformed_input(verb: str, path: str, query: bytes, body: bytes) -> None:
    with pytest.raises(DomainError) as err:
        _request(verb, path, query, body)
    assert err.value.reason.name == "MALFORMED_REQUEST"


def test_mask_in_proto_spelling_is_accepted() -> None:
    req = _request("PATCH", "/v1/products/prod_1", b"update_mask=seo_title,title", body=b'{"title": "New"}')
    assert list(req.update_mask.paths) == ["seo_title", "title"]
