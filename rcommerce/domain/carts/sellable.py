"""The one check that a variant can be sold, shared by carts, draft orders and order edits."""

from __future__ import annotations

from collections.abc import Mapping

from rcommerce.domain.carts.errors import PRODUCT_NOT_AVAILABLE, CartError
from rcommerce.domain.catalog.errors import PRODUCT_NOT_FOUND, VARIANT_NOT_FOUND
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import catalog_pb2

__all__ = ["sellable_variant"]


def sellable_variant(
    products: Mapping[str, catalog_pb2.Product],
    product_id: str,
    variant_id: str,
    error: type[DomainError] = CartError,
) -> tuple[catalog_pb2.Product, catalog_pb2.Variant]:
    """The product and variant from ``products`` (loaded by id), or ``error`` with
    PRODUCT_NOT_FOUND, VARIANT_NOT_FOUND or PRODUCT_NOT_AVAILABLE (not active)."""
    product = products.get(product_id)
    if product is None:
        raise error(PRODUCT_NOT_FOUND, f"Product products/{product_id} does not exist.", productId=product_id)
    variant = next((v for v in product.variants if v.id == variant_id), None)
    if variant is None:
        raise error(
            VARIANT_NOT_FOUND, f"Product products/{product_id} has no variant {variant_id}.",
            productId=product_id, variantId=variant_id,
        )  # fmt: skip
    if product.status != catalog_pb2.PRODUCT_STATUS_ACTIVE:
        raise error(PRODUCT_NOT_AVAILABLE, f"Product products/{product_id} is not active.", productId=product_id)
    return product, variant
