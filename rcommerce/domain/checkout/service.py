"""Checkout completion (DECISIONS 14): a cart becomes an order, with one charge.

``CheckoutService.complete`` runs in three steps so that no database transaction stays
open while the payment gateway is called; the common path (automatic capture) is four
transactions:

1. *begin* (one transaction): lock the cart row, check access and state (empty, expired,
   converted), the email, the shipping address and the selected quote — re-quoted here on
   the server (a changed rate is CHECKOUT_SHIPPING_RATE_CHANGED, never charged silently)
   — and the stock; then take the cart's lease in ``checkout_attempts`` (one completion
   of a cart talks to the gateway at a time; the same idempotency key waits for the one
   in flight, another key gets CHECKOUT_IN_PROGRESS), and claim the payment in the same
   transaction (``PaymentService.claim_create``: capture ``manual``, the key
   ``chk:<cart>:<client key>``; the payment row is inserted). A refused payment request
   rolls all of it back, lease included: the reason is raised and nothing changed.
2. *authorize*: ``PaymentService.initiate_claimed`` calls the gateway (which receives the
   key too) and applies its answer in a transaction of its own; a key that had finished
   answered its stored payment in step 1 and nothing reaches the gateway. A decline fails
   the checkout with the decline's reason; a required action (3-D Secure, redirect) is
   answered as REQUIRES_ACTION and the next call with ``action_data`` completes it.
3. *place* (one transaction): lock the cart again, price it again (the total must still
   be the authorized amount), ``OrderPlacement.place`` (order snapshot, stock reserved,
   promotion usage, tax lines, events), convert the cart, mark the attempt completed;
   in regions with automatic capture, claim the capture (``PaymentService.claim_capture``,
   which on a refusal undoes its claim: the capture is skipped, the order commits).
   Any failure here voids the authorization (refunds it when the gateway had captured).
   After the commit the claimed capture calls the gateway and is applied in a fourth
   transaction (``PaymentService.capture_claimed``).

A completed checkout answers every later completion of its cart with the same order.
A process that dies between 2 and 3 leaves an authorization without an order: the
reconciler (``reconciler.py``) voids it after ``[checkout] orphan_timeout_s``. A process
that dies between 3 and 4, or a capture that meets a gateway error, leaves the capture's
key pending: the reconciler resumes the capture with that key.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.clock import Clock
from rcommerce.config import CheckoutSettings
from rcommerce.db.database import Database
from rcommerce.domain.carts import convert as cart_convert
from rcommerce.domain.carts import state as cart_state
from rcommerce.domain.carts.access import check_access
from rcommerce.domain.carts.errors import (
    CART_CONVERTED,
    CART_EXPIRED,
    CART_NOT_FOUND,
    SHIPPING_ADDRESS_REQUIRED,
    CartError,
)
from rcommerce.domain.carts.models import ACTIVE, CONVERTED, CartRow
from rcommerce.domain.carts.service import CartService, PricedCart
from rcommerce.domain.carts.state import CartView
from rcommerce.domain.checkout import attempts, convert
from rcommerce.domain.checkout.attempts import AttemptState
from rcommerce.domain.checkout.errors import (
    CHECKOUT_CART_EMPTY,
    CHECKOUT_EMAIL_REQUIRED,
    CHECKOUT_GATEWAY_NOT_ALLOWED,
    CHECKOUT_IN_PROGRESS,
    CHECKOUT_NOT_FOUND,
    CHECKOUT_PAYMENT_NOT_AUTHORIZED,
    CHECKOUT_SHIPPING_OPTION_REQUIRED,
    CHECKOUT_SHIPPING_RATE_CHANGED,
    CHECKOUT_TOTAL_CHANGED,
    CheckoutError,
)
from rcommerce.domain.checkout.models import CheckoutAttemptRow
from rcommerce.domain.inventory.errors import INSUFFICIENT_INVENTORY
from rcommerce.domain.inventory.stock import Stock
from rcommerce.domain.orders.placement import OrderPlacement, PlacementRequest
from rcommerce.domain.payments.errors import IDEMPOTENCY_KEY_REUSED, PaymentError
from rcommerce.domain.payments.rules import PaymentState
from rcommerce.domain.payments.service import CreateClaim, OperationClaim, PaymentService
from rcommerce.domain.pricing.assembly import PricingContext, PricingEngine
from rcommerce.errors import INTERNAL_ERROR, DomainError, catalogue, invalid
from rcommerce.events import record_event
from rcommerce.gen.v1 import carts_pb2, checkout_pb2, payments_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_name

__all__ = ["CheckoutService", "compensation_key"]

log = logging.getLogger("rcommerce.checkout")

S = PaymentState
AUTHORIZING, REQUIRES_ACTION, COMPLETED, FAILED = "authorizing", "requires_action", "completed", "failed"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: How often a repeated completion looks at the one in flight.
_POLL_S = 0.05
MAX_KEY_LENGTH = 200
#: Failures after which payments promise that the same idempotency key retries safely.
_RETRYABLE = frozenset({"PAYMENT_GATEWAY_ERROR", "PAYMENT_OPERATION_IN_PROGRESS"})

#: The prefix of :func:`compensation_key`: the reconciler skips orphans whose undo is done by it.
UNDO_KEY_PREFIX = "chk-undo:"


def compensation_key(payment_id: str) -> str:
    """The idempotency key of the void (or refund) that undoes ``payment_id``: the same
    for the completion that failed and for the reconciler, so the gateway acts once."""
    return f"{UNDO_KEY_PREFIX}{payment_id}"


#: The prefix of :func:`capture_key`: the reconciler finds unfinished automatic captures by it.
CAPTURE_KEY_PREFIX = "chk-cap:"


def capture_key(payment_id: str) -> str:
    """The idempotency key of the automatic capture of ``payment_id``: claimed with the
    order, and resumed with the same key by the reconciler when it did not finish."""
    return f"{CAPTURE_KEY_PREFIX}{payment_id}"


@dataclass(frozen=True, slots=True)
class _Plan:
    """What step 1 decided, for steps 2 and 3."""

    attempt_id: str
    cart_id: str
    key: str
    gateway: str
    amount: int
    currency: str
    email: str
    customer_id: str
    automatic_capture: bool
    #: The payment of an earlier call with this key that waits for its action.
    payment_id: str = ""
    #: The cart as priced in step 1 and its version then: step 3 reuses the figures when
    #: the cart did not change meanwhile (else it prices again and compares totals).
    priced: PricedCart | None = None
    cart_version: int = 0
    #: What step 1 claimed of the payment in its own transaction: the payment to initiate
    #: at the gateway, or the stored answer of a create that finished with this key.
    claimed: payments_pb2.Payment | CreateClaim | None = None


class _Wait:
    """Step 1 found a completion with the same key in flight."""


def _hash(request: checkout_pb2.CompleteCheckoutRequest) -> str:
    """The request without its key, token and action result: the same completion."""
    copy = checkout_pb2.CompleteCheckoutRequest()
    copy.CopyFrom(request)
    for name in ("idempotency_key", "cart_token", "action_data"):
        copy.ClearField(name)
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


def _check_key(key: str) -> str:
    key = key.strip()
    if not key:
        raise invalid("idempotency_key", "required (or send the Idempotency-Key header)")
    if len(key) > MAX_KEY_LENGTH:
        raise invalid("idempotency_key", f"at most {MAX_KEY_LENGTH} characters")
    return key


def _replayed(attempt: CheckoutAttemptRow | AttemptState) -> DomainError:
    """The stored failure of a completion, raised again for a retry with its key."""
    found = next((r for r in catalogue() if r.name == attempt.failure_reason), None)
    if found is None:
        found = CHECKOUT_IN_PROGRESS
    return CheckoutError(found, attempt.failure_message or "The completion failed.", replayed="true")


class CheckoutService:
    """Checkout completion over carts, payments and order placement (see the module doc)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        carts: CartService,
        payments: PaymentService,
        placement: OrderPlacement,
        pricing: PricingEngine,
        stock: Stock,
        settings: CheckoutSettings | None = None,
        crash: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._carts = carts
        self._payments = payments
        self._placement = placement
        self._pricing = pricing
        self._stock = stock
        self.settings = settings or CheckoutSettings()
        self._crash = crash or (lambda: os.kill(os.getpid(), signal.SIGKILL))
        #: Captures still running for callers that went away (see ``complete``).
        self._finishing: set[asyncio.Task[None]] = set()

    async def finish_captures(self) -> None:
        """Wait for the automatic captures whose callers went away (at shutdown, before the
        database closes)."""
        while self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)

    # -- reads ---------------------------------------------------------------------------
    async def get(self, principal: Principal, name: str, token: str) -> checkout_pb2.Checkout:
        if not name.endswith("/checkout"):
            raise invalid("name", "must look like carts/cart_.../checkout")
        cart_id = parse_name(name.removesuffix("/checkout"), "carts", "cart")
        async with self._db.read() as s:
            cart = await s.get(CartRow, cart_id)
            if cart is None:
                raise CartError(CART_NOT_FOUND, f"Cart carts/{cart_id} does not exist.", cart=f"carts/{cart_id}")
            check_access(cart, principal, token)
            attempt = await self._attempt(s, cart_id)
            if attempt is None:
                raise CheckoutError(
                    CHECKOUT_NOT_FOUND, f"No checkout was started for carts/{cart_id}.", cart=f"carts/{cart_id}"
                )
            return await self._message(attempt)

    # -- complete ------------------------------------------------------------------------
    async def complete(
        self, principal: Principal, request: checkout_pb2.CompleteCheckoutRequest, *, ip_address: str = ""
    ) -> checkout_pb2.Checkout:
        cart_id = parse_name(request.cart, "carts", "cart", "cart")
        key = _check_key(request.idempotency_key)
        if request.email and (len(request.email) > 320 or not _EMAIL.match(request.email)):
            raise invalid("email", "must be an email address")
        digest = _hash(request)
        deadline = time.monotonic() + self.settings.in_progress_wait_s
        while True:
            begun = await self._begin(principal, request, cart_id, key, digest)
            if not isinstance(begun, _Wait):
                break
            if time.monotonic() >= deadline:
                raise CheckoutError(
                    CHECKOUT_IN_PROGRESS, f"A completion of carts/{cart_id} with this key is still running; retry shortly.",
                    cart=f"carts/{cart_id}", retry_after_s=1.0,
                )  # fmt: skip
            await asyncio.sleep(_POLL_S)
        if isinstance(begun, checkout_pb2.Checkout):
            return begun
        plan = begun
        try:
            payment = await self._authorize(plan, request)
        except DomainError as exc:
            if exc.reason.name in _RETRYABLE:
                await self._release(plan)  # the same key may retry: the gateway saw the same key
            else:
                await self._fail(plan, exc, "")
            raise
        except BaseException:
            await self._release(plan)
            raise
        if payment.status == payments_pb2.PAYMENT_STATUS_REQUIRES_ACTION:
            return await self._await_action(plan, payment)
        payment_id = payment.name.removeprefix("payments/")
        if payment.status not in (
            payments_pb2.PAYMENT_STATUS_AUTHORIZED,
            payments_pb2.PAYMENT_STATUS_SUCCEEDED,
            payments_pb2.PAYMENT_STATUS_PENDING,
        ):
            error = CheckoutError(
                CHECKOUT_PAYMENT_NOT_AUTHORIZED,
                f"Payment {payment.name} is {payments_pb2.PaymentStatus.Name(payment.status)}; complete again with a new idempotency key.",
                payment=payment.name,
            )  # fmt: skip
            await self._fail(plan, error, payment_id)
            raise error
        if self.settings.fault_injection == "crash_after_authorize":
            log.critical("fault injection: ending the process after authorizing %s", payment.name)
            self._crash()
        try:
            placed, capture = await self._place(plan, payment, ip_address)
        except BaseException as exc:
            await self._undo(payment_id)
            if isinstance(exc, DomainError):
                await self._fail(plan, exc, payment_id)
            else:
                await self._fail(plan, CheckoutError(INTERNAL_ERROR, f"Placing the order failed: {exc!r}"), payment_id)
            raise
        if capture is not None and self.settings.fault_injection == "crash_after_placement":
            log.critical("fault injection: ending the process after placing %s", placed.order)
            self._crash()
        if capture is not None:
            # The order committed with its capture claimed: a caller that goes away now (a
            # client deadline, a disconnect) must not leave the payment locked under the
            # claim, so the capture runs to its end whatever happens to this call.
            finishing = asyncio.ensure_future(self._capture(capture))
            self._finishing.add(finishing)
            finishing.add_done_callback(self._finishing.discard)
            await asyncio.shield(finishing)
        return placed

    # -- step 1 --------------------------------------------------------------------------
    async def _begin(
        self,
        principal: Principal,
        request: checkout_pb2.CompleteCheckoutRequest,
        cart_id: str,
        key: str,
        digest: str,
    ) -> _Plan | _Wait | checkout_pb2.Checkout:
        now = self._clock.now()
        async with self._db.transaction() as s:
            cart = await cart_state.load_cart(s, cart_id, lock=True)
            if cart is None:
                raise CartError(CART_NOT_FOUND, f"Cart carts/{cart_id} does not exist.", cart=f"carts/{cart_id}")
            check_access(cart, principal, request.cart_token)
            attempt = await attempts.locked_attempt(s, cart_id)
            if cart.status == CONVERTED:
                if attempt is not None and attempt.status == COMPLETED and attempt.order_id == cart.converted_to:
                    return await self._message(attempt, s)  # completing twice: the same order
                raise CartError(
                    CART_CONVERTED, f"Cart carts/{cart_id} was merged into another cart and cannot be checked out.",
                    cart=f"carts/{cart_id}", convertedTo=cart.converted_to or "",
                )  # fmt: skip
            if now >= cart.expires_at:
                raise CartError(
                    CART_EXPIRED, f"Cart carts/{cart_id} expired at {cart.expires_at.isoformat()}; start a new cart.",
                    cart=f"carts/{cart_id}", expireTime=cart.expires_at.isoformat(),
                )  # fmt: skip
            if attempt is not None:
                if attempt.lock_key and self._lease_held(attempt, now):
                    if attempt.lock_key == key:
                        return _Wait()
                    raise CheckoutError(
                        CHECKOUT_IN_PROGRESS, f"Another completion of carts/{cart_id} is running; retry shortly.",
                        cart=f"carts/{cart_id}", retry_after_s=1.0,
                    )  # fmt: skip
                if attempt.idempotency_key == key:
                    if attempt.request_hash != digest:
                        raise PaymentError(
                            IDEMPOTENCY_KEY_REUSED, "This idempotency key was used for another completion of the cart.",
                            cart=f"carts/{cart_id}",
                        )  # fmt: skip
                    if attempt.status == FAILED:
                        raise _replayed(attempt)
            priced = await self._carts.price_cart(s, cart)
            plan = await self._validate(s, cart, priced, request, key)
            resume = attempt is not None and attempt.status == REQUIRES_ACTION and attempt.idempotency_key == key
            if attempt is None:
                attempt = AttemptState(
                    id=new_id("chk", now), cart_id=cart_id, status=AUTHORIZING, idempotency_key=key, request_hash=digest,
                    gateway=plan.gateway, payment_id="", order_id="", order_number="", amount=plan.amount,
                    currency_code=plan.currency, failure_reason="", failure_message="", attempts=1, lock_key=key,
                    locked_at=now, created_at=now, updated_at=now,
                )  # fmt: skip
                await attempts.insert_attempt(s, attempt)
            else:
                # A new key is a new completion of the cart: counted, and its payment is yet to come.
                again = {} if attempt.idempotency_key == key else {"attempts": attempt.attempts + 1, "payment_id": ""}
                attempt = await attempts.update_attempt(
                    s, attempt, **again, status=AUTHORIZING, idempotency_key=key, request_hash=digest,
                    gateway=plan.gateway, amount=plan.amount, currency_code=plan.currency, failure_reason="",
                    failure_message="", lock_key=key, locked_at=now, updated_at=now,
                )  # fmt: skip
            # The payment's step 1 in this same transaction (its key claimed, the payment
            # inserted); a refusal rolls the attempt back with it. A resumed action has its
            # payment already.
            payment_id = attempt.payment_id if resume else ""
            claimed = None if payment_id else await self._payments.claim_create(s, self._payment_request(plan, request))
            return _Plan(
                attempt.id, cart_id, key, plan.gateway, plan.amount, plan.currency, plan.email, plan.customer_id,
                plan.automatic_capture, payment_id, priced, cart.version, claimed,
            )  # fmt: skip

    def _lease_held(self, attempt: CheckoutAttemptRow | AttemptState, now: datetime) -> bool:
        locked = attempt.locked_at
        return locked is not None and now - locked < timedelta(seconds=self.settings.lease_timeout_s)

    async def _validate(
        self,
        s: AsyncSession,
        cart: CartView,
        priced: PricedCart,
        request: checkout_pb2.CompleteCheckoutRequest,
        key: str,
    ) -> _Plan:
        """Every rule before money moves; raises the first broken one (nothing written)."""
        name = f"carts/{cart.id}"
        if not priced.lines:
            raise CheckoutError(CHECKOUT_CART_EMPTY, f"Cart {name} has no lines.", cart=name)
        email = cart.email or request.email or (priced.customer.email if priced.customer else "")
        if not email:
            raise CheckoutError(CHECKOUT_EMAIL_REQUIRED, f"Cart {name} has no email; set one or send email.", cart=name)
        if any(line.requires_shipping for line in priced.lines):
            destination = cart_convert.destination(cart.shipping_address)
            if destination is None:
                raise CartError(
                    SHIPPING_ADDRESS_REQUIRED, f"Cart {name} has items to ship and no shipping address.", cart=name
                )
            if not cart.shipping_quote_id:
                raise CheckoutError(
                    CHECKOUT_SHIPPING_OPTION_REQUIRED, f"Cart {name} has no selected shipping option.", cart=name
                )
            # The stored quote must still be valid (SHIPPING_QUOTE_NOT_FOUND/EXPIRED): pricing
            # kept it when it was; otherwise reading it again raises why ...
            quote = priced.pricing.quote
            if quote is None or quote.id != cart.shipping_quote_id:
                quote = await self._pricing.shipping.get_quote(s, cart.shipping_quote_id, cart_id=cart.id)
            # ... and re-quoting it now on the server must give the same amount.
            ctx = PricingContext(
                cart_id=cart.id, region=priced.region, customer=priced.customer, coupon_codes=tuple(cart.coupon_codes),
                destination=destination, vat_id=cart.vat_id, shipping_quote_id=quote.id,
            )  # fmt: skip
            shipment = self._pricing.shipment(ctx, priced.lines, destination, priced.pricing.promotions.line_discounts)
            _, options = await self._pricing.shipping.options(s, shipment)
            now_amount = next(
                (o.total for o in options if o.provider == quote.provider and o.service_code == quote.service_code),
                None,
            )
            if now_amount != quote.amount:
                raise CheckoutError(
                    CHECKOUT_SHIPPING_RATE_CHANGED,
                    f"Shipping option {quote.display_name} now costs {now_amount if now_amount is not None else 'nothing: it is no longer offered'}"
                    f" instead of {quote.amount}; select a shipping option again.",
                    cart=name, quoteId=quote.id, quotedAmount=quote.amount,
                    currentAmount="" if now_amount is None else now_amount,
                )  # fmt: skip
        wanted: Counter[str] = Counter()
        for line in priced.lines:
            wanted[line.variant_id] += line.quantity
        available = await self._stock.availability(s, list(wanted))
        for variant_id, quantity in wanted.items():
            found = available.get(variant_id)
            if found is not None and not found.can_sell(quantity):
                raise CheckoutError(
                    INSUFFICIENT_INVENTORY, f"Only {found.available} units of variant {variant_id} are available; {quantity} requested.",
                    requested=quantity, available=found.available, inventoryPolicy=found.policy, variantId=variant_id,
                )  # fmt: skip
        region = priced.region
        gateway = request.gateway or (region.payment_providers[0] if region.payment_providers else "")
        if not gateway:
            raise invalid("gateway", "required: the cart's region names no payment provider")
        if region.payment_providers and gateway not in region.payment_providers:
            raise CheckoutError(
                CHECKOUT_GATEWAY_NOT_ALLOWED, f"Region regions/{region.id} does not offer the {gateway} gateway.",
                gateway=gateway, allowedGateways=",".join(region.payment_providers),
            )  # fmt: skip
        config = self._payments.gateway(gateway).config()  # GATEWAY_NOT_FOUND when not installed
        totals = priced.pricing.breakdown.totals
        return _Plan(
            "", cart.id, key, gateway, totals.total, region.currency_code, email, cart.customer_id or "",
            region.automatic_capture and config.supports_automatic_capture,
        )  # fmt: skip

    # -- step 2 --------------------------------------------------------------------------
    async def _authorize(self, plan: _Plan, request: checkout_pb2.CompleteCheckoutRequest) -> payments_pb2.Payment:
        if plan.payment_id:
            payment = await self._payments.get_payment(f"payments/{plan.payment_id}")
            if payment.status == payments_pb2.PAYMENT_STATUS_REQUIRES_ACTION and request.action_data:
                payment = await self._payments.complete_action(
                    payments_pb2.CompletePaymentActionRequest(
                        name=payment.name, action_data=dict(request.action_data),
                        idempotency_key=f"chk-act:{plan.cart_id}:{plan.key}",
                    )
                )  # fmt: skip
            if payment.status == payments_pb2.PAYMENT_STATUS_FAILED:
                raise CheckoutError(
                    CHECKOUT_PAYMENT_NOT_AUTHORIZED, f"Payment {payment.name} failed ({payment.error_code}); complete again with a new idempotency key.",
                    payment=payment.name, declineCode=payment.error_code,
                )  # fmt: skip
            return payment
        if isinstance(plan.claimed, CreateClaim):
            return await self._payments.initiate_claimed(plan.claimed)
        assert plan.claimed is not None  # step 1 claims the payment unless it resumes one
        return plan.claimed  # a create that finished with this key: the gateway is not called again

    def _payment_request(
        self, plan: _Plan, request: checkout_pb2.CompleteCheckoutRequest
    ) -> payments_pb2.CreatePaymentRequest:
        """The authorization of the checkout: capture ``manual`` where the gateway can, the
        key ``chk:<cart>:<client key>``."""
        manual = self._payments.gateway(plan.gateway).config().supports_manual_capture
        return payments_pb2.CreatePaymentRequest(
            target=f"carts/{plan.cart_id}", gateway=plan.gateway, method_type=request.method_type or "card",
            amount=plan.amount, currency_code=plan.currency, capture_method="manual" if manual else "automatic",
            method_data=dict(request.method_data), saved_method_token=request.saved_method_token,
            customer_id=plan.customer_id, customer_email=plan.email, return_url=request.return_url,
            description=f"Checkout of carts/{plan.cart_id}", idempotency_key=f"chk:{plan.cart_id}:{plan.key}",
        )  # fmt: skip

    async def _await_action(self, plan: _Plan, payment: payments_pb2.Payment) -> checkout_pb2.Checkout:
        now = self._clock.now()
        async with self._db.transaction() as s:
            attempt = await self._attempt(s, plan.cart_id, lock=True)
            assert attempt is not None
            attempt.status, attempt.payment_id = REQUIRES_ACTION, payment.name.removeprefix("payments/")
            attempt.lock_key, attempt.locked_at, attempt.updated_at = "", None, now
            await s.flush()
            return convert.checkout_message(attempt, payment)

    # -- step 3 --------------------------------------------------------------------------
    async def _place(
        self, plan: _Plan, payment: payments_pb2.Payment, ip_address: str
    ) -> tuple[checkout_pb2.Checkout, OperationClaim | None]:
        payment_id = payment.name.removeprefix("payments/")
        now = self._clock.now()
        async with self._db.transaction() as s:
            cart = await cart_state.load_cart(s, plan.cart_id, lock=True)
            attempt = await attempts.locked_attempt(s, plan.cart_id)
            if cart is None or attempt is None or attempt.lock_key != plan.key or cart.status != ACTIVE:
                raise CheckoutError(
                    CHECKOUT_IN_PROGRESS, f"carts/{plan.cart_id} changed hands while its payment was authorized.",
                    cart=f"carts/{plan.cart_id}",
                )  # fmt: skip
            same = plan.priced is not None and cart.version == plan.cart_version
            priced = plan.priced if same and plan.priced is not None else await self._carts.price_cart(s, cart)
            total = priced.pricing.breakdown.totals.total
            if total != payment.amount or priced.region.currency_code != payment.currency_code:
                raise CheckoutError(
                    CHECKOUT_TOTAL_CHANGED, f"The total of carts/{plan.cart_id} is {total}, the payment authorized {payment.amount}.",
                    cart=f"carts/{plan.cart_id}", authorizedAmount=payment.amount, total=total,
                )  # fmt: skip
            placed = await self._placement.place(
                s,
                PlacementRequest(
                    source="checkout", priced=priced, email=plan.email, customer_id=plan.customer_id,
                    payment_ids=(payment_id,), ip_address=ip_address,
                    metadata={"cart": f"carts/{plan.cart_id}", "checkout": attempt.id},
                ),
            )  # fmt: skip
            await cart_state.mark_converted(s, cart, placed.id, now)
            attempt = await attempts.update_attempt(
                s, attempt, status=COMPLETED, payment_id=payment_id, order_id=placed.id, order_number=placed.number,
                lock_key="", locked_at=None, updated_at=now,
            )  # fmt: skip
            # Every event of the placement and these two are written together at commit
            # (one INSERT where the database can).
            cart_message = priced.cart
            cart_message.status = carts_pb2.CART_STATUS_CONVERTED
            record_event(s, "cart.converted", cart_message.name, cart_message, now, order=placed.name)
            message = convert.checkout_message(attempt, payment)
            record_event(s, "checkout.completed", message.name, message, now, order=placed.name)
            capture = None
            if plan.automatic_capture and payment.status == payments_pb2.PAYMENT_STATUS_AUTHORIZED:
                capture = await self._claim_capture(s, payment_id)
            return message, capture

    async def _claim_capture(self, s: AsyncSession, payment_id: str) -> OperationClaim | None:
        """The automatic capture's step 1 in the placement's transaction. A refusal (the
        payment cannot be captured now, another operation holds it) leaves nothing written
        (``claim_capture`` undoes its claim) and skips the capture: it never undoes the
        order, which commits with an authorized payment that staff capture later."""
        request = payments_pb2.CapturePaymentRequest(
            name=f"payments/{payment_id}", idempotency_key=capture_key(payment_id)
        )
        try:
            claimed = await self._payments.claim_capture(s, request)
        except DomainError as exc:
            log.warning("automatic capture of %s failed: %s %s", payment_id, exc.reason.name, exc)
            return None
        return claimed if isinstance(claimed, OperationClaim) else None  # a stored answer: captured already

    async def _capture(self, claim: OperationClaim) -> None:
        """Automatic capture after the order committed (claimed with it): the gateway call
        and its result; the order's payment status is derived again (paid) in the
        transaction that records the capture (the orders context observes its payments). A
        failure leaves the order with an authorized payment that staff capture later; it
        never undoes the order."""
        try:
            await self._payments.capture_claimed(claim)
        except DomainError as exc:
            log.warning("automatic capture of %s failed: %s %s", claim.payment_id, exc.reason.name, exc)

    # -- failure -------------------------------------------------------------------------
    async def _undo(self, payment_id: str) -> None:
        """Void the authorization (refund it when the gateway captured already). Best
        effort: what fails here the reconciler retries."""
        try:
            payment = await self._payments.get_payment(f"payments/{payment_id}")
            key = compensation_key(payment_id)
            if payment.status == payments_pb2.PAYMENT_STATUS_SUCCEEDED:
                await self._payments.refund(
                    payments_pb2.RefundPaymentRequest(name=payment.name, amount=payment.amount_captured, reason="duplicate", idempotency_key=key)
                )  # fmt: skip
            elif payment.status in (
                payments_pb2.PAYMENT_STATUS_AUTHORIZED,
                payments_pb2.PAYMENT_STATUS_PENDING,
                payments_pb2.PAYMENT_STATUS_REQUIRES_ACTION,
            ):
                await self._payments.void(payments_pb2.VoidPaymentRequest(name=payment.name, idempotency_key=key))
        except Exception:
            log.exception("could not undo payment %s; the reconciler will", payment_id)

    async def _fail(self, plan: _Plan, exc: DomainError, payment_id: str) -> None:
        now = self._clock.now()
        async with self._db.transaction() as s:
            attempt = await self._attempt(s, plan.cart_id, lock=True)
            if attempt is None or attempt.lock_key != plan.key:
                return
            attempt.status = FAILED
            attempt.payment_id = payment_id or attempt.payment_id
            attempt.failure_reason, attempt.failure_message = exc.reason.name, str(exc)[:2000]
            attempt.lock_key, attempt.locked_at, attempt.updated_at = "", None, now
            await s.flush()
            message = convert.checkout_message(attempt, None)
            record_event(s, "checkout.failed", message.name, message, now, reason=exc.reason.name)

    async def _release(self, plan: _Plan) -> None:
        """An unexpected failure (or cancellation) while authorizing: free the lease and
        record no failure, so a retry with the same key resumes the same payment (the
        payments context replays or resumes it; the reconciler voids it if nobody does)."""
        async with self._db.transaction() as s:
            attempt = await self._attempt(s, plan.cart_id, lock=True)
            if attempt is not None and attempt.lock_key == plan.key:
                attempt.lock_key, attempt.locked_at = "", None

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    async def _attempt(s: AsyncSession, cart_id: str, *, lock: bool = False) -> CheckoutAttemptRow | None:
        query = select(CheckoutAttemptRow).where(CheckoutAttemptRow.cart_id == cart_id)
        return await s.scalar(query.with_for_update() if lock else query)

    async def _message(
        self, attempt: CheckoutAttemptRow | AttemptState, s: AsyncSession | None = None
    ) -> checkout_pb2.Checkout:
        payment = None
        if attempt.payment_id and attempt.status == REQUIRES_ACTION:
            payment = await self._payments.get_payment(f"payments/{attempt.payment_id}")
        return convert.checkout_message(attempt, payment)
