"""Pure catalog rules, one table per behaviour."""

from __future__ import annotations

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from rcommerce import money
from rcommerce.domain.catalog import rules
from rcommerce.domain.catalog._base import conflict_error
from rcommerce.errors import DomainError
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import common_pb2

OPTIONS = [C.ProductOption(name="Size", values=["S", "M"]), C.ProductOption(name="Color", values=["Black", "White"])]


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        pytest.param("Blue Tee", "blue-tee", id="simple"),
        pytest.param("  Señor   Café!! ", "senor-cafe", id="accents-and-punctuation"),
        pytest.param("ＡＢＣ 123", "abc-123", id="fullwidth-normalised"),
        pytest.param("T-Shirt -- XL", "t-shirt-xl", id="collapses-separators"),
        pytest.param("日本", "", id="nothing-ascii"),
        pytest.param("a" * 199 + " b", "a" * 199, id="trimmed-after-cut"),
        pytest.param("x" * 300, "x" * 200, id="max-200"),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert rules.slugify(title) == slug


@pytest.mark.parametrize(
    ("slug", "ok"),
    [
        pytest.param("blue-tee", True, id="valid"),
        pytest.param("tee-2", True, id="digits"),
        pytest.param("Blue-Tee", False, id="upper-case"),
        pytest.param("blue--tee", False, id="double-hyphen"),
        pytest.param("-blue", False, id="leading-hyphen"),
        pytest.param("blue tee", False, id="space"),
        pytest.param("a" * 201, False, id="too-long"),
    ],
)
def test_check_slug(slug: str, ok: bool) -> None:
    assert (rules.check_slug(slug, "slug") == []) is ok


@pytest.mark.parametrize(
    ("prices", "reason"),
    [
        pytest.param([("USD", 0), ("JPY", 100)], None, id="valid"),
        pytest.param([("USD", money.MAX_AMOUNT)], None, id="max-amount"),
        pytest.param([("USD", money.MAX_AMOUNT + 1)], "INVALID_PRICE", id="over-max"),
        pytest.param([("USD", -1)], "INVALID_PRICE", id="negative"),
        pytest.param([("USD", 1), ("USD", 2)], "INVALID_PRICE", id="currency-twice"),
        pytest.param([("usd", 1)], "INVALID_CURRENCY", id="lower-case"),
        pytest.param([("XXX", 1), ("USD", -5)], "INVALID_CURRENCY", id="currency-reported-first"),
        pytest.param([("", 1)], "INVALID_CURRENCY", id="empty"),
    ],
)
def test_check_prices(prices: list[tuple[str, int]], reason: str | None) -> None:
    messages = [common_pb2.Money(currency_code=c, amount=a) for c, a in prices]
    if reason is None:
        rules.check_prices(messages, "variant.prices")
        return
    with pytest.raises(DomainError) as err:
        rules.check_prices(messages, "variant.prices")
    assert err.value.reason.name == reason
    assert err.value.violations and err.value.violations[0].field.startswith("variant.prices[")
    assert err.value.metadata["field"] == err.value.violations[0].field


@pytest.mark.parametrize(
    ("values", "fields"),
    [
        pytest.param({"Size": "S", "Color": "Black"}, [], id="valid"),
        pytest.param({"Size": "S"}, ["v"], id="missing-option"),
        pytest.param({"Size": "XL", "Color": "Black"}, ["v['Size']"], id="unknown-value"),
        pytest.param({"Size": "S", "Color": "Black", "Fit": "Slim"}, ["v['Fit']"], id="unknown-option"),
        pytest.param({}, ["v"], id="empty"),
    ],
)
def test_check_option_values(values: dict[str, str], fields: list[str]) -> None:
    assert [v.field for v in rules.check_option_values(values, OPTIONS, "v")] == fields


def test_option_values_without_options() -> None:
    assert rules.check_option_values({}, [], "v") == []
    assert [v.field for v in rules.check_option_values({"Size": "S"}, [], "v")] == ["v['Size']"]


