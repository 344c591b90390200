"""Customer access tokens: HS256 compact JWTs with the token type enforced."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from rcommerce.auth.customer_tokens import (
    AccessTokens,
    TokenError,
    looks_like_access_token,
    new_opaque_token,
    token_digest,
)

SECRET = b"store-secret-for-tests"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def forge(
    claims: dict[str, object], header: dict[str, object] | None = None, secret: bytes = SECRET, *, derive: bool = True
) -> str:
    """A token signed exactly like the real ones (same derived key), with chosen claims."""
    key = hmac.new(secret, b"rcommerce/customer-access-token/v1", hashlib.sha256).digest() if derive else secret
    head = {"alg": "HS256", "typ": "JWT"} if header is None else header
    signing_input = f"{b64(head)}.{b64(claims)}"
    sig = base64.urlsafe_b64encode(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()).decode().rstrip("=")
    return f"{signing_input}.{sig}"


@pytest.fixture
def tokens() -> AccessTokens:
    return AccessTokens(SECRET, timedelta(minutes=15))


def claims(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "typ": "access",
        "sub": "cus_1",
        "sid": "sess_1",
        "iat": int(NOW.timestamp()),
        "exp": int(NOW.timestamp()) + 900,
    }
    return {**base, **over}


def test_issue_and_decode_round_trip(tokens: AccessTokens) -> None:
    token, expires = tokens.issue("cus_A", "sess_B", NOW)
    assert expires == NOW + timedelta(minutes=15)
    assert looks_like_access_token(token)
    decoded = tokens.decode(token, NOW + timedelta(minutes=14, seconds=59))
    assert (decoded.customer_id, decoded.session_id, decoded.expires_at) == ("cus_A", "sess_B", expires)


def test_expires_after_exactly_the_ttl(tokens: AccessTokens) -> None:
    token, _ = tokens.issue("cus_A", "sess_B", NOW)
    with pytest.raises(TokenError) as caught:
        tokens.decode(token, NOW + timedelta(minutes=15))
    assert caught.value.expired


def test_the_token_type_is_enforced(tokens: AccessTokens) -> None:
    # Correctly signed, but a refresh-type (or untyped) token never passes as an access token.
    assert tokens.decode(forge(claims()), NOW).customer_id == "cus_1"
    for typ in ("refresh", "reset", None):
        with pytest.raises(TokenError, match="not an access token") as caught:
            tokens.decode(forge(claims(typ=typ)), NOW)
        assert not caught.value.expired


@pytest.mark.parametrize("header", [{"alg": "none"}, {"alg": "HS512"}, {"alg": "RS256"}, {}])
def test_only_hs256_is_accepted(tokens: AccessTokens, header: dict[str, object]) -> None:
    with pytest.raises(TokenError, match="algorithm"):
        tokens.decode(forge(claims(), header), NOW)


def test_tampering_or_another_secret_is_refused(tokens: AccessTokens) -> None:
    token, _ = tokens.issue("cus_A", "sess_B", NOW)
    header, _payload, sig = token.split(".")
    swapped = f"{header}.{b64(claims(sub='cus_EVIL'))}.{sig}"
    with pytest.raises(TokenError, match="signature"):
        tokens.decode(swapped, NOW)
    with pytest.raises(TokenError, match="signature"):
        AccessTokens(b"another-store", timedelta(minutes=15)).decode(token, NOW)
    # The raw store secret (which signs other things) is not the signing key.
    with pytest.raises(TokenError, match="signature"):
        tokens.decode(forge(claims(), derive=False), NOW)


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c.d", "eyJ.!!!.x", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA"])
def test_malformed_tokens_are_refused(tokens: AccessTokens, token: str) -> None:
    with pytest.raises(TokenError):
        tokens.decode(token, NOW)


def test_missing_claims_are_refused(tokens: AccessTokens) -> None:
    with pytest.raises(TokenError, match="missing"):
        tokens.decode(forge(claims(sid=None)), NOW)
    with pytest.raises(TokenError, match="missing"):
        tokens.decode(forge(claims(exp="soon")), NOW)


def test_shape_routing_tells_access_tokens_from_api_keys() -> None:
    assert not looks_like_access_token("sk_" + "a" * 32)
    assert not looks_like_access_token(new_opaque_token("rt"))
    assert looks_like_access_token(forge(claims()))


def test_opaque_tokens_are_random_and_stored_as_sha256() -> None:
    a, b = new_opaque_token("rt"), new_opaque_token("rt")
    assert a != b and a.startswith("rt_") and len(a) == 46
    assert token_digest(a) == hashlib.sha256(a.encode()).hexdigest()
    assert len(token_digest(a)) == 64
