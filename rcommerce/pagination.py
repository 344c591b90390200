"""Page sizes and opaque, signed page tokens (AIP-158)."""

from __future__ import annotations

import base64
import hashlib
import hmac

from google.protobuf.message import Message

from rcommerce.errors import INVALID_PAGE_SIZE, INVALID_PAGE_TOKEN, FieldViolation, RequestError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def page_size(value: int, field: str = "page_size") -> int:
    """0 means the default (20); larger than 100 is clamped; negative is an error."""
    if value < 0:
        raise RequestError(
            INVALID_PAGE_SIZE,
            f"{field} must not be negative.",
            violations=[FieldViolation(field, "must be >= 0")],
            field=field,
        )
    return DEFAULT_PAGE_SIZE if value == 0 else min(value, MAX_PAGE_SIZE)


def fingerprint(request: Message, exclude: tuple[str, ...] = ("page_size", "page_token")) -> str:
    """A stable hash of ``request``'s filter fields: everything but ``exclude``.

    Deterministic serialisation makes equal requests hash equal within one schema version.
    """
    filters = type(request)()
    filters.CopyFrom(request)
    for name in exclude:
        filters.ClearField(name)
    return hashlib.sha256(filters.SerializeToString(deterministic=True)).hexdigest()


class PageTokens:
    """Encodes an offset with a fingerprint of the request's filters, HMAC-signed."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _tag(self, body: bytes) -> bytes:
        return hmac.new(self._secret, body, hashlib.sha256).digest()[:12]

    def encode(self, offset: int, fingerprint: str) -> str:
        body = f"{offset}:{hashlib.sha256(fingerprint.encode()).hexdigest()[:16]}".encode()
        return base64.urlsafe_b64encode(body + self._tag(body)).decode().rstrip("=")

    def decode(self, token: str, fingerprint: str) -> int:
        if not token:
            return 0
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            body, tag = raw[:-12], raw[-12:]
            offset_text, digest = body.decode().split(":", 1)
            valid = hmac.compare_digest(tag, self._tag(body))
            offset = int(offset_text)
        except (ValueError, UnicodeDecodeError):
            valid, offset, digest = False, 0, ""
        if not valid or offset < 0 or digest != hashlib.sha256(fingerprint.encode()).hexdigest()[:16]:
            raise RequestError(
                INVALID_PAGE_TOKEN,
                "page_token is invalid or was issued for different filters; start again without it.",
                field="page_token",
            )
        return offset
