"""Quoting: the one call that prices shipping for a cart, and the store of its quotes.

``ShippingQuoter.quote`` finds the first zone containing the destination
(``NO_SHIPPING_ZONE`` when none does), packs the items that need shipping into
parcels, prices the zone's table rates (provider ``"builtin"``) and asks every allowed
carrier plugin, runs the rules engine over all options, and stores each resulting
option as a quote with an id and an expiry (``[shipping] quote_ttl_minutes``). Only a
stored, unexpired quote of the same cart can be selected (``get_quote``): a client
never sends a shipping price.

A carrier that raises, times out (``[shipping] carrier_timeout_s``) or answers in another
currency fails the whole quote with ``CARRIER_ERROR`` (DECISIONS 21): no rate is ever
invented in its place. Quoting records no event: quotes are derived, short-lived data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce import money
from rcommerce.cache.reference import ReferenceCache, through
from rcommerce.clock import Clock
from rcommerce.config import ShippingSettings
from rcommerce.domain.shipping import repository
from rcommerce.domain.shipping.errors import (
    CARRIER_ERROR,
    NO_SHIPPING_ZONE,
    SHIPPING_QUOTE_EXPIRED,
    SHIPPING_QUOTE_NOT_FOUND,
    ShippingError,
)
from rcommerce.domain.shipping.models import ShippingQuoteRow
from rcommerce.domain.shipping.packaging import VOLUMETRIC_PRESETS, PackedParcel, PackUnit, chargeable_grams, pack
from rcommerce.domain.shipping.rates import RateSpec, rate_amount
from rcommerce.domain.shipping.rules import Option, RuleContext, RuleItem, apply_rules
from rcommerce.domain.shipping.zones import ZoneSpec, find_zone
from rcommerce.errors import FieldViolation, raise_violations
from rcommerce.ids import new_id
from rcommerce.plugins.providers import Address, Parcel, RateItem, RateQuote, RateRequest, ShippingCarrier

__all__ = [
    "TABLE_PROVIDER",
    "CarrierQuotes",
    "ShipmentItem",
    "ShipmentRequest",
    "ShippingQuoter",
    "StoredQuote",
]

log = logging.getLogger("rcommerce.shipping")

T = TypeVar("T")

#: Provider code of the built-in table rates (zones and their rates).
TABLE_PROVIDER = "builtin"


@dataclass(frozen=True, slots=True)
class ShipmentItem:
    line_id: str
    variant_id: str
    product_id: str
    quantity: int
    #: Minor units, after price lists.
    unit_price: int
    weight_grams: int
    length_mm: int
    width_mm: int
    height_mm: int
    requires_shipping: bool
    category_ids: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    sku: str = ""


@dataclass(frozen=True, slots=True)
class ShipmentRequest:
    cart_id: str
    currency: str
    destination: Address
    items: tuple[ShipmentItem, ...]
    #: Merchandise subtotal after discounts, minor units.
    subtotal: int
    #: The region's shipping providers; () = all.
    allowed_providers: tuple[str, ...] = ()
    customer_group_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class StoredQuote:
    id: str
    cart_id: str
    provider: str
    service_code: str
    display_name: str
    amount: int
    currency: str
    expires_at: datetime
    min_days: int | None = None
    max_days: int | None = None


@dataclass(frozen=True, slots=True)
class CarrierQuotes:
    """Carrier answers fetched before the caller's transaction (``ask_carriers``), so no
    carrier is awaited while the caller holds row locks (STYLE 5)."""

    options: tuple[Option, ...]


def _stored(row: ShippingQuoteRow) -> StoredQuote:
    return StoredQuote(
        id=row.id, cart_id=row.cart_id, provider=row.provider, service_code=row.service_code,
        display_name=row.display_name, amount=row.amount, currency=row.currency_code, expires_at=row.expires_at,
        min_days=row.min_days, max_days=row.max_days,
    )  # fmt: skip


def _check(request: ShipmentRequest) -> None:
    problems: list[FieldViolation] = []
    if not money.is_currency(request.currency):
        problems.append(FieldViolation("currency_code", "must be an upper-case ISO 4217 code"))
    country = request.destination.country.strip()
    if len(country) != 2 or not country.isalpha():
        problems.append(FieldViolation("destination.country", "must be an ISO 3166-1 alpha-2 code"))
    if request.subtotal < 0:
        problems.append(FieldViolation("subtotal", "must not be negative"))
    for i, item in enumerate(request.items):
        for name in ("quantity", "unit_price", "weight_grams", "length_mm", "width_mm", "height_mm"):
            if getattr(item, name) < 0:
                problems.append(FieldViolation(f"items[{i}].{name}", "must not be negative"))
    raise_violations(problems)


def _shippable(request: ShipmentRequest) -> list[ShipmentItem]:
    return [i for i in request.items if i.requires_shipping and i.quantity > 0]


def _units(items: Sequence[ShipmentItem]) -> list[PackUnit]:
    return [
        PackUnit(item.weight_grams, item.length_mm, item.width_mm, item.height_mm)
        for item in items
        for _ in range(item.quantity)
    ]


def _chargeable(parcels: Sequence[PackedParcel], volumetric: str) -> int:
    preset = VOLUMETRIC_PRESETS.get(volumetric)
    return sum(chargeable_grams(p.weight_grams, p.length_mm, p.width_mm, p.height_mm, preset) for p in parcels)


def _profile_ok(rate: RateSpec, items: Sequence[ShipmentItem], profiles: Mapping[str, frozenset[str]]) -> bool:
    """A rate tied to a profile serves a shipment only when every item is in that profile."""
    return not rate.profile_id or all(rate.profile_id in profiles.get(i.product_id, ()) for i in items)


class ShippingQuoter:
    """Prices shipping and stores the options as quotes. Every method takes the caller's
    session so that quoting is part of the caller's one transaction."""

    def __init__(
        self,
        clock: Clock,
        carriers: Mapping[str, ShippingCarrier] | None = None,
        settings: ShippingSettings | None = None,
        reference: ReferenceCache | None = None,
    ) -> None:
        self._clock = clock
        self._carriers = dict(carriers or {})
        self._settings = settings or ShippingSettings()
        #: The process's memo of zones, rates, rules and profiles; None reads them every time.
        self._reference = reference

    async def _tables(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        return await through(self._reference, repository.REFERENCE_NAMESPACE, key, load)

    @property
    def origin(self) -> Address:
        s = self._settings
        return Address(
            country=s.origin_country, postal_code=s.origin_postal_code, region=s.origin_region, city=s.origin_city
        )

    def _allowed(self, request: ShipmentRequest, provider: str) -> bool:
        return not request.allowed_providers or provider in request.allowed_providers

    async def ask_carriers(self, request: ShipmentRequest) -> CarrierQuotes:
        """Ask the allowed carrier plugins now, outside any transaction; pass the result to
        ``quote(..., carriers=...)``. Raises CARRIER_ERROR."""
        _check(request)
        shippable = _shippable(request)
        if not shippable:
            return CarrierQuotes(())
        parcels = pack(_units(shippable), self._settings.max_parcel_weight_grams)
        return CarrierQuotes(tuple(await self._carrier_options(request, shippable, parcels)))

    async def options(
        self, session: AsyncSession, request: ShipmentRequest, carriers: CarrierQuotes | None = None
    ) -> tuple[ZoneSpec | None, list[Option]]:
        """The priced options for ``request`` (nothing stored). Raises NO_SHIPPING_ZONE and
        CARRIER_ERROR. Without ``carriers``, the carriers are asked here."""
        _check(request)
        shippable = _shippable(request)
        if not shippable:
            return None, []
        zones = await self._tables("zones", lambda: repository.active_zones(session))
        zone = find_zone(zones, request.destination)
        if zone is None:
            dest = request.destination
            raise ShippingError(
                NO_SHIPPING_ZONE,
                f"No shipping zone covers {' '.join(p for p in (dest.country, dest.region, dest.postal_code) if p)}; "
                "ship to another address or add a zone that contains it.",
                country=dest.country, region=dest.region, postalCode=dest.postal_code,
            )  # fmt: skip
        parcels = pack(_units(shippable), self._settings.max_parcel_weight_grams)
        options: list[Option] = []
        if self._allowed(request, TABLE_PROVIDER):
            options += await self._table_options(session, request, zone, shippable, parcels)
        if carriers is None:
            options += await self._carrier_options(request, shippable, parcels)
        else:
            options += carriers.options
        ctx = RuleContext(
            currency=request.currency,
            subtotal=request.subtotal,
            weight_grams=sum(p.weight_grams for p in parcels),
            destination=request.destination,
            items=tuple(RuleItem(i.sku, i.variant_id, i.product_id, i.quantity, i.category_ids) for i in shippable),
            customer_group_ids=request.customer_group_ids,
        )
        ruled = apply_rules(await self._tables("rules", lambda: repository.rules(session)), ctx, options)
        return zone, sorted(ruled, key=lambda o: (o.total, o.display_name, o.service_code))

    async def _table_options(
        self, session: AsyncSession, request: ShipmentRequest, zone: ZoneSpec,
        items: Sequence[ShipmentItem], parcels: Sequence[PackedParcel],
    ) -> list[Option]:  # fmt: skip
        rates = await self._tables(
            ("rates", zone.id, request.currency), lambda: repository.zone_rates(session, zone.id, request.currency)
        )
        profiles: Mapping[str, frozenset[str]] = {}
        if any(r.profile_id for r in rates):
            profiles = await self._tables("profiles", lambda: repository.product_profiles(session))
        out: list[Option] = []
        for rate in rates:
            if not _profile_ok(rate, items, profiles):
                continue
            amount = rate_amount(rate, weight_grams=_chargeable(parcels, rate.volumetric), subtotal=request.subtotal)
            if amount is None:
                continue
            out.append(
                Option(
                    provider=TABLE_PROVIDER,
                    service_code=rate.service_code,
                    display_name=rate.name,
                    rate=amount,
                    currency=rate.currency,
                    min_days=rate.min_days,
                    max_days=rate.max_days,
                    rate_id=rate.id,
                )
            )
        return out

    async def _carrier_options(
        self, request: ShipmentRequest, items: Sequence[ShipmentItem], parcels: Sequence[PackedParcel]
    ) -> list[Option]:
        carriers = [
            (code, c)
            for code, c in sorted(self._carriers.items())
            if code != TABLE_PROVIDER and self._allowed(request, code)
        ]
        if not carriers:
            return []
        rate_request = RateRequest(
            origin=self.origin,
            destination=request.destination,
            parcels=tuple(Parcel(p.weight_grams, p.length_mm, p.width_mm, p.height_mm) for p in parcels),
            currency=request.currency,
            subtotal=request.subtotal,
            items=tuple(
                RateItem(i.variant_id, i.quantity, i.unit_price, i.weight_grams, i.sku, i.product_id) for i in items
            ),
        )
        try:
            # A TaskGroup cancels the other carriers as soon as one fails.
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._ask(code, carrier, rate_request)) for code, carrier in carriers]
        except* ShippingError as failed:
            raise failed.exceptions[0] from None
        return [option for task in tasks for option in task.result()]

    async def _ask(self, code: str, carrier: ShippingCarrier, request: RateRequest) -> list[Option]:
        try:
            async with asyncio.timeout(self._settings.carrier_timeout_s):
                quotes: list[RateQuote] = await carrier.quote(request)
        except Exception as exc:  # any failure of a plugin is the carrier's failure
            log.warning("shipping carrier %s failed to quote: %r", code, exc)
            raise ShippingError(
                CARRIER_ERROR, f"Shipping carrier {code} could not quote this shipment; try again later.", carrier=code
            ) from exc
        out: list[Option] = []
        for q in quotes:
            if q.currency != request.currency or q.amount < 0:
                raise ShippingError(
                    CARRIER_ERROR,
                    f"Shipping carrier {code} answered {q.amount} {q.currency} for {q.service_code}; expected a non-negative amount in {request.currency}.",
                    carrier=code, currency=q.currency,
                )  # fmt: skip
            out.append(
                Option(
                    provider=code,
                    service_code=q.service_code,
                    display_name=q.display_name,
                    rate=q.amount,
                    currency=q.currency,
                    min_days=q.min_days,
                    max_days=q.max_days,
                )
            )
        return out

    async def quote(
        self, session: AsyncSession, request: ShipmentRequest, *, carriers: CarrierQuotes | None = None
    ) -> list[StoredQuote]:
        """Price ``request`` and store every option as a quote of ``request.cart_id``.
        Expired quotes of the cart are removed on the way. ``carriers`` (from
        ``ask_carriers``) avoids awaiting carriers inside the caller's transaction."""
        zone, options = await self.options(session, request, carriers)
        now = self._clock.now()
        await session.execute(
            delete(ShippingQuoteRow).where(
                ShippingQuoteRow.cart_id == request.cart_id, ShippingQuoteRow.expires_at <= now
            )
        )
        expires = now + timedelta(minutes=self._settings.quote_ttl_minutes)
        rows = [
            ShippingQuoteRow(
                id=new_id("shq", now),
                cart_id=request.cart_id,
                provider=o.provider,
                service_code=o.service_code,
                display_name=o.display_name,
                amount=o.total,
                currency_code=o.currency,
                min_days=o.min_days,
                max_days=o.max_days,
                expires_at=expires,
                created_at=now,
                details={
                    "zone_id": zone.id if zone else "",
                    "rate_id": o.rate_id,
                    "rate": o.rate,
                    "handling_fee": o.handling_fee,
                    "insurance_fee": o.insurance_fee,
                    "signature_required": o.signature_required,
                    "applied_rules": list(o.applied_rules),
                },
            )
            for o in options
        ]
        session.add_all(rows)
        await session.flush()
        return [_stored(r) for r in rows]

    async def get_quote(self, session: AsyncSession, quote_id: str, *, cart_id: str) -> StoredQuote:
        """The stored quote ``quote_id`` of ``cart_id``; SHIPPING_QUOTE_NOT_FOUND or SHIPPING_QUOTE_EXPIRED."""
        row = await session.get(ShippingQuoteRow, quote_id)
        if row is None or row.cart_id != cart_id:
            raise ShippingError(
                SHIPPING_QUOTE_NOT_FOUND, f"Shipping quote {quote_id} does not exist for this cart.", quoteId=quote_id
            )
        if self._clock.now() >= row.expires_at:
            raise ShippingError(
                SHIPPING_QUOTE_EXPIRED,
                f"Shipping quote {quote_id} expired at {row.expires_at.isoformat()}; quote shipping again.",
                quoteId=quote_id, expiresAt=row.expires_at.isoformat(),
            )  # fmt: skip
        return _stored(row)

    async def quote_details(self, session: AsyncSession, quote_id: str) -> tuple[StoredQuote, dict[str, object]] | None:
        """A stored quote (any cart) with its breakdown, for the admin API."""
        row = await session.get(ShippingQuoteRow, quote_id)
        return None if row is None else (_stored(row), dict(row.details))
