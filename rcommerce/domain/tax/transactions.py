"""Tax transactions: the tax charged on each order line (and shipping), one row per
component, for reports such as the EU OSS return. Written by checkout in the order's
transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.tax.convert import transaction_to_proto
from rcommerce.domain.tax.models import TaxTransactionRow
from rcommerce.domain.tax.zones import normalise_region
from rcommerce.errors import FieldViolation, raise_violations
from rcommerce.gen.v1 import tax_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size
from rcommerce.plugins.providers import Address, TaxComponent, TaxResult

__all__ = ["list_transactions", "record_tax_lines", "tax_line_rows"]

_ZERO = TaxComponent(name="", rate=Decimal(0), amount=0)


async def record_tax_lines(
    session: AsyncSession,
    order_id: str,
    order_line_ids: Mapping[str, str] | Sequence[str],
    result: TaxResult,
    *,
    currency: str,
    destination: Address,
    now: datetime,
    shipping_amount: int = 0,
    prices_include_tax: bool = False,
) -> list[TaxTransactionRow]:
    """Record ``result`` for order ``order_id`` ("ord_...") in the caller's transaction
    (the rows of :func:`tax_line_rows`, added to the session)."""
    rows = tax_line_rows(
        order_id, order_line_ids, result, currency=currency, destination=destination, now=now,
        shipping_amount=shipping_amount, prices_include_tax=prices_include_tax,
    )  # fmt: skip
    session.add_all(rows)
    return rows


def tax_line_rows(
    order_id: str,
    order_line_ids: Mapping[str, str] | Sequence[str],
    result: TaxResult,
    *,
    currency: str,
    destination: Address,
    now: datetime,
    shipping_amount: int = 0,
    prices_include_tax: bool = False,
) -> list[TaxTransactionRow]:
    """The tax transaction rows of ``result`` for order ``order_id`` ("ord_...").

    ``order_line_ids`` maps each result line's ``line_id`` (the cart line) to its order
    line id, or lists the order line ids in the order of ``result.lines``. A line without
    components (exempt, reverse charge, untaxed) still gets one zero row so reports see
    the supply. Shipping components get rows with an empty ``order_line_id``; taxable
    amounts are net (gross minus tax when ``prices_include_tax``).
    """
    if isinstance(order_line_ids, Mapping):
        ids = [order_line_ids[line.line_id] for line in result.lines]
    else:
        ids = list(order_line_ids)
        if len(ids) != len(result.lines):
            raise ValueError(f"{len(ids)} order line ids for {len(result.lines)} tax lines")
    country = destination.country.upper()
    region = normalise_region(country, destination.region)[:10]
    period = now.strftime("%Y-%m")

    def row(kind: str, line_id: str, taxable: int, c: TaxComponent) -> TaxTransactionRow:
        return TaxTransactionRow(
            id=new_id("txt", now), order_id=order_id, order_line_id=line_id, kind=kind, currency=currency,
            taxable_amount=taxable, tax_amount=c.amount, rate=c.rate, name=c.name[:255], jurisdiction=c.jurisdiction[:64],
            rate_id=c.rate_id, country_code=country, region_code=region, reverse_charge=result.reverse_charge_applied,
            exempt=result.exempt, period=period, created_at=now,
        )  # fmt: skip

    rows = [
        row("line", order_line_id, line.taxable_amount, c)
        for order_line_id, line in zip(ids, result.lines, strict=True)
        for c in (line.components or (_ZERO,))
    ]
    shipping_base = shipping_amount - result.shipping_tax if prices_include_tax else shipping_amount
    if shipping_amount:
        rows.extend(row("shipping", "", shipping_base, c) for c in (result.shipping or (_ZERO,)))
    return rows


async def list_transactions(
    session: AsyncSession, tokens: PageTokens, request: tax_pb2.ListTaxTransactionsRequest
) -> tax_pb2.ListTaxTransactionsResponse:
    """Transactions by creation, filtered by order, country and period."""
    size = page_size(request.page_size)
    key = f"taxTransactions:{fingerprint(request)}"
    offset = tokens.decode(request.page_token, key)
    stmt = select(TaxTransactionRow)
    if request.order:
        stmt = stmt.where(TaxTransactionRow.order_id == parse_name(request.order, "orders", "ord", "order"))
    if request.country_code:
        stmt = stmt.where(TaxTransactionRow.country_code == request.country_code.upper())
    if request.period:
        if (
            len(request.period) != 7
            or request.period[4] != "-"
            or not (request.period[:4] + request.period[5:]).isdigit()
        ):
            raise_violations([FieldViolation("period", "YYYY-MM")])
        stmt = stmt.where(TaxTransactionRow.period == request.period)
    stmt = stmt.order_by(TaxTransactionRow.created_at, TaxTransactionRow.id).offset(offset).limit(size + 1)
    rows = (await session.scalars(stmt)).all()
    token = tokens.encode(offset + size, key) if len(rows) > size else ""
    return tax_pb2.ListTaxTransactionsResponse(
        tax_transactions=[transaction_to_proto(r) for r in rows[:size]], next_page_token=token
    )
