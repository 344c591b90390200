"""Currencies, minor units and ids."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from rcommerce.ids import id_prefix, new_id
from rcommerce.money import exponent, format_amount, from_decimal, is_currency, to_decimal


@pytest.mark.parametrize(
    ("code", "exp"),
    [
        pytest.param("USD", 2, id="usd"),
        pytest.param("JPY", 0, id="jpy-no-minor"),
        pytest.param("KWD", 3, id="kwd-three"),
    ],
)
def test_exponents(code: str, exp: int) -> None:
    assert exponent(code) == exp


@pytest.mark.parametrize(
    ("value", "code", "minor"),
    [
        pytest.param("19.99", "USD", 1999, id="usd"),
        pytest.param("0.005", "USD", 1, id="half-up"),
        pytest.param("0.015", "USD", 2, id="half-up-odd"),
        pytest.param("500", "JPY", 500, id="jpy"),
        pytest.param("1.2345", "KWD", 1235, id="kwd"),
    ],
)
def test_from_decimal_rounds_half_up(value: str, code: str, minor: int) -> None:
    assert from_decimal(Decimal(value), code) == minor


def test_round_trip_and_format() -> None:
    assert to_decimal(1999, "USD") == Decimal("19.99")
    assert format_amount(500, "JPY") == "500 JPY"


def test_currency_codes() -> None:
    assert is_currency("EUR") and not is_currency("eur") and not is_currency("XXX")


def test_ids_are_prefixed_and_sort_by_time() -> None:
    early = new_id("prod", datetime(2026, 1, 1, tzinfo=UTC))
    late = new_id("prod", datetime(2026, 1, 2, tzinfo=UTC))
    assert early < late
    assert id_prefix(early) == "prod" and len(early) == 31
    assert id_prefix("prod_short") is None and id_prefix("products/prod_x") is None


def test_an_id_spells_its_time_and_random_bits_in_crockford_base32(monkeypatch: pytest.MonkeyPatch) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    monkeypatch.setattr("rcommerce.ids.secrets.randbits", lambda bits: (1 << bits) - 2)
    value = (int(at.timestamp() * 1000) << 80) | ((1 << 80) - 2)
    digits = "".join("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(value >> (5 * i)) & 31] for i in reversed(range(26)))
    assert new_id("ord", at) == f"ord_{digits}" and digits.endswith("ZZY")
