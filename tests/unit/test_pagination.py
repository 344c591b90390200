"""Page sizes and signed page tokens."""

from __future__ import annotations

import pytest

from rcommerce.errors import DomainError
from rcommerce.pagination import PageTokens, page_size


@pytest.mark.parametrize(("given", "used"), [(0, 20), (1, 1), (100, 100), (500, 100)])
def test_page_size_defaults_and_clamps(given: int, used: int) -> None:
    assert page_size(given) == used


def test_negative_page_size_is_an_error() -> None:
    with pytest.raises(DomainError) as err:
        page_size(-1)
    assert err.value.reason.name == "INVALID_PAGE_SIZE"


def test_token_round_trip_and_tamper() -> None:
    tokens = PageTokens(b"k" * 32)
    token = tokens.encode(40, "status=ACTIVE")
    assert tokens.decode(token, "status=ACTIVE") == 40
    assert tokens.decode("", "status=ACTIVE") == 0
    for bad, fingerprint in [(token, "status=DRAFT"), (token[:-2] + "AA", "status=ACTIVE"), ("%%%", "x")]:
        with pytest.raises(DomainError) as err:
            tokens.decode(bad, fingerprint)
        assert err.value.reason.name == "INVALID_PAGE_TOKEN"
    assert PageTokens(b"other" * 8).encode(40, "status=ACTIVE") != token