@pytest.mark.parametrize(
    ("options", "fields"),
    [
        pytest.param(OPTIONS, [], id="valid"),
        pytest.param([C.ProductOption(name="", values=["a"])], ["o[0].name"], id="unnamed"),
        pytest.param(
            [C.ProductOption(name="A", values=["a"]), C.ProductOption(name="A", values=["b"])],
            ["o[1].name"],
            id="duplicate-name",
        ),
        pytest.param([C.ProductOption(name="A")], ["o[0].values"], id="no-values"),
        pytest.param([C.ProductOption(name="A", values=["a", "a"])], ["o[0].values"], id="duplicate-value"),
    ],
)
def test_check_options(options: list[C.ProductOption], fields: list[str]) -> None:
    assert [v.field for v in rules.check_options(options, "o")] == fields


@pytest.mark.parametrize(
    ("values", "title"),
    [
        pytest.param({"Color": "Black", "Size": "S"}, "S / Black", id="option-order"),
        pytest.param({"Size": "M"}, "M", id="partial"),
        pytest.param({}, "Default", id="no-options"),
    ],
)
def test_variant_title(values: dict[str, str], title: str) -> None:
    assert rules.variant_title(values, OPTIONS) == title


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        pytest.param("", [("create_time", True)], id="default"),
        pytest.param("title", [("title", False)], id="ascending"),
        pytest.param("price desc, title", [("price", True), ("title", False)], id="two-fields"),
        pytest.param(" update_time  DESC ", [("update_time", True)], id="spaces-and-case"),
        pytest.param("title asc", [("title", False)], id="explicit-asc"),
    ],
)
def test_parse_order_by(text: str, parsed: list[tuple[str, bool]]) -> None:
    assert rules.parse_order_by(text) == parsed


@pytest.mark.parametrize("text", ["color", "title sideways", "title, title", "title desc extra", ",", "price;drop"])
def test_parse_order_by_rejects(text: str) -> None:
    with pytest.raises(DomainError) as err:
        rules.parse_order_by(text)
    assert err.value.reason.name == "INVALID_ORDER_BY"


@pytest.mark.parametrize(
    ("title", "ok"),
    [
        pytest.param("Tee", True, id="ok"),
        pytest.param("  ", False, id="blank"),
        pytest.param("x" * 256, False, id="too-long"),
    ],
)
def test_check_title(title: str, ok: bool) -> None:
    assert (rules.check_title(title, "t") == []) is ok


@pytest.mark.parametrize(
    ("paths", "message", "resolved"),
    [
        pytest.param(["*"], C.Product(), ["title", "slug", "status"], id="star-is-all"),
        pytest.param(
            [], C.Product(title="T", status=C.PRODUCT_STATUS_ACTIVE), ["title", "status"], id="empty-is-populated"
        ),
        pytest.param(["slug", "slug"], C.Product(), ["slug"], id="deduplicated"),
    ],
)
def test_resolve_mask(paths: list[str], message: C.Product, resolved: list[str]) -> None:
    assert resolve_mask(FieldMask(paths=paths), message, ["title", "slug", "status"]) == resolved


def test_resolve_mask_rejects_unknown_paths() -> None:
    with pytest.raises(DomainError) as err:
        resolve_mask(FieldMask(paths=["title", "variants"]), C.Product(), ["title"])
    assert (err.value.reason.name, err.value.metadata["paths"]) == ("INVALID_FIELD_MASK", "variants")


class _Orig(Exception):
    pass


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        pytest.param(
            'duplicate key value violates unique constraint "uq_products_slug"', "PRODUCT_SLUG_TAKEN", id="postgresql"
        ),
        pytest.param("Duplicate entry 'X-1' for key 'uq_variants_sku'", "VARIANT_SKU_TAKEN", id="mysql"),
        pytest.param("UNIQUE constraint failed: categories.slug", "CATEGORY_SLUG_TAKEN", id="sqlite"),
        pytest.param("UNIQUE constraint failed: collections.slug", "COLLECTION_SLUG_TAKEN", id="sqlite-collection"),
        pytest.param("UNIQUE constraint failed: outbox_events.id", None, id="not-ours"),
    ],
)
def test_conflict_error(text: str, reason: str | None) -> None:
    from sqlalchemy.exc import IntegrityError

    mapped = conflict_error(IntegrityError("INSERT", {}, _Orig(text)))
    assert (mapped.reason.name if mapped else None) == reason


def test_resolve_mask_can_require_a_change() -> None:
    from rcommerce.errors import DomainError

    with pytest.raises(DomainError, match="name at least one of title"):
        resolve_mask(FieldMask(), C.Product(), ["title"], require_some=True)
    assert resolve_mask(FieldMask(), C.Product(title="x"), ["title"], require_some=True) == ["title"]
