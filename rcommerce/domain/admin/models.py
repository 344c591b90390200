"""Tables of the admin context."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId


class ApiKeyRow(Base):
    """An API key. Only the SHA-256 digest of the key is stored (DECISIONS 7)."""

    __tablename__ = "api_keys"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200))
    #: "secret" or "publishable".
    kind: Mapped[str] = mapped_column(String(20))
    #: First 12 characters of the key ("sk_" + 9), indexed for lookup.
    prefix: Mapped[str] = mapped_column(String(20), index=True)
    #: Hex SHA-256 of the whole key.
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(String(500), default="")
    last_used_at: Mapped[datetime | None]


class StoreSetting(Base):
    """Store-wide values every process must share, such as the generated secret key."""

    __tablename__ = "store_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
