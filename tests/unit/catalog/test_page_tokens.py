"""Page tokens and request fingerprints for catalog lists."""

from __future__ import annotations

import pytest

from rcommerce.errors import DomainError
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.pagination import PageTokens, fingerprint

TOKENS = PageTokens(b"s" * 32)


def test_fingerprint_ignores_page_fields_only() -> None:
    base = C.ListProductsRequest(tag="summer", order_by="title")
    paged = C.ListProductsRequest(tag="summer", order_by="title", page_size=5, page_token="abc")
    assert fingerprint(base) == fingerprint(paged)
    assert fingerprint(base) != fingerprint(C.ListProductsRequest(tag="winter", order_by="title"))
    assert fingerprint(C.ListProductsRequest(min_price=0)) != fingerprint(C.ListProductsRequest())


@pytest.mark.parametrize(
    ("mutate", "fp"),
    [
        pytest.param(lambda t: t, "other", id="other-filters"),
        pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), "fp", id="tampered-tag"),
        pytest.param(lambda t: "A" + t[1:] if t[0] != "A" else "B" + t[1:], "fp", id="tampered-offset"),
        pytest.param(lambda t: "not base64!", "fp", id="garbage"),
        pytest.param(lambda t: PageTokens(b"x" * 32).encode(20, "fp"), "fp", id="other-secret"),
    ],
)
def test_bad_tokens_are_refused(mutate: object, fp: str) -> None:
    token = TOKENS.encode(20, "fp")
    assert TOKENS.decode(token, "fp") == 20
    assert callable(mutate)
    with pytest.raises(DomainError) as err:
        TOKENS.decode(mutate(token), fp)
    assert err.value.reason.name == "INVALID_PAGE_TOKEN"


def test_tokens_are_opaque() -> None:
    assert "20" not in TOKENS.encode(20, "status=ACTIVE")
