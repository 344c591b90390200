"""Pure catalog rules: slugs, prices, options and variant consistency.

Every function here is free of I/O so the rules are table-tested; each collects
:class:`FieldViolation` rows for the request path it is given, and the service raises
them all at once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

from rcommerce import money
from rcommerce.domain.catalog.errors import INVALID_CURRENCY, INVALID_PRICE, CatalogError
from rcommerce.errors import INVALID_ORDER_BY, FieldViolation, RequestError, raise_violations
from rcommerce.gen.v1 import catalog_pb2, common_pb2

__all__ = [
    "MAX_SLUG",
    "MAX_TITLE",
    "ORDER_FIELDS",
    "check_enum",
    "check_option_values",
    "check_options",
    "check_prices",
    "check_slug",
    "check_title",
    "parse_order_by",
    "raise_all",
    "slugify",
    "variant_title",
]

MAX_SLUG = 200
MAX_TITLE = 255
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """Lower-case ASCII words joined by "-", at most 200 characters ("Blue Tée!" -> "blue-tee").

    Accents are stripped by NFKD normalisation; anything else that is not a letter or
    digit separates words. May return "" (a title of only symbols).
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return _NOT_ALNUM.sub("-", ascii_text).strip("-")[:MAX_SLUG].rstrip("-")


def check_slug(slug: str, field: str) -> list[FieldViolation]:
    """An explicit slug must already be in slug form (what :func:`slugify` produces)."""
    if len(slug) > MAX_SLUG or not _SLUG.match(slug):
        return [
            FieldViolation(
                field, "must be lower-case letters and digits joined by single hyphens, at most 200 characters"
            )
        ]
    return []


def check_title(title: str, field: str) -> list[FieldViolation]:
    if not title.strip():
        return [FieldViolation(field, "is required")]
    if len(title) > MAX_TITLE:
        return [FieldViolation(field, f"must be at most {MAX_TITLE} characters")]
    return []


def check_enum(value: int, allowed: Iterable[int], field: str) -> list[FieldViolation]:
    """Proto3 enums accept any number on the wire; unknown numbers are refused here."""
    return [] if value in set(allowed) else [FieldViolation(field, f"{value} is not a known value")]


def check_prices(prices: Sequence[common_pb2.Money], field: str) -> None:
    """At most one price per currency, known currencies, amounts 0..MAX_AMOUNT.

    Raises INVALID_CURRENCY before INVALID_PRICE, each with every offending field.
    """
    bad_currency: list[FieldViolation] = []
    bad_price: list[FieldViolation] = []
    seen: set[str] = set()
    for i, price in enumerate(prices):
        path = f"{field}[{i}]"
        if not money.is_currency(price.currency_code):
            bad_currency.append(
                FieldViolation(f"{path}.currency_code", f"{price.currency_code!r} is not an ISO 4217 code such as USD")
            )
        elif price.currency_code in seen:
            bad_price.append(
                FieldViolation(
                    f"{path}.currency_code", f"{price.currency_code} appears twice; give one price per currency"
                )
            )
        seen.add(price.currency_code)
        if not 0 <= price.amount <= money.MAX_AMOUNT:
            bad_price.append(FieldViolation(f"{path}.amount", f"must be between 0 and {money.MAX_AMOUNT} minor units"))
    for reason, violations in ((INVALID_CURRENCY, bad_currency), (INVALID_PRICE, bad_price)):
        if violations:
            summary = "; ".join(f"{v.field}: {v.description}" for v in violations)
            raise CatalogError(reason, f"Fix the prices. {summary}", violations=violations, field=violations[0].field)


def check_options(options: Sequence[catalog_pb2.ProductOption], field: str) -> list[FieldViolation]:
    """Option names unique and non-empty; each option has unique, non-empty values."""
    violations: list[FieldViolation] = []
    names: set[str] = set()
    for i, option in enumerate(options):
        path = f"{field}[{i}]"
        if not option.name.strip():
            violations.append(FieldViolation(f"{path}.name", "is required"))
        elif option.name in names:
            violations.append(FieldViolation(f"{path}.name", f"{option.name!r} appears twice"))
        names.add(option.name)
        if not option.values:
            violations.append(FieldViolation(f"{path}.values", "needs at least one value"))
        if len(set(option.values)) != len(option.values) or any(not v.strip() for v in option.values):
            violations.append(FieldViolation(f"{path}.values", "must be unique and non-empty"))
    return violations


def check_option_values(
    option_values: Mapping[str, str], options: Sequence[catalog_pb2.ProductOption], field: str
) -> list[FieldViolation]:
    """The keys must be exactly the product's option names, each value one of its values."""
    allowed = {o.name: list(o.values) for o in options}
    violations: list[FieldViolation] = []
    missing = [name for name in allowed if name not in option_values]
    if missing:
        violations.append(FieldViolation(field, f"needs a value for {', '.join(missing)}"))
    for key, value in sorted(option_values.items()):
        if key not in allowed:
            violations.append(FieldViolation(f"{field}[{key!r}]", f"the product has no option {key!r}"))
        elif value not in allowed[key]:
            violations.append(FieldViolation(f"{field}[{key!r}]", f"{value!r} is not one of {', '.join(allowed[key])}"))
    return violations


def variant_title(option_values: Mapping[str, str], options: Sequence[catalog_pb2.ProductOption]) -> str:
    """ "S / Black": the values in the product's option order; "Default" without options."""
    values = [option_values[o.name] for o in options if o.name in option_values]
    return " / ".join(values) if values else "Default"


def raise_all(violations: list[FieldViolation]) -> None:
    """VALIDATION_FAILED with every violation, when there are any."""
    raise_violations(violations)


ORDER_FIELDS = ("create_time", "update_time", "title", "price")


def parse_order_by(order_by: str) -> list[tuple[str, bool]]:
    """``"price desc, title"`` -> ``[("price", True), ("title", False)]``.

    Empty means ``create_time desc``. Unknown fields, unknown directions and repeated
    fields raise INVALID_ORDER_BY.
    """

    if not order_by.strip():
        return [("create_time", True)]
    result: list[tuple[str, bool]] = []
    for part in order_by.split(","):
        words = part.split()
        valid = (
            len(words) in (1, 2)
            and words[0] in ORDER_FIELDS
            and (len(words) == 1 or words[1].lower() in ("asc", "desc"))
            and words[0] not in {f for f, _ in result}
        )
        if not valid:
            raise RequestError(
                INVALID_ORDER_BY,
                f"order_by {order_by!r} is invalid at {part.strip()!r}; use comma-separated fields among {', '.join(ORDER_FIELDS)}, each optionally followed by ' desc'.",
                violations=[FieldViolation("order_by", f"unknown or repeated field or direction {part.strip()!r}")],
                orderBy=order_by,
            )
        result.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return result
