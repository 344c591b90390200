"""The price resolution rule and the pure validation of regions and price lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rcommerce.domain.price_lists import validation
from rcommerce.domain.price_lists.rules import Candidate, PriceListType, UnitPrice, is_live, resolve
from rcommerce.domain.regions import rules
from rcommerce.domain.regions.countries import COUNTRY_CODES, is_country
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import regions_pb2 as R

SALE, OVERRIDE = PriceListType.SALE, PriceListType.OVERRIDE
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("base", "candidates", "expected"),
    [
        pytest.param(2500, [], UnitPrice(2500, 2500, ""), id="base-only"),
        pytest.param(2500, [Candidate("pl_a", SALE, 1999)], UnitPrice(1999, 2500, "pl_a"), id="sale-below-base"),
        pytest.param(2500, [Candidate("pl_a", SALE, 2500)], UnitPrice(2500, 2500, ""), id="sale-equal-base-ignored"),
        pytest.param(2500, [Candidate("pl_a", SALE, 3000)], UnitPrice(2500, 2500, ""), id="sale-above-base-ignored"),
        pytest.param(
            2500, [Candidate("pl_a", SALE, 2000), Candidate("pl_b", SALE, 1800)], UnitPrice(1800, 2500, "pl_b"),
            id="lowest-sale-wins",
        ),
        pytest.param(
            2500, [Candidate("pl_a", SALE, 1500), Candidate("pl_b", OVERRIDE, 2200)], UnitPrice(2200, 2500, "pl_b"),
            id="override-beats-lower-sale",
        ),
        pytest.param(1000, [Candidate("pl_a", OVERRIDE, 1100)], UnitPrice(1100, 1000, "pl_a"), id="override-above-base"),
        pytest.param(
            1000, [Candidate("pl_a", OVERRIDE, 900), Candidate("pl_b", OVERRIDE, 800)], UnitPrice(800, 1000, "pl_b"),
            id="lowest-override-wins",
        ),
        pytest.param(
            1000, [Candidate("pl_b", SALE, 700), Candidate("pl_a", SALE, 700)], UnitPrice(700, 1000, "pl_a"),
            id="tie-goes-to-smallest-id",
        ),
        pytest.param(0, [Candidate("pl_a", SALE, 0)], UnitPrice(0, 0, ""), id="free-stays-free"),
    ],
)  # fmt: skip
def test_resolve(base: int, candidates: list[Candidate], expected: UnitPrice) -> None:
    assert resolve(base, candidates) == expected
    assert resolve(base, iter(candidates)) == expected  # any iterable, consumed once


def test_core_domain_r1_unit_price_is_the_variant_price() -> None:
    # core-domain R1: unit price = the variant's price; Ex1's 2 x 49.99 line has unit 4999.
    assert resolve(4999, []).amount == 4999
    assert resolve(4999, [Candidate("pl_a", SALE, 3999)]).amount * 2 == 7998


@pytest.mark.parametrize(
    ("status", "starts", "ends", "live"),
    [
        ("active", None, None, True),
        ("draft", None, None, False),
        ("active", NOW, None, True),  # the start is inclusive
        ("active", NOW + timedelta(microseconds=1), None, False),
        ("active", None, NOW, False),  # the end is exclusive
        ("active", None, NOW + timedelta(microseconds=1), True),
        ("active", NOW - timedelta(days=1), NOW + timedelta(days=1), True),
    ],
)
def test_is_live(status: str, starts: datetime | None, ends: datetime | None, live: bool) -> None:
    assert is_live(status, starts, ends, NOW) is live


def test_country_table() -> None:
    assert len(COUNTRY_CODES) == 249
    assert is_country("DE") and is_country("US") and not is_country("de") and not is_country("XX")
    assert not is_country("UK")  # the United Kingdom is GB


def fields(problems: list[rules.Problem]) -> list[tuple[str, str]]:
    return [(reason.name, violation.field) for reason, violation in problems]


def test_provider_checks() -> None:
    known = rules.KnownProviders({"payment": frozenset({"stripe"})})
    assert rules.check_providers("payment", ["stripe", "manual", "test"], known, "p") == []
    assert fields(rules.check_providers("payment", ["paypal"], known, "p")) == [("UNKNOWN_PROVIDER", "p[0]")]
    # Nothing installed for shipping: only the form is checked.
    assert rules.check_providers("shipping", ["dhl-express", "ups_ground"], known, "s") == []
    assert fields(rules.check_providers("shipping", ["DHL", "a b", "", "x", "x"], known, "s")) == [
        ("UNKNOWN_PROVIDER", "s[0]"), ("UNKNOWN_PROVIDER", "s[1]"), ("UNKNOWN_PROVIDER", "s[2]"),
        ("UNKNOWN_PROVIDER", "s[4]"),
    ]  # fmt: skip
    assert fields(rules.check_providers("tax", ["Avalara"], known, "t", single=True)) == [("UNKNOWN_PROVIDER", "t")]


def test_country_and_currency_checks() -> None:
    assert rules.check_countries(["DE", "FR"], "c") == []
    assert fields(rules.check_countries(["DE", "de", "DE", "EU"], "c")) == [
        ("INVALID_COUNTRY", "c[1]"), ("INVALID_COUNTRY", "c[2]"), ("INVALID_COUNTRY", "c[3]"),
    ]  # fmt: skip
    assert rules.check_currency("JPY", "x") == [] and fields(rules.check_currency("usd", "x")) == [
        ("INVALID_CURRENCY", "x")
    ]


def test_raise_all_picks_the_shared_reason() -> None:
    rules.raise_all([])
    with pytest.raises(DomainError) as one:
        rules.raise_all(rules.check_countries(["XX", "YY"], "c"))
    assert one.value.reason.name == "INVALID_COUNTRY" and len(one.value.violations) == 2
    with pytest.raises(DomainError) as mixed:
        rules.raise_all(rules.check_countries(["XX"], "c") + rules.check_currency("", "x"))
    assert mixed.value.reason.name == "VALIDATION_FAILED"


def test_price_list_checks() -> None:
    var = "var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"
    assert validation.check_window(NOW, NOW + timedelta(seconds=1), "p") == []
    assert validation.check_window(None, NOW, "p") == [] and validation.check_window(NOW, None, "p") == []
    assert fields(validation.check_window(NOW, NOW, "p")) == [("INVALID_PRICE_LIST_WINDOW", "p.end_time")]
    ok = [
        R.PriceListPrice(variant_id=var, currency_code="USD", amount=0),
        R.PriceListPrice(variant_id=var, currency_code="EUR", amount=10**15),
    ]
    assert validation.check_prices(ok, "p") == []
    bad = [
        R.PriceListPrice(variant_id=var, currency_code="USD", amount=10**15 + 1),
        R.PriceListPrice(variant_id=var, currency_code="USD", amount=5),
        R.PriceListPrice(variant_id="prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N", currency_code="US", amount=5),
    ]
    assert fields(validation.check_prices(bad, "p")) == [
        ("INVALID_PRICE", "p[0].amount"), ("INVALID_PRICE", "p[1]"),
        ("INVALID_RESOURCE_NAME", "p[2].variant_id"), ("INVALID_CURRENCY", "p[2].currency_code"),
    ]  # fmt: skip
    assert fields(validation.check_prices([ok[0]] * 1001, "p")) == [("VALIDATION_FAILED", "p")]
    assert fields(validation.check_groups(["cgrp_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"] * 2 + ["grp"], "g")) == [
        ("VALIDATION_FAILED", "g[1]"), ("INVALID_RESOURCE_NAME", "g[2]"),
    ]  # fmt: skip
