"""Tables of the regions context.

A region is a currency, the countries it serves, whether its prices include tax, and
the payment and shipping providers allowed in it (DECISIONS 9). Countries are rows with
the country code as primary key, so the database itself guarantees that a country
belongs to at most one region. Providers are rows ordered by ``position`` (the order the
storefront shows them in).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = ["RegionCountryRow", "RegionProviderRow", "RegionRow"]


class RegionRow(Base):
    """A region. ``revision`` counts updates and is the etag."""

    __tablename__ = "regions"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    currency_code: Mapped[str] = mapped_column(String(3))
    prices_include_tax: Mapped[bool]
    automatic_capture: Mapped[bool]
    #: Code of the tax provider used for carts of this region ("builtin" by default).
    tax_provider: Mapped[str] = mapped_column(String(100))
    extra: Mapped[dict[str, Any]] = mapped_column("metadata")
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class RegionCountryRow(Base):
    """A country (ISO 3166-1 alpha-2, upper case) served by one region."""

    __tablename__ = "region_countries"

    country_code: Mapped[str] = mapped_column(String(2), primary_key=True)
    region_id: Mapped[PrefixedId] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"), index=True)


class RegionProviderRow(Base):
    """A payment or shipping provider allowed in a region."""

    __tablename__ = "region_providers"

    region_id: Mapped[PrefixedId] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True)
    #: "payment" or "shipping".
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    provider_code: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
