"""Rows to protos and proto values to column values. No I/O and no rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format, struct_pb2

from rcommerce.domain.catalog.models import CategoryRow, CollectionRow, ProductRow, VariantPriceRow, VariantRow
from rcommerce.gen.v1 import catalog_pb2, common_pb2
from rcommerce.names import category_name, collection_name, product_name, variant_name
from rcommerce.timestamps import to_timestamp

STATUS_TO_DB = {
    catalog_pb2.PRODUCT_STATUS_DRAFT: "draft",
    catalog_pb2.PRODUCT_STATUS_ACTIVE: "active",
    catalog_pb2.PRODUCT_STATUS_ARCHIVED: "archived",
}
STATUS_FROM_DB = {v: k for k, v in STATUS_TO_DB.items()}
KIND_TO_DB = {
    catalog_pb2.PRODUCT_KIND_PHYSICAL: "physical",
    catalog_pb2.PRODUCT_KIND_DIGITAL: "digital",
    catalog_pb2.PRODUCT_KIND_BUNDLE: "bundle",
}
KIND_FROM_DB = {v: k for k, v in KIND_TO_DB.items()}
POLICY_TO_DB = {catalog_pb2.INVENTORY_POLICY_DENY: "deny", catalog_pb2.INVENTORY_POLICY_CONTINUE: "continue"}
POLICY_FROM_DB = {v: k for k, v in POLICY_TO_DB.items()}


timestamp = to_timestamp


def options_to_db(options: Sequence[catalog_pb2.ProductOption]) -> list[dict[str, Any]]:
    return [{"name": o.name, "values": list(o.values)} for o in options]


def options_from_db(options: list[dict[str, Any]]) -> list[catalog_pb2.ProductOption]:
    return [catalog_pb2.ProductOption(name=o["name"], values=o["values"]) for o in options]


def images_to_db(images: Sequence[catalog_pb2.ProductImage]) -> list[dict[str, Any]]:
    return [{"url": i.url, "alt_text": i.alt_text, "width": i.width, "height": i.height} for i in images]


def money_to_db(prices: Sequence[common_pb2.Money]) -> list[dict[str, Any]]:
    return [{"currency_code": p.currency_code, "amount": p.amount} for p in prices]


def struct_to_db(value: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(value)
    return result


def variant_to_proto(row: VariantRow, prices: Sequence[VariantPriceRow]) -> catalog_pb2.Variant:
    return catalog_pb2.Variant(
        name=variant_name(row.product_id, row.id),
        id=row.id,
        title=row.title,
        sku=row.sku or "",
        barcode=row.barcode,
        option_values=row.option_values,
        prices=[
            common_pb2.Money(currency_code=p.currency_code, amount=p.amount)
            for p in sorted(prices, key=lambda p: p.currency_code)
        ],
        compare_at_prices=[common_pb2.Money(**p) for p in row.compare_at_prices],
        inventory_policy=POLICY_FROM_DB[row.inventory_policy],
        manage_inventory=row.manage_inventory,
        inventory_quantity=row.inventory_quantity,
        weight_grams=row.weight_grams,
        dimensions=common_pb2.Dimensions(length_mm=row.length_mm, width_mm=row.width_mm, height_mm=row.height_mm),
        requires_shipping=row.requires_shipping,
        position=row.position,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def product_to_proto(
    row: ProductRow,
    variants: Sequence[catalog_pb2.Variant],
    tags: Sequence[str],
    category_ids: Sequence[str],
    collection_ids: Sequence[str],
) -> catalog_pb2.Product:
    metadata = struct_pb2.Struct()
    metadata.update(row.extra)
    return catalog_pb2.Product(
        name=product_name(row.id),
        id=row.id,
        title=row.title,
        slug=row.slug,
        description=row.description,
        status=STATUS_FROM_DB[row.status],
        kind=KIND_FROM_DB[row.kind],
        options=options_from_db(row.options),
        variants=variants,
        images=[catalog_pb2.ProductImage(**i) for i in row.images],
        categories=[category_name(c) for c in category_ids],
        collections=[collection_name(c) for c in collection_ids],
        tags=tags,
        vendor=row.vendor,
        tax_category=row.tax_category,
        seo_title=row.seo_title,
        seo_description=row.seo_description,
        metadata=metadata if row.extra else None,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
        publish_time=timestamp(row.published_at),
        etag=str(row.revision),
    )


def category_to_proto(row: CategoryRow) -> catalog_pb2.Category:
    return catalog_pb2.Category(
        name=category_name(row.id),
        id=row.id,
        title=row.title,
        slug=row.slug,
        description=row.description,
        parent=category_name(row.parent_id) if row.parent_id else "",
        position=row.position,
        image_url=row.image_url,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )


def collection_to_proto(row: CollectionRow, product_count: int) -> catalog_pb2.Collection:
    return catalog_pb2.Collection(
        name=collection_name(row.id),
        id=row.id,
        title=row.title,
        slug=row.slug,
        description=row.description,
        product_count=product_count,
        create_time=timestamp(row.created_at),
        update_time=timestamp(row.updated_at),
    )
