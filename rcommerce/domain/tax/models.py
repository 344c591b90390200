"""Tables of the tax context.

A zone is a place (country, optionally a region/state, optionally postal-code patterns);
rates belong to a zone and optionally to a category. All zones that match a destination
contribute (country + state + city stack); see ``rules.py`` for the arithmetic and
``zones.py`` for the matching.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = [
    "TaxCategoryRow",
    "TaxExemptionRow",
    "TaxRateRow",
    "TaxTransactionRow",
    "TaxZoneRow",
    "VatValidationRow",
]

#: Rates are fractions with 6 decimals: 0.087500.
RATE = Numeric(9, 6)


class TaxZoneRow(Base):
    """Where rates apply. Empty ``region_code``/``postal_patterns`` match every value."""

    __tablename__ = "tax_zones"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    #: ISO 3166-1 alpha-2, upper case.
    country_code: Mapped[str] = mapped_column(String(2), index=True)
    #: ISO 3166-2 subdivision without the country ("NY"), upper case; "" = whole country.
    region_code: Mapped[str] = mapped_column(String(10))
    #: Comma-separated postal patterns ("100*,101*,10451-10475"); "" = every postal code.
    postal_patterns: Mapped[str] = mapped_column(Text)
    #: "country", "state", "county", "city", "district" (informational).
    zone_type: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaxCategoryRow(Base):
    """A kind of goods taxed alike ("reduced", "food", "digital"); products name its code."""

    __tablename__ = "tax_categories"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaxRateRow(Base):
    """One jurisdiction's rate in a zone; ``category_id`` NULL is the zone's standard rate."""

    __tablename__ = "tax_rates"
    __table_args__ = (Index("ix_tax_rates_zone_id_category_id", "zone_id", "category_id"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    zone_id: Mapped[PrefixedId] = mapped_column(ForeignKey("tax_zones.id", ondelete="CASCADE"))
    category_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("tax_categories.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    rate: Mapped[Decimal] = mapped_column(RATE)
    #: Also applies to shipping (standard rates only).
    applies_to_shipping: Mapped[bool]
    #: Breakdown order within a zone (lower first).
    priority: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TaxExemptionRow(Base):
    """A customer exempt from tax, everywhere (``zone_id`` NULL) or in one zone."""

    __tablename__ = "tax_exemptions"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(40), index=True)
    zone_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("tax_zones.id", ondelete="CASCADE"))
    #: "resale", "nonprofit", "government", "diplomatic", "other".
    exemption_type: Mapped[str] = mapped_column(String(20))
    certificate_number: Mapped[str] = mapped_column(String(100))
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    active: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VatValidationRow(Base):
    """Cached answer for a VAT id (``[tax] vat_cache_days``)."""

    __tablename__ = "vat_validations"

    vat_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    country_code: Mapped[str] = mapped_column(String(2))
    valid: Mapped[bool]
    reason: Mapped[str] = mapped_column(String(40))
    business_name: Mapped[str] = mapped_column(String(255))
    business_address: Mapped[str] = mapped_column(Text)
    #: Validator code that answered last ("format", "vies").
    checked_by: Mapped[str] = mapped_column(String(64))
    validated_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class TaxTransactionRow(Base):
    """One tax component charged on an order line (or its shipping), for reporting (OSS)."""

    __tablename__ = "tax_transactions"
    __table_args__ = (Index("ix_tax_transactions_country_code_period", "country_code", "period"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    #: The order line; "" for the shipping charge.
    order_line_id: Mapped[str] = mapped_column(String(40))
    #: "line" or "shipping".
    kind: Mapped[str] = mapped_column(String(10))
    currency: Mapped[str] = mapped_column(String(3))
    taxable_amount: Mapped[int] = mapped_column(BigInteger)
    tax_amount: Mapped[int] = mapped_column(BigInteger)
    rate: Mapped[Decimal] = mapped_column(RATE)
    name: Mapped[str] = mapped_column(String(255))
    jurisdiction: Mapped[str] = mapped_column(String(64))
    rate_id: Mapped[str] = mapped_column(String(40))
    country_code: Mapped[str] = mapped_column(String(2))
    region_code: Mapped[str] = mapped_column(String(10))
    reverse_charge: Mapped[bool]
    exempt: Mapped[bool]
    #: "YYYY-MM" of ``created_at``, for period reports.
    period: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(index=True)
