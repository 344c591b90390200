"""Who may reach a cart (DECISIONS 14: guest carts by token).

A guest cart is reached with its secret cart token: 32 random bytes, URL-safe, shown
once by CreateCart, stored only as its SHA-256. A customer's cart is reached by that
signed-in customer. Secret keys (back office) reach every cart.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from rcommerce.auth.principal import Principal, customer_id_of
from rcommerce.domain.carts.errors import (
    CART_OWNED_BY_ANOTHER_CUSTOMER,
    CART_TOKEN_INVALID,
    CART_TOKEN_REQUIRED,
    CartError,
)
from rcommerce.domain.carts.state import CartView

__all__ = ["check_access", "hash_token", "new_token"]

TOKEN_PREFIX = "ctok_"  # noqa: S105 - a prefix, not a secret


def new_token() -> str:
    """A fresh guest cart token, ``ctok_`` + 43 URL-safe characters."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_access(cart: CartView, principal: Principal, token: str) -> None:
    """Raise unless ``principal`` (with ``token``) may reach ``cart``."""
    if principal.is_staff:
        return
    if cart.customer_id is not None:
        if customer_id_of(principal) != cart.customer_id:
            raise CartError(
                CART_OWNED_BY_ANOTHER_CUSTOMER,
                f"Cart carts/{cart.id} belongs to another customer.",
                cart=f"carts/{cart.id}",
            )
        return
    if not token:
        raise CartError(
            CART_TOKEN_REQUIRED, f"Cart carts/{cart.id} is a guest cart: send its cart_token.", cart=f"carts/{cart.id}"
        )
    if cart.token_hash is None or not hmac.compare_digest(cart.token_hash, hash_token(token)):
        raise CartError(
            CART_TOKEN_INVALID, f"The cart_token is not the token of carts/{cart.id}.", cart=f"carts/{cart.id}"
        )
