"""Tables of the shipping context.

Zone areas, rate brackets and tiers, rule conditions and actions are JSON on their
owner's row: nothing filters on them in SQL, and quoting reads every active zone and
rate of a currency at once. Weights are grams, lengths millimetres, money minor units.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = ["ShippingProfileRow", "ShippingQuoteRow", "ShippingRateRow", "ShippingRuleRow", "ShippingZoneRow"]


class ShippingProfileRow(Base):
    """A group of products that ship under their own rates (heavy goods, cold chain)."""

    __tablename__ = "shipping_profiles"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1000))
    #: Product ids ("prod_...") in this profile.
    product_ids: Mapped[list[str]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: The create request_id that made this row, so a retried create returns it (AIP-155).
    create_request_id: Mapped[str | None] = mapped_column(String(100), unique=True)


class ShippingZoneRow(Base):
    """Where we ship: countries (or "*"), states, postal codes and ranges. Ordered by position."""

    __tablename__ = "shipping_zones"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer, index=True)
    active: Mapped[bool]
    countries: Mapped[list[str]]
    exclude_countries: Mapped[list[str]]
    states: Mapped[list[str]]
    postal_codes: Mapped[list[str]]
    #: [["10000", "19999"], ...]
    postal_ranges: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: The create request_id that made this row, so a retried create returns it (AIP-155).
    create_request_id: Mapped[str | None] = mapped_column(String(100), unique=True)


class ShippingRateRow(Base):
    """One priced shipping method of a zone (see ``rates.py`` for the kinds)."""

    __tablename__ = "shipping_rates"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    zone_id: Mapped[PrefixedId] = mapped_column(ForeignKey("shipping_zones.id", ondelete="CASCADE"), index=True)
    profile_id: Mapped[str | None] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(255))
    service_code: Mapped[str] = mapped_column(String(100))
    currency_code: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    per_unit_amount: Mapped[int] = mapped_column(BigInteger)
    weight_unit: Mapped[str] = mapped_column(String(4))
    #: [[from, amount], ...]
    brackets: Mapped[list[Any]] = mapped_column(JSON)
    #: [[up_to_grams, per_unit_amount], ...]
    tiers: Mapped[list[Any]] = mapped_column(JSON)
    handling_fee: Mapped[int] = mapped_column(BigInteger)
    fuel_surcharge_percent: Mapped[Decimal] = mapped_column(Numeric(9, 6))
    free_over: Mapped[int | None] = mapped_column(BigInteger)
    min_weight_grams: Mapped[int] = mapped_column(BigInteger)
    max_weight_grams: Mapped[int | None] = mapped_column(BigInteger)
    volumetric: Mapped[str] = mapped_column(String(40))
    min_days: Mapped[int | None] = mapped_column(Integer)
    max_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool]
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: The create request_id that made this row, so a retried create returns it (AIP-155).
    create_request_id: Mapped[str | None] = mapped_column(String(100), unique=True)


class ShippingRuleRow(Base):
    """A rule of the rules engine (``rules.py``): condition tree and action as JSON."""

    __tablename__ = "shipping_rules"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    #: "" for every currency.
    currency_code: Mapped[str] = mapped_column(String(3))
    priority: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool]
    condition: Mapped[dict[str, Any]]
    action: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    #: The create request_id that made this row, so a retried create returns it (AIP-155).
    create_request_id: Mapped[str | None] = mapped_column(String(100), unique=True)


class ShippingQuoteRow(Base):
    """A stored shipping option: the only thing a cart can select (server-side price)."""

    __tablename__ = "shipping_quotes"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    #: "" for previews not tied to a cart.
    cart_id: Mapped[str] = mapped_column(String(40), index=True)
    provider: Mapped[str] = mapped_column(String(100))
    service_code: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency_code: Mapped[str] = mapped_column(String(3))
    min_days: Mapped[int | None] = mapped_column(Integer)
    max_days: Mapped[int | None] = mapped_column(Integer)
    #: rate_id, zone_id, rate/handling/insurance breakdown, signature flag, applied rules.
    details: Mapped[dict[str, Any]]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime]
