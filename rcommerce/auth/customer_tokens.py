"""Customer credentials: signed short-lived access tokens and opaque one-time tokens.

Access tokens are compact JWTs (RFC 7519) signed with HMAC-SHA256 under a key derived
from the store's secret key, so no other signature made with that secret (page tokens,
download links) can ever pass for one. Claims: ``sub`` (the ``cus_...`` id), ``sid``
(the sign-in session), ``typ`` (always ``"access"``, enforced: a token of another type is
refused even when its signature is good), ``iat`` and ``exp``. Only ``alg: HS256`` is
accepted.

Refresh and password-reset tokens are random opaque strings; only their SHA-256 is
stored, so a database leak yields no usable token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

__all__ = ["AccessClaims", "AccessTokens", "TokenError", "looks_like_access_token", "new_opaque_token", "token_digest"]

ACCESS = "access"
_HEADER = {"alg": "HS256", "typ": "JWT"}
_KEY_LABEL = b"rcommerce/customer-access-token/v1"


class TokenError(Exception):
    """The token is not a valid access token; ``expired`` when only its time ran out."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


@dataclass(frozen=True, slots=True)
class AccessClaims:
    customer_id: str
    session_id: str
    issued_at: datetime
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def looks_like_access_token(token: str) -> bool:
    """Cheap shape test for routing a bearer token to the right verifier."""
    return token.startswith("eyJ") and token.count(".") == 2


class AccessTokens:
    """Issues and checks access tokens."""

    def __init__(self, secret: bytes, ttl: timedelta) -> None:
        self._key = hmac.new(secret, _KEY_LABEL, hashlib.sha256).digest()
        self.ttl = ttl

    def _sign(self, signing_input: bytes) -> bytes:
        return hmac.new(self._key, signing_input, hashlib.sha256).digest()

    def issue(self, customer_id: str, session_id: str, now: datetime) -> tuple[str, datetime]:
        """A new token and its expiry."""
        expires = now + self.ttl
        claims = {
            "typ": ACCESS,
            "sub": customer_id,
            "sid": session_id,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        header = _b64(json.dumps(_HEADER, separators=(",", ":")).encode())
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        signing_input = f"{header}.{payload}".encode()
        return f"{header}.{payload}.{_b64(self._sign(signing_input))}", expires

    def decode(self, token: str, now: datetime) -> AccessClaims:
        """The claims of a genuine, unexpired access token; :class:`TokenError` otherwise."""
        parts = token.split(".")
        if len(parts) != 3:
            raise TokenError("not a compact token")
        try:
            header = json.loads(_unb64(parts[0]))
            signature = _unb64(parts[2])
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenError("malformed token") from exc
        if not isinstance(header, dict) or header.get("alg") != "HS256":
            raise TokenError("unsupported algorithm")
        if not hmac.compare_digest(signature, self._sign(f"{parts[0]}.{parts[1]}".encode())):
            raise TokenError("bad signature")
        try:
            claims: Any = json.loads(_unb64(parts[1]))
        except (ValueError, UnicodeDecodeError) as exc:
            raise TokenError("malformed claims") from exc
        if not isinstance(claims, dict) or claims.get("typ") != ACCESS:
            raise TokenError("not an access token")
        sub, sid, iat, exp = claims.get("sub"), claims.get("sid"), claims.get("iat"), claims.get("exp")
        if not (isinstance(sub, str) and isinstance(sid, str) and isinstance(iat, int) and isinstance(exp, int)):
            raise TokenError("missing claims")
        if now.timestamp() >= exp:
            raise TokenError("expired", expired=True)
        tz = now.tzinfo
        return AccessClaims(sub, sid, datetime.fromtimestamp(iat, tz), datetime.fromtimestamp(exp, tz))


def new_opaque_token(prefix: str) -> str:
    """A random token such as ``rt_<43 url-safe characters>`` (256 bits)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def token_digest(token: str) -> str:
    """What is stored for an opaque token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()
