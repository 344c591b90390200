"""Pure validation of price list requests (no I/O), reporting every problem at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rcommerce import money
from rcommerce.domain.catalog.errors import INVALID_CURRENCY, INVALID_PRICE
from rcommerce.domain.price_lists.errors import INVALID_PRICE_LIST_WINDOW
from rcommerce.domain.regions.rules import Problem
from rcommerce.errors import INVALID_RESOURCE_NAME, VALIDATION_FAILED, FieldViolation
from rcommerce.gen.v1 import regions_pb2
from rcommerce.ids import id_prefix

__all__ = ["MAX_BATCH", "MAX_GROUPS", "check_groups", "check_keys", "check_prices", "check_title", "check_window"]

MAX_BATCH = 1000
MAX_GROUPS = 100
MAX_TITLE = 255


def check_title(title: str, path: str) -> list[Problem]:
    if not title.strip():
        return [(VALIDATION_FAILED, FieldViolation(path, "is required"))]
    if len(title) > MAX_TITLE:
        return [(VALIDATION_FAILED, FieldViolation(path, f"must be at most {MAX_TITLE} characters"))]
    return []


def check_window(starts_at: datetime | None, ends_at: datetime | None, path: str) -> list[Problem]:
    """The window is ``[starts_at, ends_at)``; an end at or before the start is refused."""
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        return [(INVALID_PRICE_LIST_WINDOW, FieldViolation(f"{path}.end_time", "must be later than start_time"))]
    return []


def check_groups(group_ids: Sequence[str], path: str) -> list[Problem]:
    out: list[Problem] = []
    if len(group_ids) > MAX_GROUPS:
        out.append((VALIDATION_FAILED, FieldViolation(path, f"at most {MAX_GROUPS} customer groups")))
    seen: set[str] = set()
    for i, group_id in enumerate(group_ids):
        if id_prefix(group_id) != "cgrp":
            out.append(
                (
                    INVALID_RESOURCE_NAME,
                    FieldViolation(f"{path}[{i}]", f"{group_id!r} is not a customer group id (cgrp_...)"),
                )
            )
        elif group_id in seen:
            out.append((VALIDATION_FAILED, FieldViolation(f"{path}[{i}]", f"{group_id} is listed twice")))
        seen.add(group_id)
    return out


def _check_key(variant_id: str, currency: str, path: str) -> list[Problem]:
    out: list[Problem] = []
    if id_prefix(variant_id) != "var":
        out.append(
            (
                INVALID_RESOURCE_NAME,
                FieldViolation(f"{path}.variant_id", f"{variant_id!r} is not a variant id (var_...)"),
            )
        )
    if not money.is_currency(currency):
        out.append(
            (
                INVALID_CURRENCY,
                FieldViolation(f"{path}.currency_code", f"{currency!r} is not an ISO 4217 code such as USD"),
            )
        )
    return out


def check_prices(prices: Sequence[regions_pb2.PriceListPrice], path: str) -> list[Problem]:
    """Well-formed keys, amounts 0..MAX_AMOUNT, one price per (variant, currency), at most MAX_BATCH."""
    out: list[Problem] = []
    if len(prices) > MAX_BATCH:
        return [(VALIDATION_FAILED, FieldViolation(path, f"at most {MAX_BATCH} prices per request"))]
    seen: set[tuple[str, str]] = set()
    for i, price in enumerate(prices):
        item = f"{path}[{i}]"
        out += _check_key(price.variant_id, price.currency_code, item)
        if not 0 <= price.amount <= money.MAX_AMOUNT:
            out.append(
                (
                    INVALID_PRICE,
                    FieldViolation(f"{item}.amount", f"must be between 0 and {money.MAX_AMOUNT} minor units"),
                )
            )
        key = (price.variant_id, price.currency_code)
        if key in seen:
            out.append(
                (INVALID_PRICE, FieldViolation(item, f"{price.variant_id} has two {price.currency_code} prices"))
            )
        seen.add(key)
    return out


def check_keys(keys: Sequence[regions_pb2.PriceListPriceKey], path: str) -> list[Problem]:
    if len(keys) > MAX_BATCH:
        return [(VALIDATION_FAILED, FieldViolation(path, f"at most {MAX_BATCH} prices per request"))]
    out: list[Problem] = []
    for i, key in enumerate(keys):
        out += _check_key(key.variant_id, key.currency_code, f"{path}[{i}]")
    return out
