"""Sign-in sessions: access tokens, rotating refresh tokens and revocation.

A sign-in opens a *session* (``sess_...``) valid for ``refresh_ttl``. The client holds a
short-lived access token naming the session and one refresh token. Refreshing marks
the presented refresh token rotated and issues a successor; presenting a rotated token
again means it was copied, so the whole session is revoked (every access and refresh
token of that sign-in stops working). Sign-out, password change and password reset
revoke sessions the same way.

Access tokens are checked without the database while the session's state is cached
(``auth_ttl_s``, like API keys); revocation deletes the cached state at once, so through
Redis every process sees it immediately, and with the memory cache other processes see
it within ``auth_ttl_s``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.customer_tokens import (
    AccessTokens,
    TokenError,
    looks_like_access_token,
    new_opaque_token,
    token_digest,
)
from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.auth.scopes import CUSTOMER_SCOPES, ScopeSet
from rcommerce.cache.base import Cache
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.customers.errors import ACCESS_TOKEN_EXPIRED, INVALID_ACCESS_TOKEN, INVALID_REFRESH_TOKEN
from rcommerce.domain.customers.models import RefreshTokenRow, SessionRow
from rcommerce.errors import RequestError
from rcommerce.ids import new_id

__all__ = ["CustomerTokenVerifier", "Issued", "Sessions"]

_CUSTOMER_SCOPES = ScopeSet.of(*sorted(CUSTOMER_SCOPES))


def _cache_key(session_id: str) -> str:
    return f"auth:csess:{session_id}"


@dataclass(frozen=True, slots=True)
class Issued:
    """Tokens handed to a client after sign-in or refresh."""

    customer_id: str
    session_id: str
    issued_at: datetime
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime


@dataclass(frozen=True, slots=True)
class Rotation:
    """Outcome of presenting a refresh token: new tokens, or the reason it failed. A
    detected reuse revoked the session, which must be committed before failing."""

    issued: Issued | None
    failure: str = ""
    revoked_session: str = ""


class Sessions:
    """Creates, rotates and revokes sessions inside the caller's transaction."""

    def __init__(self, clock: Clock, access: AccessTokens, refresh_ttl: timedelta, cache: Cache) -> None:
        self._clock = clock
        self.access = access
        self._refresh_ttl = refresh_ttl
        self._cache = cache

    async def start(self, s: AsyncSession, customer_id: str) -> Issued:
        now = self._clock.now()
        row = SessionRow(
            id=new_id("sess", now), customer_id=customer_id, created_at=now, expires_at=now + self._refresh_ttl,
            last_used_at=now, revoked_at=None, revoke_reason="",
        )  # fmt: skip
        s.add(row)
        await s.flush()
        return await self._issue(s, row, now)

    async def _issue(self, s: AsyncSession, row: SessionRow, now: datetime) -> Issued:
        refresh = new_opaque_token("rt")
        s.add(
            RefreshTokenRow(
                token_sha256=token_digest(refresh),
                session_id=row.id,
                created_at=now,
                expires_at=row.expires_at,
                rotated_at=None,
            )
        )
        access, access_expires = self.access.issue(row.customer_id, row.id, now)
        # Never past the session's own end.
        access_expires = min(access_expires, row.expires_at)
        return Issued(row.customer_id, row.id, now, access, access_expires, refresh, row.expires_at)

    async def rotate(self, s: AsyncSession, refresh_token: str) -> Rotation:
        """Exchange ``refresh_token`` for new tokens (see the module doc)."""
        now = self._clock.now()
        token = await s.get(RefreshTokenRow, token_digest(refresh_token), with_for_update=True)
        if token is None:
            return Rotation(None, "The refresh token is not valid; sign in again.")
        row = await s.get(SessionRow, token.session_id, with_for_update=True)
        if row is None or row.revoked_at is not None:
            return Rotation(None, "The session of this refresh token has ended; sign in again.")
        if token.rotated_at is not None:
            await self._revoke_rows(s, [row], "refresh_token_reuse", now)
            return Rotation(
                None, "This refresh token was already used; the session is ended for safety. Sign in again.", row.id
            )
        if row.expires_at <= now or token.expires_at <= now:
            return Rotation(None, "The session has expired; sign in again.")
        token.rotated_at = now
        row.last_used_at = now
        return Rotation(await self._issue(s, row, now))

    async def revoke_by_refresh_token(self, s: AsyncSession, refresh_token: str, reason: str) -> str | None:
        """Revoke the session of ``refresh_token``; its customer id, or None when unknown."""
        token = await s.get(RefreshTokenRow, token_digest(refresh_token))
        if token is None:
            return None
        row = await s.get(SessionRow, token.session_id, with_for_update=True)
        if row is None:
            return None
        await self._revoke_rows(s, [row], reason, self._clock.now())
        return row.customer_id

    async def revoke_all(self, s: AsyncSession, customer_id: str, reason: str, *, keep: str = "") -> list[str]:
        """Revoke every open session of the customer except ``keep``; their ids."""
        rows = (
            (
                await s.execute(
                    select(SessionRow)
                    .where(SessionRow.customer_id == customer_id, SessionRow.revoked_at.is_(None))
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        rows = [r for r in rows if r.id != keep]
        await self._revoke_rows(s, rows, reason, self._clock.now())
        return [r.id for r in rows]

    async def session_ids(self, s: AsyncSession, customer_id: str) -> list[str]:
        return list(
            (await s.execute(select(SessionRow.id).where(SessionRow.customer_id == customer_id))).scalars().all()
        )

    @staticmethod
    async def _revoke_rows(s: AsyncSession, rows: list[SessionRow], reason: str, now: datetime) -> None:
        ids = [r.id for r in rows if r.revoked_at is None]
        if ids:
            await s.execute(
                update(SessionRow).where(SessionRow.id.in_(ids)).values(revoked_at=now, revoke_reason=reason)
            )
            for r in rows:
                if r.id in ids:
                    r.revoked_at, r.revoke_reason = now, reason

    async def forget(self, session_ids: list[str]) -> None:
        """Drop cached session states; call after the revoking transaction committed."""
        if session_ids:
            await self._cache.delete(*(_cache_key(i) for i in session_ids))


def refresh_failure(message: str) -> RequestError:
    return RequestError(INVALID_REFRESH_TOKEN, message)


class CustomerTokenVerifier:
    """The call pipeline's verifier for customer access tokens (``CredentialVerifier``)."""

    def __init__(self, db: Database, cache: Cache, clock: Clock, access: AccessTokens, cache_ttl_s: float) -> None:
        self._db, self._cache, self._clock, self._access, self._ttl = db, cache, clock, access, cache_ttl_s

    def accepts(self, token: str) -> bool:
        return looks_like_access_token(token)

    async def verify(self, token: str) -> Principal:
        now = self._clock.now()
        try:
            claims = self._access.decode(token, now)
        except TokenError as exc:
            if exc.expired:
                raise RequestError(
                    ACCESS_TOKEN_EXPIRED, "The access token has expired; refresh it with the refresh token."
                ) from None
            raise RequestError(INVALID_ACCESS_TOKEN, "The access token is not valid.") from None
        key = _cache_key(claims.session_id)
        cached = await self._cache.get(key)
        if cached is not None:
            state = json.loads(cached)
        else:
            state = await self._load(claims.session_id)
            await self._cache.set(key, json.dumps(state).encode(), self._ttl)
        if (
            not state
            or state.get("customer") != claims.customer_id
            or state["revoked"]
            or state["expires"] <= now.timestamp()
        ):
            raise RequestError(INVALID_ACCESS_TOKEN, "The session of this access token has ended; sign in again.")
        return Principal(PrincipalKind.CUSTOMER, f"customers/{claims.customer_id}", _CUSTOMER_SCOPES)

    async def _load(self, session_id: str) -> dict[str, object] | None:
        async with self._db.read() as s:
            row = await s.get(SessionRow, session_id)
        if row is None:
            return None
        return {
            "customer": row.customer_id,
            "revoked": row.revoked_at is not None,
            "expires": row.expires_at.timestamp(),
        }
