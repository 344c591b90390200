"""Cart rows and pricing results to ``carts_pb2`` messages, and addresses between the API,
the database and the providers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from rcommerce.addresses import address_from_db, address_to_db
from rcommerce.addresses import provider_address as destination
from rcommerce.domain.carts.models import CONVERTED
from rcommerce.domain.carts.state import CartView, LineState
from rcommerce.domain.pricing.assembly import PricingResult
from rcommerce.gen.v1 import carts_pb2
from rcommerce.timestamps import to_timestamp

__all__ = ["address_from_db", "address_to_db", "cart_message", "destination", "line_name", "quote_message"]


def cart_name(cart_id: str) -> str:
    return f"carts/{cart_id}"


def line_name(cart_id: str, line_id: str) -> str:
    return f"carts/{cart_id}/lineItems/{line_id}"


def quote_message(quote: Any) -> carts_pb2.ShippingOption:
    """A ``StoredQuote`` as a ShippingOption."""
    return carts_pb2.ShippingOption(
        quote_id=quote.id, provider=quote.provider, service_code=quote.service_code, display_name=quote.display_name,
        amount=quote.amount, currency_code=quote.currency, expire_time=to_timestamp(quote.expires_at),
        min_days=quote.min_days or 0, max_days=quote.max_days or 0,
    )  # fmt: skip


def _status(cart: CartView, now: datetime) -> carts_pb2.CartStatus:
    if cart.status == CONVERTED:
        return carts_pb2.CART_STATUS_CONVERTED
    return carts_pb2.CART_STATUS_EXPIRED if now >= cart.expires_at else carts_pb2.CART_STATUS_ACTIVE


def cart_message(cart: CartView, lines: Sequence[LineState], priced: PricingResult, now: datetime) -> carts_pb2.Cart:
    """The API view of a cart with every figure from ``priced``."""
    b = priced.breakdown
    by_line = {line.line_id: line for line in b.lines}
    msg = carts_pb2.Cart(
        name=cart_name(cart.id), id=cart.id, region=f"regions/{cart.region_id}", currency_code=cart.currency_code,
        customer=f"customers/{cart.customer_id}" if cart.customer_id else "", email=cart.email, vat_id=cart.vat_id,
        coupon_codes=list(cart.coupon_codes), prices_include_tax=b.prices_include_tax,
        reverse_charge_applied=b.tax.reverse_charge_applied, item_count=sum(line.quantity for line in lines),
        status=_status(cart, now), expire_time=to_timestamp(cart.expires_at),
        create_time=to_timestamp(cart.created_at), update_time=to_timestamp(cart.updated_at),
    )  # fmt: skip
    shipping = address_from_db(cart.shipping_address)
    if shipping is not None:
        msg.shipping_address.CopyFrom(shipping)
    billing = address_from_db(cart.billing_address)
    if billing is not None:
        msg.billing_address.CopyFrom(billing)
    for row in lines:
        p = by_line.get(row.id)
        msg.line_items.append(
            carts_pb2.LineItem(
                name=line_name(cart.id, row.id), id=row.id, product=f"products/{row.product_id}",
                variant=f"products/{row.product_id}/variants/{row.variant_id}", title=row.title,
                variant_title=row.variant_title, sku=row.sku, quantity=row.quantity, unit_price=row.unit_price,
                original_unit_price=row.original_unit_price,
                price_list=f"priceLists/{row.price_list_id}" if row.price_list_id else "",
                subtotal=p.subtotal if p else row.unit_price * row.quantity, discount_total=p.discount if p else 0,
                tax_total=p.tax if p else 0, total=p.total if p else row.unit_price * row.quantity,
                requires_shipping=row.requires_shipping,
            )
        )  # fmt: skip
    if priced.quote is not None:
        msg.shipping_option.CopyFrom(quote_message(priced.quote))
    t = b.totals
    msg.totals.CopyFrom(
        carts_pb2.CartTotals(
            subtotal=t.subtotal, discount_total=t.discount_total, shipping_total=t.shipping_total,
            shipping_discount=t.shipping_discount, item_tax=t.item_tax, shipping_tax=t.shipping_tax,
            tax_total=t.tax_total, total=t.total,
        )
    )  # fmt: skip
    for applied in priced.promotions.applied:
        msg.applied_promotions.append(
            carts_pb2.AppliedPromotion(
                promotion=f"promotions/{applied.promotion_id}", code=applied.code, title=applied.title,
                amount=applied.amount, free_shipping=applied.free_shipping,
            )
        )  # fmt: skip
    msg.rejected_coupons.extend(carts_pb2.RejectedCoupon(code=c, reason=r) for c, r in priced.promotions.rejected)
    msg.tax_lines.extend(_tax_lines(priced))
    return msg


def _tax_lines(priced: PricingResult) -> list[carts_pb2.TaxLine]:
    """Tax summed per component (name, rate, jurisdiction) over the lines and shipping."""
    sums: dict[tuple[str, Decimal, str], int] = defaultdict(int)
    for line in priced.breakdown.lines:
        for c in line.tax_components:
            sums[(c.name, c.rate, c.jurisdiction)] += c.amount
    for c in priced.breakdown.tax.shipping:
        sums[(c.name, c.rate, c.jurisdiction)] += c.amount
    return [
        carts_pb2.TaxLine(name=name, rate=format(rate.normalize(), "f"), amount=amount, jurisdiction=jurisdiction)
        for (name, rate, jurisdiction), amount in sums.items()
    ]
