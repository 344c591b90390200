"""Who may reach a cart (DECISIONS 14: guest carts by token), and whether it still takes
changes.

A guest cart is reached with its secret cart token: 32 random bytes, URL-safe, shown
once by CreateCart, stored only as its SHA-256. A customer's cart is reached by that
signed-in customer. Secret keys (back office) reach every cart. A converted cart
(checked out, merged) refuses changes; an expired one refuses everything.

Paying a cart is reaching it: :func:`check_payable` is the guard of "carts/..." payment
targets (``PaymentService.guard_targets``, registered by ``carts.wiring``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal, customer_id_of
from rcommerce.domain.carts.errors import (
    CART_CONVERTED,
    CART_EXPIRED,
    CART_NOT_FOUND,
    CART_OWNED_BY_ANOTHER_CUSTOMER,
    CART_TOKEN_INVALID,
    CART_TOKEN_REQUIRED,
    CartError,
)
from rcommerce.domain.carts.models import ACTIVE, CONVERTED
from rcommerce.domain.carts.state import CartView, load_cart
from rcommerce.errors import invalid

__all__ = ["check_access", "check_open", "check_payable", "check_unexpired", "hash_token", "new_token"]

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


def check_open(cart: CartView, now: datetime) -> None:
    """Converted carts refuse changes (409); expired carts refuse everything (410)."""
    if cart.status == CONVERTED:
        raise CartError(
            CART_CONVERTED, f"Cart carts/{cart.id} was converted and refuses changes.",
            cart=f"carts/{cart.id}", convertedTo=cart.converted_to or "",
        )  # fmt: skip
    check_unexpired(cart, now)


def check_unexpired(cart: CartView, now: datetime) -> None:
    if cart.status == ACTIVE and now >= cart.expires_at:
        raise CartError(
            CART_EXPIRED, f"Cart carts/{cart.id} expired at {cart.expires_at.isoformat()}; start a new cart.",
            cart=f"carts/{cart.id}", expireTime=cart.expires_at.isoformat(),
        )  # fmt: skip


async def check_payable(
    session: AsyncSession, cart_id: str, principal: Principal, token: str, now: datetime, currency_code: str
) -> None:
    """Raise unless ``principal`` (with ``token``) may pay cart ``cart_id`` now, in the
    order and with the reasons of a cart command: CART_NOT_FOUND, then :func:`check_access`
    (a guest cart needs its token, a customer's cart its customer; secret keys pass), then
    :func:`check_open` (a converted cart is CART_CONVERTED: its order is paid instead; an
    expired one CART_EXPIRED), then the currency (the cart's, else VALIDATION_FAILED on
    ``currency_code``). One read of the cart, unlocked: checkout, the cart's own
    payer, locks and checks the cart itself and does not come through here."""
    cart = await load_cart(session, cart_id)
    if cart is None:
        raise CartError(CART_NOT_FOUND, f"Cart carts/{cart_id} does not exist.", cart=f"carts/{cart_id}")
    check_access(cart, principal, token)
    check_open(cart, now)
    if currency_code != cart.currency_code:
        raise invalid("currency_code", f"must be the currency of carts/{cart_id}, {cart.currency_code}")
