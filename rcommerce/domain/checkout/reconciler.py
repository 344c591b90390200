"""The reconciler: voids authorizations that no order took (DECISIONS 14).

An authorization is orphaned when the process that authorized it died before the order
transaction committed (or the void after a failed placement did not reach the gateway).
Such a payment still targets its cart (``carts/cart_...``): placing an order re-targets
its payment to the order. Every minute (job ``checkout.reconcile``, or on demand with
ReconcileCheckouts) the reconciler takes the payments that

* target a cart, are ``authorized`` (or ``succeeded``: the gateway captured at once),
* were created at least ``[checkout] orphan_timeout_s`` ago (the injected clock's "now"),
* and are not the payment of a completed checkout,

marks the cart's checkout failed (``CHECKOUT_ABANDONED``) in the same transaction that
checks all of this under the checkout's row lock, so a completion still alive can no
longer place its order with it, and voids the payment (refunds it when captured) with
the same idempotency key a failed completion uses.

It also finishes automatic captures (``resume_captures``, in the same job). The order's
transaction claims the capture with the key ``chk-cap:<payment id>``; the key stays
``pending`` when the process died before the capture was applied (then after the
payments' ``lock_timeout_s``) or when the gateway answered with an error (the outcome
unknown: the key is released at once). While such a payment is still ``authorized``,
the reconciler captures it with that same key, so the gateway acts at most once. After
the n-th gateway error it waits ``[payments] gateway_retry_s * 2**(n-1)`` seconds, at
most ``gateway_retry_max_s`` (:mod:`rcommerce.domain.payments.retries`); a capture the
gateway declines, or a payment voided, captured or cancelled meanwhile (an order
cancelled by staff), leaves the key done or the payment no longer authorized, and
nothing is tried again.

Voids of orphans back off the same way after gateway errors; an orphan whose void the
gateway declined (the key ``chk-undo:<payment id>`` done) is not read again. Both sweeps
read their backlog page by page after the last row seen and make at most ``limit`` tries
per run, so what waits or was declined never hides the rows behind it.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import and_, literal, or_, select
from sqlalchemy.orm import aliased

from rcommerce.clock import Clock
from rcommerce.config import CheckoutSettings
from rcommerce.db.database import Database
from rcommerce.domain.checkout import convert
from rcommerce.domain.checkout.models import CheckoutAttemptRow
from rcommerce.domain.checkout.service import CAPTURE_KEY_PREFIX, UNDO_KEY_PREFIX, capture_key, compensation_key
from rcommerce.domain.payments.models import IdempotencyKeyRow, PaymentRow
from rcommerce.domain.payments.retries import due_operations
from rcommerce.domain.payments.rules import PaymentState
from rcommerce.domain.payments.service import PaymentService
from rcommerce.errors import DomainError
from rcommerce.events import record_event
from rcommerce.gen.v1 import payments_pb2
from rcommerce.jobs.queue import Job, JobQueue

__all__ = ["RECONCILE_KIND", "CheckoutReconciler"]

log = logging.getLogger("rcommerce.checkout")

RECONCILE_KIND = "checkout.reconcile"
ABANDONED = "CHECKOUT_ABANDONED"
_HELD = (PaymentState.AUTHORIZED.value, PaymentState.SUCCEEDED.value)


class CheckoutReconciler:
    """Finds and voids orphaned checkout authorizations (see the module doc)."""

    def __init__(
        self, db: Database, clock: Clock, payments: PaymentService, settings: CheckoutSettings | None = None
    ) -> None:
        self._db = db
        self._clock = clock
        self._payments = payments
        self.settings = settings or CheckoutSettings()

    def register(self, queue: JobQueue) -> None:
        queue.register(RECONCILE_KIND, self._job, max_attempts=3)
        queue.schedule("checkout-reconcile", "* * * * *", RECONCILE_KIND)

    async def _job(self, job: Job) -> None:
        await self.reconcile()
        await self.resume_captures()

    async def reconcile(self, limit: int = 100) -> list[str]:
        """Void the orphans, trying at most ``limit`` per run; returns the names of the
        payments voided or refunded."""
        now = self._clock.now()
        cutoff = now - timedelta(seconds=self.settings.orphan_timeout_s)
        undo = aliased(IdempotencyKeyRow)
        orphans = (
            select(PaymentRow.id, PaymentRow.target)
            # A void (or refund) the gateway declined is answered from its key forever:
            # nothing more to try, so it is no longer read at all.
            .outerjoin(undo, and_(undo.key == literal(UNDO_KEY_PREFIX) + PaymentRow.id, undo.state == "done"))
            .where(
                PaymentRow.target.like("carts/%"),
                PaymentRow.status.in_(_HELD),
                PaymentRow.created_at <= cutoff,
                undo.key.is_(None),
            )
        )
        done: list[str] = []
        retry = self._payments.settings.gateway_retry
        order = (PaymentRow.created_at, PaymentRow.id)
        async for payment_id, target in due_operations(
            self._db, orphans, order, compensation_key, now, retry, limit=limit
        ):
            if await self._claim(payment_id, target.removeprefix("carts/")) and await self._undo(payment_id):
                done.append(f"payments/{payment_id}")
        if done:
            log.warning("reconciler voided %d orphaned checkout authorization(s): %s", len(done), ", ".join(done))
        return done

    async def _claim(self, payment_id: str, cart_id: str) -> bool:
        """Under the checkout's lock: is the payment still an orphan? Then the checkout
        can no longer use it."""
        now = self._clock.now()
        async with self._db.transaction() as s:
            attempt = await s.scalar(
                select(CheckoutAttemptRow).where(CheckoutAttemptRow.cart_id == cart_id).with_for_update()
            )
            payment = await s.get(PaymentRow, payment_id, with_for_update=True)
            if payment is None or payment.status not in _HELD or not payment.target.startswith("carts/"):
                return False
            if attempt is None:
                return True  # a payment made for the cart outside checkout
            if attempt.status == "completed" and attempt.payment_id == payment_id:
                return False  # the order's payment (placement kept the cart as target)
            mine = attempt.payment_id == payment_id or (attempt.status == "authorizing" and not attempt.payment_id)
            if not mine:
                return True  # an earlier completion's payment; the checkout moved on
            attempt.status = "failed"
            attempt.payment_id = payment_id
            attempt.failure_reason = ABANDONED
            attempt.failure_message = f"The authorization {payment_id} had no order after the timeout and was voided."
            attempt.lock_key, attempt.locked_at, attempt.updated_at = "", None, now
            await s.flush()
            message = convert.checkout_message(attempt, None)
            record_event(s, "checkout.failed", message.name, message, now, reason=ABANDONED)
            return True

    async def _undo(self, payment_id: str) -> bool:
        name = f"payments/{payment_id}"
        key = compensation_key(payment_id)
        try:
            payment = await self._payments.get_payment(name)
            if payment.status == payments_pb2.PAYMENT_STATUS_SUCCEEDED:
                await self._payments.refund(
                    payments_pb2.RefundPaymentRequest(
                        name=name, amount=payment.amount_captured, reason="duplicate", idempotency_key=key
                    )
                )
            else:
                await self._payments.void(payments_pb2.VoidPaymentRequest(name=name, idempotency_key=key))
        except DomainError as exc:
            log.warning("reconciler could not void %s: %s %s", name, exc.reason.name, exc)
            return False
        return True

    async def resume_captures(self, limit: int = 100) -> list[str]:
        """Finish the automatic captures that were claimed with an order and did not
        finish (see the module doc), trying at most ``limit`` per run; returns the names
        of the payments captured."""
        now = self._clock.now()
        stale = now - timedelta(seconds=self._payments.settings.lock_timeout_s)
        unfinished = (
            select(IdempotencyKeyRow.payment_id, IdempotencyKeyRow.key)
            .join(PaymentRow, PaymentRow.id == IdempotencyKeyRow.payment_id)
            .where(
                IdempotencyKeyRow.state == "pending",
                IdempotencyKeyRow.key.like(f"{CAPTURE_KEY_PREFIX}%"),
                or_(IdempotencyKeyRow.claimed_at.is_(None), IdempotencyKeyRow.claimed_at <= stale),
                PaymentRow.status == PaymentState.AUTHORIZED.value,
            )
        )
        captured: list[str] = []
        retry = self._payments.settings.gateway_retry
        order = (IdempotencyKeyRow.created_at, IdempotencyKeyRow.key)
        async for payment_id, key in due_operations(self._db, unfinished, order, capture_key, now, retry, limit=limit):
            name = f"payments/{payment_id}"
            try:
                await self._payments.capture(payments_pb2.CapturePaymentRequest(name=name, idempotency_key=key))
            except DomainError as exc:
                log.warning("reconciler could not capture %s: %s %s", name, exc.reason.name, exc)
            else:
                captured.append(name)
        if captured:
            log.warning("reconciler finished %d automatic capture(s): %s", len(captured), ", ".join(captured))
        return captured
