"""Catalog rows for the inventory tests, written straight to the tables (the catalog's
own rules are tested elsewhere)."""

from __future__ import annotations

from datetime import UTC, datetime

from rcommerce.db import Database
from rcommerce.domain.catalog.models import ProductRow, VariantRow
from rcommerce.ids import new_id

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def make_variant(
    db: Database, *, quantity: int = 0, policy: str = "deny", managed: bool = True
) -> tuple[str, str]:
    """A new product with one variant holding ``quantity`` in the catalog; (product id, variant id)."""
    pid, vid = new_id("prod", T0), new_id("var", T0)
    async with db.transaction() as session:
        session.add(
            ProductRow(
                id=pid, title="Stock test", slug=pid.lower(), description="", status="active", kind="physical",
                options=[], images=[], vendor="", seo_title="", seo_description="", extra={}, revision=1,
                created_at=T0, updated_at=T0, published_at=None, create_request_id=None,
            )
        )  # fmt: skip
        await session.flush()
        session.add(
            VariantRow(
                id=vid, product_id=pid, title="Default", sku=None, barcode="", option_values={}, compare_at_prices=[],
                inventory_policy=policy, manage_inventory=managed, inventory_quantity=quantity, weight_grams=0,
                length_mm=0, width_mm=0, height_mm=0, requires_shipping=True, position=0, created_at=T0, updated_at=T0,
            )
        )  # fmt: skip
    return pid, vid
