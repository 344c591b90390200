"""Resource names ("products/prod_...") and their ids."""

from __future__ import annotations

from rcommerce.errors import INVALID_RESOURCE_NAME, FieldViolation, RequestError
from rcommerce.ids import id_prefix


def parse_name(value: str, collection: str, prefix: str, field: str = "name") -> str:
    """The id in ``"{collection}/{id}"``; INVALID_RESOURCE_NAME when malformed or when
    the id is of another kind ("products/var_...")."""
    head, _, rest = value.partition("/")
    if head != collection or id_prefix(rest) != prefix:
        raise RequestError(
            INVALID_RESOURCE_NAME,
            f"{field} must look like {collection}/{prefix}_..., not {value!r}.",
            violations=[FieldViolation(field, f"expected {collection}/{prefix}_...")],
            field=field,
            value=value,
        )
    return rest
