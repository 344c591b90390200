"""Rows and results to tax.proto messages."""

from __future__ import annotations

from decimal import Decimal

from rcommerce.domain.tax.models import TaxCategoryRow, TaxExemptionRow, TaxRateRow, TaxTransactionRow, TaxZoneRow
from rcommerce.gen.v1 import tax_pb2
from rcommerce.plugins.providers import TaxComponent, TaxResult
from rcommerce.timestamps import to_timestamp

__all__ = [
    "breakdown", "category_to_proto", "exemption_to_proto", "rate_text", "rate_to_proto", "result_to_proto",
    "transaction_to_proto", "zone_to_proto",
]  # fmt: skip


def rate_text(rate: Decimal) -> str:
    """ "0.087500" -> "0.0875", "0.190000" -> "0.19", "0" -> "0"."""
    text = f"{rate:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def zone_to_proto(row: TaxZoneRow) -> tax_pb2.TaxZone:
    return tax_pb2.TaxZone(
        name=f"taxZones/{row.id}", code=row.code, display_name=row.name, country_code=row.country_code,
        region_code=row.region_code, postal_patterns=[p for p in row.postal_patterns.split(",") if p],
        zone_type=row.zone_type, create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
    )  # fmt: skip


def category_to_proto(row: TaxCategoryRow) -> tax_pb2.TaxCategory:
    return tax_pb2.TaxCategory(
        name=f"taxCategories/{row.id}", code=row.code, display_name=row.name, description=row.description,
        create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
    )  # fmt: skip


def rate_to_proto(row: TaxRateRow, category_code: str) -> tax_pb2.TaxRate:
    return tax_pb2.TaxRate(
        name=f"taxRates/{row.id}", tax_zone=f"taxZones/{row.zone_id}", tax_category=category_code,
        display_name=row.name, rate=rate_text(row.rate), applies_to_shipping=row.applies_to_shipping,
        priority=row.priority, valid_from=to_timestamp(row.valid_from), valid_until=to_timestamp(row.valid_until),
        create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
    )  # fmt: skip


def exemption_to_proto(row: TaxExemptionRow) -> tax_pb2.TaxExemption:
    return tax_pb2.TaxExemption(
        name=f"customers/{row.customer_id}/taxExemptions/{row.id}",
        tax_zone=f"taxZones/{row.zone_id}" if row.zone_id else "", exemption_type=row.exemption_type,
        certificate_number=row.certificate_number, valid_from=to_timestamp(row.valid_from),
        valid_until=to_timestamp(row.valid_until), active=row.active, create_time=to_timestamp(row.created_at),
    )  # fmt: skip


def transaction_to_proto(row: TaxTransactionRow) -> tax_pb2.TaxTransaction:
    return tax_pb2.TaxTransaction(
        name=f"taxTransactions/{row.id}", order=f"orders/{row.order_id}", order_line_id=row.order_line_id,
        kind=row.kind, currency_code=row.currency, taxable_amount=row.taxable_amount, tax_amount=row.tax_amount,
        rate=rate_text(row.rate), display_name=row.name, jurisdiction=row.jurisdiction,
        tax_rate=f"taxRates/{row.rate_id}" if row.rate_id else "", country_code=row.country_code,
        region_code=row.region_code, reverse_charge=row.reverse_charge, exempt=row.exempt, period=row.period,
        create_time=to_timestamp(row.created_at),
    )  # fmt: skip


def _component(c: TaxComponent) -> tax_pb2.TaxComponent:
    return tax_pb2.TaxComponent(
        display_name=c.name, rate=rate_text(c.rate), amount=c.amount, jurisdiction=c.jurisdiction,
        tax_rate=f"taxRates/{c.rate_id}" if c.rate_id else "",
    )  # fmt: skip


def breakdown(result: TaxResult, shipping_amount: int, *, inclusive: bool = False) -> list[tax_pb2.TaxBreakdown]:
    """Totals per rate (per name and rate for providers without rate ids), first seen first.
    Taxable amounts are net: for gross prices, shipping's base is shipping minus its tax."""
    shipping_base = shipping_amount - result.shipping_tax if inclusive else shipping_amount
    totals: dict[tuple[str, str, str, str], list[int]] = {}
    for line in result.lines:
        for c in line.components:
            key = (c.rate_id, c.name, rate_text(c.rate), c.jurisdiction)
            entry = totals.setdefault(key, [0, 0])
            entry[0] += line.taxable_amount
            entry[1] += c.amount
    for c in result.shipping:
        key = (c.rate_id, c.name, rate_text(c.rate), c.jurisdiction)
        entry = totals.setdefault(key, [0, 0])
        entry[0] += shipping_base
        entry[1] += c.amount
    return [
        tax_pb2.TaxBreakdown(
            display_name=name,
            rate=rate,
            jurisdiction=zone,
            tax_rate=f"taxRates/{rid}" if rid else "",
            taxable_amount=taxable,
            tax_amount=tax,
        )
        for (rid, name, rate, zone), (taxable, tax) in totals.items()
    ]


def result_to_proto(
    result: TaxResult, currency: str, shipping_amount: int, *, inclusive: bool = False
) -> tax_pb2.TaxCalculation:
    return tax_pb2.TaxCalculation(
        currency_code=currency,
        lines=[
            tax_pb2.LineTaxBreakdown(
                line_id=line.line_id,
                taxable_amount=line.taxable_amount,
                tax_amount=line.tax_amount,
                components=[_component(c) for c in line.components],
            )
            for line in result.lines
        ],
        shipping_components=[_component(c) for c in result.shipping],
        shipping_tax=result.shipping_tax,
        total_tax=result.total_tax,
        breakdown=breakdown(result, shipping_amount, inclusive=inclusive),
        reverse_charge_applied=result.reverse_charge_applied,
        exempt=result.exempt,
    )
