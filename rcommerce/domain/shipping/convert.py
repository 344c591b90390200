"""Between the API's messages and the rows: validation of admin input (with unit
conversion at the edge) and the messages the API returns."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rcommerce import money
from rcommerce.domain.shipping.models import (
    ShippingProfileRow,
    ShippingQuoteRow,
    ShippingRateRow,
    ShippingZoneRow,
)
from rcommerce.domain.shipping.packaging import VOLUMETRIC_PRESETS
from rcommerce.domain.shipping.rates import RateKind
from rcommerce.domain.shipping.units import WEIGHT_UNITS, from_grams, parse_decimal, to_grams
from rcommerce.errors import FieldViolation
from rcommerce.gen.v1 import common_pb2
from rcommerce.gen.v1 import shipping_pb2 as S
from rcommerce.ids import id_prefix
from rcommerce.timestamps import to_timestamp

__all__ = [
    "KIND_FROM_PROTO",
    "Problems",
    "profile_message",
    "profile_values",
    "quote_message",
    "rate_message",
    "rate_values",
    "zone_message",
    "zone_values",
]

KIND_FROM_PROTO: dict[S.ShippingRateKind, RateKind] = {
    S.SHIPPING_RATE_KIND_FLAT: RateKind.FLAT,
    S.SHIPPING_RATE_KIND_PER_WEIGHT: RateKind.PER_WEIGHT,
    S.SHIPPING_RATE_KIND_WEIGHT_TABLE: RateKind.WEIGHT_TABLE,
    S.SHIPPING_RATE_KIND_PRICE_TABLE: RateKind.PRICE_TABLE,
    S.SHIPPING_RATE_KIND_TIERED: RateKind.TIERED,
}
KIND_TO_PROTO = {v: k for k, v in KIND_FROM_PROTO.items()}


class Problems(list[FieldViolation]):
    """Collects field violations."""

    def add(self, field: str, description: str) -> None:
        self.append(FieldViolation(field, description))

    def amount(self, value: int, field: str) -> int:
        if not 0 <= value <= money.MAX_AMOUNT:
            self.add(field, "must be a non-negative amount in minor units")
        return value

    def weight(self, text: str, unit: str, field: str) -> int | None:
        """Grams of ``text`` ``unit``; None for "" (unset)."""
        if not text.strip():
            return None
        value = parse_decimal(text)
        if value is None or unit not in WEIGHT_UNITS:
            self.add(field, "must be a non-negative decimal number")
            return None
        return to_grams(value, unit)

    def unit(self, unit: str, allowed: tuple[str, ...], field: str, default: str) -> str:
        unit = unit.strip().lower() or default
        if unit not in allowed:
            self.add(field, f"must be one of {', '.join(allowed)}")
            return default
        return unit


#: Weights are stored in whole grams; shown in a rate's unit to the precision a gram allows.
_SHOWN_PLACES = {"g": Decimal(1), "kg": Decimal("0.001"), "lb": Decimal("0.01"), "oz": Decimal("0.1")}


def _fmt(value: Decimal, places: Decimal = Decimal("0.001")) -> str:
    return format(value.quantize(places).normalize(), "f")


def weight_text(grams: int | None, unit: str) -> str:
    return "" if grams is None else _fmt(from_grams(grams, unit), _SHOWN_PLACES[unit])


def _codes(values: list[str], field: str, problems: Problems, *, wildcard: bool = False) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(values):
        code = value.strip().upper()
        if (wildcard and code == "*") or (len(code) == 2 and code.isalpha()):
            out.append(code)
        else:
            problems.add(f"{field}[{i}]", "must be an ISO 3166-1 alpha-2 code" + (' or "*"' if wildcard else ""))
    return list(dict.fromkeys(out))


def _texts(values: list[str], field: str, problems: Problems, limit: int = 100) -> list[str]:
    out: list[str] = []
    for i, value in enumerate(values):
        text = value.strip()
        if not 0 < len(text) <= limit:
            problems.add(f"{field}[{i}]", f"must be 1 to {limit} characters")
        else:
            out.append(text)
    return list(dict.fromkeys(out))


def title(text: str, field: str, problems: Problems) -> str:
    text = text.strip()
    if not 0 < len(text) <= 255:
        problems.add(field, "is required (1 to 255 characters)")
    return text


# -- profiles -----------------------------------------------------------------------------------


def profile_values(msg: S.ShippingProfile, problems: Problems, field: str = "shipping_profile") -> dict[str, Any]:
    products: list[str] = []
    for i, name in enumerate(msg.products):
        pid = name.removeprefix("products/")
        if id_prefix(pid) != "prod":
            problems.add(f"{field}.products[{i}]", "must look like products/prod_...")
        else:
            products.append(pid)
    if len(msg.description) > 1000:
        problems.add(f"{field}.description", "must be at most 1000 characters")
    return {
        "name": title(msg.display_name, f"{field}.display_name", problems),
        "description": msg.description,
        "product_ids": list(dict.fromkeys(products)),
    }


def profile_message(row: ShippingProfileRow) -> S.ShippingProfile:
    return S.ShippingProfile(
        name=f"shippingProfiles/{row.id}", id=row.id, display_name=row.name, description=row.description,
        products=[f"products/{p}" for p in row.product_ids], create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
    )  # fmt: skip


# -- zones --------------------------------------------------------------------------------------


def zone_values(msg: S.ShippingZone, problems: Problems, field: str = "shipping_zone") -> dict[str, Any]:
    countries = _codes(list(msg.countries), f"{field}.countries", problems, wildcard=True)
    if not msg.countries:
        problems.add(f"{field}.countries", 'must list at least one country code or "*"')
    ranges: list[list[str]] = []
    for i, r in enumerate(msg.postal_ranges):
        start, end = "".join(r.start.split()).upper(), "".join(r.end.split()).upper()
        if not start or not end:
            problems.add(f"{field}.postal_ranges[{i}]", "needs start and end")
        elif (int(start) > int(end)) if (start.isdigit() and end.isdigit()) else start > end:
            problems.add(f"{field}.postal_ranges[{i}].end", "must not be before start")
        else:
            ranges.append([start, end])
    return {
        "name": title(msg.display_name, f"{field}.display_name", problems),
        "position": msg.position,
        "active": msg.active if msg.HasField("active") else True,
        "countries": countries,
        "exclude_countries": _codes(list(msg.exclude_countries), f"{field}.exclude_countries", problems),
        "states": [s.upper() for s in _texts(list(msg.states), f"{field}.states", problems)],
        "postal_codes": [
            "".join(p.split()).upper() for p in _texts(list(msg.postal_codes), f"{field}.postal_codes", problems, 20)
        ],
        "postal_ranges": ranges,
    }


def zone_message(row: ShippingZoneRow) -> S.ShippingZone:
    return S.ShippingZone(
        name=f"shippingZones/{row.id}", id=row.id, display_name=row.name, position=row.position, active=row.active,
        countries=row.countries, exclude_countries=row.exclude_countries, states=row.states,
        postal_codes=row.postal_codes, postal_ranges=[S.PostalRange(start=a, end=b) for a, b in row.postal_ranges],
        create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
    )  # fmt: skip


# -- rates --------------------------------------------------------------------------------------


def rate_values(msg: S.ShippingRate, problems: Problems, field: str = "shipping_rate") -> dict[str, Any]:
    """Row values of a rate message; ``profile_id`` is the parsed id (existence is the service's)."""
    unit = problems.unit(msg.weight_unit, WEIGHT_UNITS, f"{field}.weight_unit", "kg")
    kind = KIND_FROM_PROTO.get(msg.kind)
    if kind is None:
        problems.add(f"{field}.kind", "is required: FLAT, PER_WEIGHT, WEIGHT_TABLE, PRICE_TABLE or TIERED")
    if not money.is_currency(msg.currency_code):
        problems.add(f"{field}.currency_code", "must be an upper-case ISO 4217 code")
    code = msg.service_code.strip()
    if not 0 < len(code) <= 100:
        problems.add(f"{field}.service_code", "is required (1 to 100 characters)")
    brackets: list[list[int]] = []
    for i, b in enumerate(msg.brackets):
        start = (
            problems.weight(b.from_weight, unit, f"{field}.brackets[{i}].from_weight") or 0
            if kind is RateKind.WEIGHT_TABLE
            else b.from_subtotal
        )
        brackets.append(
            [
                problems.amount(start, f"{field}.brackets[{i}]"),
                problems.amount(b.amount, f"{field}.brackets[{i}].amount"),
            ]
        )
    if kind in (RateKind.WEIGHT_TABLE, RateKind.PRICE_TABLE) and not brackets:
        problems.add(f"{field}.brackets", "must list at least one bracket for a table rate")
    tiers: list[list[int]] = []
    for i, t in enumerate(msg.tiers):
        up_to = problems.weight(t.up_to_weight, unit, f"{field}.tiers[{i}].up_to_weight")
        if up_to is None or up_to <= 0:
            problems.add(f"{field}.tiers[{i}].up_to_weight", "must be a positive weight")
            continue
        tiers.append([up_to, problems.amount(t.per_unit_amount, f"{field}.tiers[{i}].per_unit_amount")])
    if kind is RateKind.TIERED and not tiers:
        problems.add(f"{field}.tiers", "must list at least one tier for a tiered rate")
    fuel = parse_decimal(msg.fuel_surcharge_percent or "0")
    if fuel is None or fuel > 100:
        problems.add(f"{field}.fuel_surcharge_percent", "must be a percent from 0 to 100")
        fuel = Decimal(0)
    min_w = problems.weight(msg.min_weight, unit, f"{field}.min_weight") or 0
    max_w = problems.weight(msg.max_weight, unit, f"{field}.max_weight")
    if max_w is not None and max_w < min_w:
        problems.add(f"{field}.max_weight", "must not be below min_weight")
    if msg.volumetric and msg.volumetric not in VOLUMETRIC_PRESETS:
        problems.add(f"{field}.volumetric", f"must be empty or one of {', '.join(VOLUMETRIC_PRESETS)}")
    profile_id: str | None = None
    if msg.shipping_profile:
        profile_id = msg.shipping_profile.removeprefix("shippingProfiles/")
        if id_prefix(profile_id) != "shpr":
            problems.add(f"{field}.shipping_profile", "must look like shippingProfiles/shpr_...")
    days = [msg.min_days if msg.HasField("min_days") else None, msg.max_days if msg.HasField("max_days") else None]
    for name, value in zip(("min_days", "max_days"), days, strict=True):
        if value is not None and value < 0:
            problems.add(f"{field}.{name}", "must not be negative")
    if days[0] is not None and days[1] is not None and days[1] < days[0]:
        problems.add(f"{field}.max_days", "must not be below min_days")
    return {
        "name": title(msg.display_name, f"{field}.display_name", problems),
        "service_code": code,
        "currency_code": msg.currency_code,
        "kind": (kind or RateKind.FLAT).value,
        "amount": problems.amount(msg.amount, f"{field}.amount"),
        "per_unit_amount": problems.amount(msg.per_unit_amount, f"{field}.per_unit_amount"),
        "weight_unit": unit,
        "brackets": brackets,
        "tiers": sorted(tiers),
        "handling_fee": problems.amount(msg.handling_fee, f"{field}.handling_fee"),
        "fuel_surcharge_percent": fuel,
        "free_over": problems.amount(msg.free_over, f"{field}.free_over") if msg.HasField("free_over") else None,
        "min_weight_grams": min_w,
        "max_weight_grams": max_w,
        "volumetric": msg.volumetric,
        "profile_id": profile_id,
        "min_days": days[0],
        "max_days": days[1],
        "active": msg.active if msg.HasField("active") else True,
        "position": msg.position,
    }


def rate_message(row: ShippingRateRow) -> S.ShippingRate:
    unit = row.weight_unit
    kind = RateKind(row.kind)
    msg = S.ShippingRate(
        name=f"shippingZones/{row.zone_id}/rates/{row.id}", id=row.id, display_name=row.name,
        service_code=row.service_code, currency_code=row.currency_code, kind=KIND_TO_PROTO[kind], amount=row.amount,
        per_unit_amount=row.per_unit_amount, weight_unit=unit, handling_fee=row.handling_fee,
        fuel_surcharge_percent=_fmt(Decimal(row.fuel_surcharge_percent)),
        min_weight=weight_text(row.min_weight_grams, unit) if row.min_weight_grams else "",
        max_weight=weight_text(row.max_weight_grams, unit), volumetric=row.volumetric,
        shipping_profile=f"shippingProfiles/{row.profile_id}" if row.profile_id else "", active=row.active,
        position=row.position, create_time=to_timestamp(row.created_at), update_time=to_timestamp(row.updated_at),
    )  # fmt: skip
    for start, amount in row.brackets:
        if kind is RateKind.WEIGHT_TABLE:
            msg.brackets.add(from_weight=weight_text(int(start), unit), amount=int(amount))
        else:
            msg.brackets.add(from_subtotal=int(start), amount=int(amount))
    for up_to, per_unit in row.tiers:
        msg.tiers.add(up_to_weight=weight_text(int(up_to), unit), per_unit_amount=int(per_unit))
    if row.free_over is not None:
        msg.free_over = row.free_over
    if row.min_days is not None:
        msg.min_days = row.min_days
    if row.max_days is not None:
        msg.max_days = row.max_days
    return msg


# -- quotes -------------------------------------------------------------------------------------


def quote_message(row: ShippingQuoteRow) -> S.ShippingQuote:
    d = row.details
    zone = str(d.get("zone_id", ""))
    rate = str(d.get("rate_id", ""))
    msg = S.ShippingQuote(
        name=f"shippingQuotes/{row.id}", id=row.id, cart_id=row.cart_id, provider=row.provider,
        service_code=row.service_code, display_name=row.display_name,
        amount=common_pb2.Money(currency_code=row.currency_code, amount=row.amount),
        expire_time=to_timestamp(row.expires_at),
        breakdown=S.ShippingQuoteBreakdown(
            rate=int(d.get("rate", row.amount)), handling_fee=int(d.get("handling_fee", 0)),
            insurance_fee=int(d.get("insurance_fee", 0)), signature_required=bool(d.get("signature_required", False)),
            zone=f"shippingZones/{zone}" if zone else "", rate_name=f"shippingZones/{zone}/rates/{rate}" if rate else "",
            applied_rules=[f"shippingRules/{r}" for r in d.get("applied_rules", [])],
        ),
    )  # fmt: skip
    if row.min_days is not None:
        msg.min_days = row.min_days
    if row.max_days is not None:
        msg.max_days = row.max_days
    return msg
