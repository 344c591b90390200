"""Tables of the customers context.

One row per email address: registered accounts and guests (who bought without an
account) share ``customers``, told apart by ``is_guest``, so find-or-create by email never
trips over the unique email. Emails are stored trimmed and lower-cased.

Secrets are never stored: passwords as Argon2id hashes (or an imported PHPass/bcrypt hash
until the first sign-in re-hashes it), refresh and password-reset tokens as SHA-256 hex.
Relationships are not mapped; every load is an explicit query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = [
    "AddressRow",
    "CustomerGroupMemberRow",
    "CustomerGroupRow",
    "CustomerRow",
    "NotificationPreferencesRow",
    "PasswordResetRow",
    "RefreshTokenRow",
    "SessionRow",
]


class CustomerRow(Base):
    """A customer account or guest. ``revision`` counts updates and is the etag."""

    __tablename__ = "customers"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(50))
    #: NULL for guests and for accounts that never set a password.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_guest: Mapped[bool]
    accepts_marketing: Mapped[bool]
    tax_exempt: Mapped[bool]
    vat_id: Mapped[str] = mapped_column(String(50))
    #: Preferred currency (ISO 4217) or "".
    currency_code: Mapped[str] = mapped_column(String(3))
    orders_count: Mapped[int] = mapped_column(Integer)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata")
    revision: Mapped[int] = mapped_column(Integer)
    last_sign_in_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class AddressRow(Base):
    """A customer's saved address. At most one per customer is the default shipping
    address and at most one the default billing address (kept by the service)."""

    __tablename__ = "customer_addresses"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    customer_id: Mapped[PrefixedId] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    company: Mapped[str] = mapped_column(String(255))
    address1: Mapped[str] = mapped_column(String(255))
    address2: Mapped[str] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(100))
    #: State, province or region code ("NY").
    province: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    #: ISO 3166-1 alpha-2, upper case.
    country_code: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(50))
    is_default_shipping: Mapped[bool]
    is_default_billing: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class CustomerGroupRow(Base):
    """A customer group (wholesale, VIP ...): price lists and promotions target groups."""

    __tablename__ = "customer_groups"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column("metadata")
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class CustomerGroupMemberRow(Base):
    """Membership of a customer in a group."""

    __tablename__ = "customer_group_members"

    customer_group_id: Mapped[PrefixedId] = mapped_column(
        ForeignKey("customer_groups.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[PrefixedId] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]


class SessionRow(Base):
    """A sign-in session: the family of refresh tokens issued from one sign-in.

    Access tokens carry the session id; revoking the session (sign-out, refresh-token
    reuse, password change) ends every token of the family.
    """

    __tablename__ = "customer_sessions"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    customer_id: Mapped[PrefixedId] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    #: The session ends here whatever happens; refreshing does not extend it past this.
    expires_at: Mapped[datetime]
    last_used_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    #: "sign_out", "refresh_token_reuse", "password_changed", "password_reset".
    revoke_reason: Mapped[str] = mapped_column(String(50))


class RefreshTokenRow(Base):
    """One refresh token of a session, stored as its SHA-256. Using it rotates it
    (``rotated_at`` set, a successor issued); presenting a rotated token again is reuse."""

    __tablename__ = "customer_refresh_tokens"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[PrefixedId] = mapped_column(ForeignKey("customer_sessions.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]


class PasswordResetRow(Base):
    """A password-reset token, stored as its SHA-256; single use, expiring."""

    __tablename__ = "customer_password_resets"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[PrefixedId] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class NotificationPreferencesRow(Base):
    """What a customer wants to hear about, through which media, and when not. No row
    means the defaults (e-mail on, SMS and push off, order and shipping updates on,
    marketing as ``customers.accepts_marketing``, no quiet hours); the first update
    creates it. Quiet hours are local wall-clock "HH:MM" in ``time_zone`` (IANA)."""

    __tablename__ = "customer_notification_preferences"

    customer_id: Mapped[PrefixedId] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True)
    email_enabled: Mapped[bool]
    sms_enabled: Mapped[bool]
    push_enabled: Mapped[bool]
    marketing_emails: Mapped[bool]
    order_updates: Mapped[bool]
    shipping_updates: Mapped[bool]
    #: Both set or both NULL; "22:00" / "07:00" is a window that wraps past midnight.
    quiet_hours_start: Mapped[str | None] = mapped_column(String(5))
    quiet_hours_end: Mapped[str | None] = mapped_column(String(5))
    time_zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
