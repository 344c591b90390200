"""Rows to protos and back for promotions. No I/O and no rules."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from google.protobuf import json_format, struct_pb2

from rcommerce.gen.v1 import promotions_pb2 as P
from rcommerce.timestamps import to_timestamp

from .models import PromotionCurrencyRow, PromotionEligibilityRow, PromotionRow, PromotionTargetRow

TYPE_TO_DB = {
    P.PROMOTION_TYPE_PERCENTAGE: "percentage",
    P.PROMOTION_TYPE_FIXED_AMOUNT: "fixed_amount",
    P.PROMOTION_TYPE_FREE_SHIPPING: "free_shipping",
    P.PROMOTION_TYPE_BUY_X_GET_Y: "buy_x_get_y",
}
TYPE_FROM_DB = {v: k for k, v in TYPE_TO_DB.items()}
STATUS_TO_DB = {
    P.PROMOTION_STATUS_DRAFT: "draft",
    P.PROMOTION_STATUS_ACTIVE: "active",
    P.PROMOTION_STATUS_ARCHIVED: "archived",
}
STATUS_FROM_DB = {v: k for k, v in STATUS_TO_DB.items()}

#: Target kind -> (resource collection, id prefix) of its resource names.
TARGET_KINDS = {
    "product": ("products", "prod"),
    "collection": ("collections", "col"),
    "category": ("categories", "cat"),
}


def promotion_name(promotion_id: str) -> str:
    return f"promotions/{promotion_id}"


def percent_text(value: Decimal) -> str:
    """``Decimal("20.000000")`` -> ``"20"``; ``Decimal("12.5")`` -> ``"12.5"``."""
    text = f"{value.normalize():f}"
    return text if text != "-0" else "0"


def _targets(rows: Sequence[PromotionTargetRow], exclude: bool) -> P.PromotionTargets:
    out = P.PromotionTargets()
    for row in sorted(rows, key=lambda r: r.target_id):
        if row.exclude != exclude:
            continue
        collection, _ = TARGET_KINDS[row.kind]
        {"product": out.products, "collection": out.collections, "category": out.categories}[row.kind].append(
            f"{collection}/{row.target_id}"
        )
    return out


def promotion_to_proto(
    row: PromotionRow,
    currencies: Sequence[PromotionCurrencyRow],
    targets: Sequence[PromotionTargetRow],
    eligibility: Sequence[PromotionEligibilityRow],
) -> P.Promotion:
    msg = P.Promotion(
        name=promotion_name(row.id),
        id=row.id,
        code=row.code or "",
        title=row.title,
        description=row.description,
        type=TYPE_FROM_DB[row.type],
        status=STATUS_FROM_DB[row.status],
        percent=percent_text(row.percent) if row.percent else "",
        buy_quantity=row.buy_quantity,
        get_quantity=row.get_quantity,
        include=_targets(targets, exclude=False),
        exclude=_targets(targets, exclude=True),
        usage_count=row.usage_count,
        new_customers_only=row.new_customers_only,
        customer_groups=sorted(f"customerGroups/{e.subject_id}" for e in eligibility if e.kind == "customer_group"),
        customers=sorted(f"customers/{e.subject_id}" for e in eligibility if e.kind == "customer"),
        combinable=row.combinable,
        start_time=to_timestamp(row.starts_at),
        end_time=to_timestamp(row.ends_at),
        automatic=not row.code,
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
        etag=str(row.revision),
    )
    if row.usage_limit is not None:
        msg.usage_limit = row.usage_limit
    if row.usage_limit_per_customer is not None:
        msg.usage_limit_per_customer = row.usage_limit_per_customer
    for c in sorted(currencies, key=lambda c: c.currency_code):
        entry = msg.currencies.add(currency_code=c.currency_code)
        if c.amount is not None:
            entry.amount = c.amount
        if c.max_discount is not None:
            entry.max_discount = c.max_discount
        if c.minimum_subtotal is not None:
            entry.minimum_subtotal = c.minimum_subtotal
    if row.extra:
        msg.metadata.update(row.extra)
    return msg


def struct_to_db(value: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(value)
    return result
