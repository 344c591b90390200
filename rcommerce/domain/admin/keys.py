"""API keys: creation, verification, listing and revocation (DECISIONS 7).

A key is ``sk_`` or ``pk_`` plus 32 random base62 characters. Only its SHA-256 digest
is stored; the plaintext is returned once. Verification looks the digest up (unique
index) and caches the verified principal for ``auth_ttl_s``; revocation deletes the
cache entry, so with Redis a revoked key stops working on every process at once.
``last_used_at`` is written when a key is verified from the database, so it is
accurate to the cache lifetime.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import STOREFRONT_SCOPES, ScopeSet, parse_scope, parse_scopes
from rcommerce.cache.base import Cache
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.admin.errors import API_KEY_NOT_FOUND, INVALID_SCOPE, AdminError
from rcommerce.domain.admin.models import ApiKeyRow
from rcommerce.errors import (
    API_KEY_EXPIRED,
    API_KEY_REVOKED,
    INVALID_API_KEY,
    FieldViolation,
    RequestError,
    invalid,
)
from rcommerce.events.outbox import record_event
from rcommerce.gen.v1 import admin_pb2
from rcommerce.ids import new_id
from rcommerce.timestamps import to_timestamp

_ALPHABET = string.ascii_letters + string.digits
_KIND_PREFIX = {"secret": "sk_", "publishable": "pk_"}
_KIND_PROTO = {"secret": admin_pb2.API_KEY_KIND_SECRET, "publishable": admin_pb2.API_KEY_KIND_PUBLISHABLE}
_PRINCIPAL_KIND = {"secret": PrincipalKind.SECRET_KEY, "publishable": PrincipalKind.PUBLISHABLE_KEY}
PREFIX_LENGTH = 12


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(("sk_", "pk_")) and len(token) == 35 and token[3:].isalnum()


def to_proto(row: ApiKeyRow) -> admin_pb2.ApiKey:
    return admin_pb2.ApiKey(
        name=f"apiKeys/{row.id}",
        id=row.id,
        display_name=row.display_name,
        kind=_KIND_PROTO[row.kind],
        scopes=row.scopes,
        prefix=row.prefix,
        expire_time=to_timestamp(row.expires_at),
        create_time=to_timestamp(row.created_at),
        revoke_time=to_timestamp(row.revoked_at),
        last_used_time=to_timestamp(row.last_used_at),
        revoke_reason=row.revoke_reason,
    )


@dataclass(frozen=True, slots=True)
class NewKey:
    api_key: admin_pb2.ApiKey
    #: The plaintext key; never stored.
    key: str


class ApiKeys:
    """Creates, verifies, lists and revokes API keys."""

    def __init__(self, db: Database, cache: Cache, clock: Clock, auth_ttl_s: float) -> None:
        self._db, self._cache, self._clock, self._ttl = db, cache, clock, auth_ttl_s

    async def create(
        self, display_name: str, kind: str, scopes: list[str], expires_at: datetime | None = None
    ) -> NewKey:
        """Create a key of ``kind`` ("secret" or "publishable"). Publishable keys hold
        storefront scopes only and default to all of them; secret keys default to "read"."""
        if kind not in _KIND_PREFIX:
            raise invalid("api_key.kind", "must be API_KEY_KIND_SECRET or API_KEY_KIND_PUBLISHABLE")
        display_name = display_name.strip()
        if not display_name or len(display_name) > 200:
            raise invalid("api_key.display_name", "is required, at most 200 characters")
        if not scopes:
            scopes = sorted(STOREFRONT_SCOPES) if kind == "publishable" else ["read"]
        parsed = parse_scopes(scopes, field="api_key.scopes")
        if kind == "publishable":
            outside = [str(s) for s in parsed if str(s) not in STOREFRONT_SCOPES]
            if outside:
                raise RequestError(
                    INVALID_SCOPE,
                    f"Publishable keys may hold storefront scopes only; not {', '.join(outside)}.",
                    violations=[FieldViolation("api_key.scopes", f"{s} is not a storefront scope") for s in outside],
                    scopes=",".join(outside),
                )
        now = self._clock.now()
        if expires_at is not None and expires_at <= now:
            raise invalid("api_key.expire_time", "must be in the future")
        key = _KIND_PREFIX[kind] + "".join(secrets.choice(_ALPHABET) for _ in range(32))
        row = ApiKeyRow(
            id=new_id("key", now),
            display_name=display_name,
            kind=kind,
            prefix=key[:PREFIX_LENGTH],
            key_sha256=_digest(key),
            scopes=sorted({str(s) for s in parsed}),
            created_at=now,
            expires_at=expires_at,
            revoked_at=None,
            revoke_reason="",
            last_used_at=None,
        )
        async with self._db.transaction() as session:
            session.add(row)
            message = to_proto(row)
            record_event(session, "api_key.created", message.name, message, now)
        return NewKey(message, key)

    async def verify(self, key: str) -> Principal:
        """The principal of a presented key; raises UNAUTHENTICATED reasons otherwise."""
        if not looks_like_api_key(key):
            raise RequestError(
                INVALID_API_KEY,
                "The API key is malformed; keys look like sk_... or pk_... with 32 characters after the prefix.",
            )
        digest = _digest(key)
        cache_key = f"auth:key:{digest}"
        cached = await self._cache.get(cache_key)
        if cached is not None:
            data = json.loads(cached)
        else:
            data = await self._load(digest)
            await self._cache.set(cache_key, json.dumps(data).encode(), self._ttl)
        if data is None:
            raise RequestError(INVALID_API_KEY, "The API key is not valid.")
        if data["revoked"]:
            raise RequestError(
                API_KEY_REVOKED, f"The API key {data['prefix']}... was revoked.", keyPrefix=data["prefix"]
            )
        if data["expires"] is not None and data["expires"] <= self._clock.now().timestamp():
            raise RequestError(
                API_KEY_EXPIRED, f"The API key {data['prefix']}... has expired.", keyPrefix=data["prefix"]
            )
        return Principal(
            _PRINCIPAL_KIND[data["kind"]], f"apiKeys/{data['id']}", ScopeSet(parse_scope(s) for s in data["scopes"])
        )

    async def _load(self, digest: str) -> dict[str, object] | None:
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = (await session.execute(select(ApiKeyRow).where(ApiKeyRow.key_sha256 == digest))).scalar_one_or_none()
            if row is None:
                return None
            if row.revoked_at is None:
                await session.execute(update(ApiKeyRow).where(ApiKeyRow.id == row.id).values(last_used_at=now))
            return {
                "id": row.id,
                "kind": row.kind,
                "prefix": row.prefix,
                "scopes": row.scopes,
                "revoked": row.revoked_at is not None,
                "expires": row.expires_at.timestamp() if row.expires_at else None,
            }

    async def get(self, key_id: str) -> admin_pb2.ApiKey:
        async with self._db.read() as session:
            row = await session.get(ApiKeyRow, key_id)
        if row is None:
            raise AdminError(API_KEY_NOT_FOUND, f"API key apiKeys/{key_id} does not exist.", name=f"apiKeys/{key_id}")
        return to_proto(row)

    async def list(self, offset: int, limit: int, show_inactive: bool) -> tuple[list[admin_pb2.ApiKey], bool]:
        """A page of keys, newest first, and whether more follow."""
        query = select(ApiKeyRow).order_by(ApiKeyRow.created_at.desc(), ApiKeyRow.id.desc())
        if not show_inactive:
            now = self._clock.now()
            query = query.where(ApiKeyRow.revoked_at.is_(None)).where(
                (ApiKeyRow.expires_at.is_(None)) | (ApiKeyRow.expires_at > now)
            )
        async with self._db.read() as session:
            rows = (await session.execute(query.offset(offset).limit(limit + 1))).scalars().all()
        return [to_proto(r) for r in rows[:limit]], len(rows) > limit

    async def revoke(self, key_id: str, reason: str) -> admin_pb2.ApiKey:
        now = self._clock.now()
        async with self._db.transaction() as session:
            row = await session.get(ApiKeyRow, key_id, with_for_update=True)
            if row is None:
                raise AdminError(
                    API_KEY_NOT_FOUND, f"API key apiKeys/{key_id} does not exist.", name=f"apiKeys/{key_id}"
                )
            if row.revoked_at is None:
                row.revoked_at = now
                row.revoke_reason = reason[:500]
                message = to_proto(row)
                record_event(session, "api_key.revoked", message.name, message, now)
            digest = row.key_sha256
            message = to_proto(row)
        await self._cache.delete(f"auth:key:{digest}")
        return message
