"""ListOrders: typed filters and ``order_by`` to one SQL query (plus one count query).

``order_by`` is a comma-separated list of ``field [asc|desc]`` over create_time,
update_time, total and number (AIP-132); the id breaks ties so pages never overlap.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select

from rcommerce.domain.orders import convert
from rcommerce.domain.orders.models import OrderLineRow, OrderRow, OrderTagRow
from rcommerce.errors import FieldViolation, raise_violations
from rcommerce.gen.v1 import orders_pb2 as O
from rcommerce.names import parse_name

__all__ = ["DEFAULT_ORDER_BY", "filters", "ordering", "query"]

DEFAULT_ORDER_BY = "create_time desc"
_SORTABLE: dict[str, Any] = {
    "create_time": OrderRow.created_at,
    "update_time": OrderRow.updated_at,
    "total": OrderRow.total,
    "number": OrderRow.number_value,
}


def ordering(order_by: str) -> list[ColumnElement[Any]]:
    """SQL ORDER BY clauses for ``order_by``; VALIDATION_FAILED on an unknown field."""
    clauses: list[ColumnElement[Any]] = []
    problems: list[FieldViolation] = []
    last_desc = False
    for part in (order_by or DEFAULT_ORDER_BY).split(","):
        words = part.split()
        if not words:
            continue
        column = _SORTABLE.get(words[0])
        direction = words[1].lower() if len(words) > 1 else "asc"
        if column is None or len(words) > 2 or direction not in ("asc", "desc"):
            problems.append(
                FieldViolation("order_by", f"{part.strip()!r}: use {', '.join(_SORTABLE)} with asc or desc")
            )
            continue
        last_desc = direction == "desc"
        clauses.append(column.desc() if last_desc else column.asc())
    raise_violations(problems)
    clauses.append(OrderRow.id.desc() if last_desc else OrderRow.id.asc())
    return clauses


def filters(request: O.ListOrdersRequest, customer_id: str | None) -> list[ColumnElement[bool]]:
    """WHERE clauses of ``request``; ``customer_id`` (a customer caller) limits to their orders."""
    where: list[ColumnElement[bool]] = []
    problems: list[FieldViolation] = []
    if request.status:
        if 0 in request.status:
            problems.append(FieldViolation("status", "ORDER_STATUS_UNSPECIFIED is not a status"))
        where.append(OrderRow.status.in_([convert.status_from_value(v) for v in request.status if v]))
    if request.payment_status:
        if 0 in request.payment_status:
            problems.append(FieldViolation("payment_status", "UNSPECIFIED is not a payment status"))
        where.append(
            OrderRow.payment_status.in_([convert.payment_status_from_value(v) for v in request.payment_status if v])
        )
    if request.fulfillment_status:
        if 0 in request.fulfillment_status:
            problems.append(FieldViolation("fulfillment_status", "UNSPECIFIED is not a fulfilment status"))
        where.append(
            OrderRow.fulfillment_status.in_(
                [convert.fulfillment_status_from_value(v) for v in request.fulfillment_status if v]
            )
        )
    if request.HasField("min_total") and request.HasField("max_total") and request.min_total > request.max_total:
        problems.append(FieldViolation("min_total", "must not exceed max_total"))
    if request.min_risk_score < 0:
        problems.append(FieldViolation("min_risk_score", "must be >= 0"))
    raise_violations(problems)
    if customer_id is not None:
        where.append(OrderRow.customer_id == customer_id)
    elif request.customer:
        where.append(OrderRow.customer_id == parse_name(request.customer, "customers", "cus", "customer"))
    if request.email:
        where.append(func.lower(OrderRow.email) == request.email.strip().lower())
    if request.HasField("create_time_after"):
        where.append(OrderRow.created_at >= request.create_time_after.ToDatetime(tzinfo=UTC))
    if request.HasField("create_time_before"):
        where.append(OrderRow.created_at < request.create_time_before.ToDatetime(tzinfo=UTC))
    if request.HasField("update_time_after"):
        where.append(OrderRow.updated_at >= request.update_time_after.ToDatetime(tzinfo=UTC))
    if request.HasField("min_total"):
        where.append(OrderRow.total >= request.min_total)
    if request.HasField("max_total"):
        where.append(OrderRow.total <= request.max_total)
    if request.tag:
        where.append(exists().where(and_(OrderTagRow.order_id == OrderRow.id, OrderTagRow.tag == request.tag)))
    if request.min_risk_score:
        where.append(OrderRow.fraud_score >= request.min_risk_score)
    text = request.query.strip().lower()
    if text:
        pattern = f"%{_escape(text)}%"
        where.append(
            or_(
                OrderRow.number == text.removeprefix("#"),
                func.lower(OrderRow.email).like(pattern, escape="\\"),
                exists().where(
                    and_(
                        OrderLineRow.order_id == OrderRow.id,
                        or_(
                            func.lower(OrderLineRow.sku).like(pattern, escape="\\"),
                            func.lower(OrderLineRow.title).like(pattern, escape="\\"),
                        ),
                    )
                ),
            )
        )
    return where


def query(request: O.ListOrdersRequest, customer_id: str | None) -> tuple[Select[Any], Select[Any]]:
    """(page query without offset/limit, count query)."""
    where = filters(request, customer_id)
    page = select(OrderRow).where(*where).order_by(*ordering(request.order_by))
    count = select(func.count()).select_from(OrderRow).where(*where)
    return page, count


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
