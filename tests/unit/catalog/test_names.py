"""Resource names."""

from __future__ import annotations

import pytest

from rcommerce.errors import DomainError
from rcommerce.names import category_name, parse_child_name, parse_name, product_name, variant_name

PID = "prod_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"
VID = "var_01JA9ZQ3K8M0Q4XH7D2V5C6B8N"


def test_parse_name_round_trips() -> None:
    assert parse_name(product_name(PID), "products", "prod") == PID
    assert parse_child_name(variant_name(PID, VID), "products", "prod", "variants", "var") == (PID, VID)
    assert category_name("cat_x") == "categories/cat_x"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param(PID, id="bare-id"),
        pytest.param(f"products/{VID}", id="wrong-prefix"),
        pytest.param(f"categories/{PID}", id="wrong-collection"),
        pytest.param("products/prod_short", id="malformed-id"),
        pytest.param(f"products/{PID}/variants/{VID}", id="child-name"),
    ],
)
def test_parse_name_rejects(value: str) -> None:
    with pytest.raises(DomainError) as err:
        parse_name(value, "products", "prod", "product.name")
    assert err.value.reason.name == "INVALID_RESOURCE_NAME"
    assert (err.value.metadata["field"], err.value.metadata["value"]) == ("product.name", value)
    assert err.value.violations[0].field == "product.name"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(f"products/{PID}", id="parent-only"),
        pytest.param(f"products/{PID}/images/{VID}", id="wrong-child-collection"),
        pytest.param(f"products/{VID}/variants/{PID}", id="swapped-ids"),
        pytest.param(f"products/{PID}/variants/{VID}/x", id="too-long"),
    ],
)
def test_parse_child_name_rejects(value: str) -> None:
    with pytest.raises(DomainError) as err:
        parse_child_name(value, "products", "prod", "variants", "var")
    assert err.value.reason.name == "INVALID_RESOURCE_NAME"
