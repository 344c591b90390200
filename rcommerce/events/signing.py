"""Signing outbound webhooks (DECISIONS 19).

Two signatures over the same bytes, so both kinds of receiver can verify:

* Standard Webhooks: ``webhook-signature: v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``
  where ``key`` is the base64-decoded part of the secret after ``whsec_``. A secret
  without that prefix, or whose remainder is not base64, is used as UTF-8 bytes.
* The original design: ``X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret_utf8, body)>``
  with the *full* secret string (prefix included) as the key.

The body is serialized once (:func:`event_body`) and those exact bytes are signed and sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SECRET_PREFIX",
    "event_body",
    "generate_secret",
    "legacy_signature",
    "sign_headers",
    "signing_key",
    "standard_signature",
    "verify_standard",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def generate_secret() -> str:
    """A new secret: ``whsec_`` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signing_key(secret: str) -> bytes:
    """The Standard Webhooks HMAC key of ``secret``."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` for the ``webhook-signature`` header."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def legacy_signature(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` for the ``X-Webhook-Signature`` header."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sign_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Every header of a delivery: content type, ids and both signatures."""
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
        "X-Webhook-Signature": legacy_signature(secret, body),
    }


def verify_standard(secret: str, headers: Mapping[str, str], body: bytes, *, now: int, tolerance_s: int = 300) -> bool:
    """Receiver-side check (used by tests; docs/webhooks.md has a stdlib-only copy)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id, timestamp = lower["webhook-id"], int(lower["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = standard_signature(secret, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, sig) for sig in lower.get("webhook-signature", "").split())


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_body(event_id: str, type_: str, created_at: datetime, data: Mapping[str, Any]) -> bytes:
    """The delivery body ``{"id","type","created_at","data":{"object":...}}``, compact UTF-8."""
    envelope = {"id": event_id, "type": type_, "created_at": _rfc3339(created_at), "data": dict(data)}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
