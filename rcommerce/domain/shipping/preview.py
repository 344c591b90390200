"""The QuoteShipping preview request as a ``ShipmentRequest``: units converted to grams
and millimetres at this edge."""

from __future__ import annotations

from decimal import Decimal

from rcommerce import money
from rcommerce.domain.shipping.convert import Problems
from rcommerce.domain.shipping.quoting import ShipmentItem, ShipmentRequest
from rcommerce.domain.shipping.units import LENGTH_UNITS, WEIGHT_UNITS, parse_decimal, to_mm
from rcommerce.errors import raise_violations
from rcommerce.gen.v1 import shipping_pb2 as S
from rcommerce.plugins.providers import Address

__all__ = ["shipment_request"]


def _lengths(line: S.ShipmentLine, field: str, problems: Problems) -> tuple[int, int, int]:
    unit = problems.unit(line.dimension_unit, LENGTH_UNITS, f"{field}.dimension_unit", "cm")
    out: list[int] = []
    for name in ("length", "width", "height"):
        text = getattr(line, name)
        value = parse_decimal(text or "0")
        if value is None:
            problems.add(f"{field}.{name}", "must be a non-negative decimal number")
            value = Decimal(0)
        out.append(to_mm(value, unit))
    return out[0], out[1], out[2]


def shipment_request(request: S.QuoteShippingRequest) -> ShipmentRequest:
    """Validate and convert a preview request; VALIDATION_FAILED lists every problem."""
    problems = Problems()
    if not money.is_currency(request.currency_code):
        problems.add("currency_code", "must be an upper-case ISO 4217 code")
    if len(request.cart_id) > 40:
        problems.add("cart_id", "must be at most 40 characters")
    items: list[ShipmentItem] = []
    for i, line in enumerate(request.items):
        field = f"items[{i}]"
        if line.quantity < 1:
            problems.add(f"{field}.quantity", "must be at least 1")
        problems.amount(line.unit_price, f"{field}.unit_price")
        unit = problems.unit(line.weight_unit, WEIGHT_UNITS, f"{field}.weight_unit", "kg")
        grams = problems.weight(line.weight or "0", unit, f"{field}.weight") or 0
        length, width, height = _lengths(line, field, problems)
        items.append(
            ShipmentItem(
                line_id=line.line_id or f"line{i + 1}",
                variant_id=line.variant_id,
                product_id=line.product_id,
                quantity=line.quantity,
                unit_price=line.unit_price,
                weight_grams=grams,
                length_mm=length,
                width_mm=width,
                height_mm=height,
                requires_shipping=line.requires_shipping if line.HasField("requires_shipping") else True,
                category_ids=frozenset(c.removeprefix("categories/") for c in line.categories),
                tags=frozenset(line.tags),
                sku=line.sku,
            )
        )
    subtotal = request.subtotal if request.HasField("subtotal") else sum(i.unit_price * i.quantity for i in items)
    if subtotal < 0:
        problems.add("subtotal", "must not be negative")
    raise_violations(problems)
    d = request.destination
    return ShipmentRequest(
        cart_id=request.cart_id, currency=request.currency_code,
        destination=Address(
            country=d.country_code.strip().upper(), postal_code=d.postal_code, region=d.province, city=d.city,
            lines=tuple(x for x in (d.address1, d.address2) if x),
        ),
        items=tuple(items), subtotal=subtotal, allowed_providers=tuple(request.allowed_providers),
        customer_group_ids=frozenset(request.customer_groups),
    )  # fmt: skip
