"""Resource names ("products/prod_...") and their ids.

Parsing raises INVALID_RESOURCE_NAME with a field violation naming the request field, so
a client sees which of its fields was malformed; formatting helpers build the names the
API returns.
"""

from __future__ import annotations

from rcommerce.errors import INVALID_RESOURCE_NAME, FieldViolation, RequestError
from rcommerce.ids import id_prefix

__all__ = [
    "category_name",
    "collection_name",
    "parse_child_name",
    "parse_name",
    "product_name",
    "variant_name",
]


def _invalid(value: str, expected: str, field: str) -> RequestError:
    return RequestError(
        INVALID_RESOURCE_NAME,
        f"{field} must look like {expected}, not {value!r}.",
        violations=[FieldViolation(field, f"expected {expected}")],
        field=field,
        value=value,
        expected=expected,
    )


def parse_name(value: str, collection: str, prefix: str, field: str = "name") -> str:
    """The id in ``"{collection}/{id}"``; INVALID_RESOURCE_NAME when malformed or when
    the id is of another kind ("products/var_...")."""
    head, _, rest = value.partition("/")
    if head != collection or id_prefix(rest) != prefix:
        raise _invalid(value, f"{collection}/{prefix}_...", field)
    return rest


def parse_child_name(
    value: str, collection: str, prefix: str, child_collection: str, child_prefix: str, field: str = "name"
) -> tuple[str, str]:
    """The (parent id, child id) in ``"{collection}/{p}/{child_collection}/{c}"``, for
    example ``products/prod_.../variants/var_...``; INVALID_RESOURCE_NAME otherwise."""
    parts = value.split("/")
    if (
        len(parts) != 4
        or parts[0] != collection
        or parts[2] != child_collection
        or id_prefix(parts[1]) != prefix
        or id_prefix(parts[3]) != child_prefix
    ):
        raise _invalid(value, f"{collection}/{prefix}_.../{child_collection}/{child_prefix}_...", field)
    return parts[1], parts[3]


def product_name(product_id: str) -> str:
    return f"products/{product_id}"


def variant_name(product_id: str, variant_id: str) -> str:
    return f"products/{product_id}/variants/{variant_id}"


def category_name(category_id: str) -> str:
    return f"categories/{category_id}"


def collection_name(collection_id: str) -> str:
    return f"collections/{collection_id}"
