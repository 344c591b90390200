"""The payment service: payment sessions through gateways, one transaction per step.

A mutating operation runs in three steps so that no database transaction stays open
while a gateway is called:

1. *claim*: one transaction validates the request against the payment and the gateway's
   configuration, claims the idempotency key (where a finished key answers with its
   stored result: ``idempotency.claim_or_replay``) and locks the payment for this operation
   (``lock_key``), so a concurrent operation with another key gets
   PAYMENT_OPERATION_IN_PROGRESS instead of moving money twice;
2. *call* the gateway with the idempotency key (under ``[payments] gateway_timeout_s``);
3. *apply*: one transaction writes the result, the ledger entry, the outbox event and the
   stored answer of the key, and unlocks the payment.

Create and capture are also split at that line for callers that want step 1 in a
transaction of their own (checkout claims the payment in its first transaction and the
automatic capture in the order's): :meth:`PaymentService.claim_create` and
:meth:`PaymentService.claim_capture` run step 1 in the caller's ``AsyncSession`` and return
the stored answer of a finished key or a claim (:class:`CreateClaim`,
:class:`OperationClaim`); :meth:`PaymentService.initiate_claimed` and
:meth:`PaymentService.capture_claimed` run steps 2 and 3 once that transaction committed.
``create_payment`` and ``capture`` are the same two halves with a transaction of their own
around step 1. A create claim that refuses leaves its writes to the caller's rollback; a
capture claim (void, refund) that refuses undoes its key claim and payment lock first, so
the caller's transaction may go on and commit without the operation.

Whatever moves a payment (these operations, a gateway webhook, an expired action), the
owner of its target derives what it shows from its payments in that same transaction:
the orders context registers with :meth:`PaymentService.observe_targets` and an order's
payment status follows every capture, refund, void and dispute of its payments.

Who may pay a target is its owner's rule too: the carts and orders contexts register a
guard per collection with :meth:`PaymentService.guard_targets`, which ``CreatePayment``
runs in the claim's transaction (after a replay, before anything is written) with the
caller's principal. A collection without a guard refuses every caller (fail closed).
In-process callers that checked the target themselves (checkout) claim without a
principal, and no guard runs.

When the gateway fails (raises, times out) step 3 instead writes an ``error`` ledger
entry, unlocks, releases the key and answers PAYMENT_GATEWAY_ERROR: the payment is as it
was, and a retry with the same key calls the gateway again with the same key.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from google.protobuf.message import Message
from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal, PrincipalKind, customer_id_of
from rcommerce.clock import Clock
from rcommerce.db.capabilities import update_returning
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.payments import idempotency, records
from rcommerce.domain.payments.convert import payment_message, payment_name, saved_method_message, to_details_dict
from rcommerce.domain.payments.errors import (
    DECLINE_REASONS,
    GATEWAY_CAPABILITY_UNSUPPORTED,
    GATEWAY_NOT_FOUND,
    INVALID_PAYMENT_STATUS,
    PAYMENT_ACTION_EXPIRED,
    PAYMENT_DECLINED,
    PAYMENT_GATEWAY_ERROR,
    PAYMENT_NOT_FOUND,
    PAYMENT_OPERATION_IN_PROGRESS,
    SAVED_METHOD_NOT_FOUND,
    SAVED_METHOD_REQUIRES_ACTION,
    WEBHOOK_SIGNATURE_INVALID,
    PaymentError,
)
from rcommerce.domain.payments.models import (
    GatewayCustomerRow,
    IdempotencyKeyRow,
    PaymentRow,
    PaymentTransactionRow,
    PaymentWebhookEventRow,
)
from rcommerce.domain.payments.records import LedgerEntry, PaymentRecord
from rcommerce.domain.payments.retries import RetryPolicy, due_operations
from rcommerce.domain.payments.rules import (
    TRANSITIONS,
    Amounts,
    PaymentState,
    available_methods,
    check_capture,
    check_initiate,
    check_refund,
    check_void,
    refund_reason,
    status_after_refund,
    status_for_outcome,
    webhook_target,
)
from rcommerce.errors import (
    INSUFFICIENT_PERMISSIONS,
    DomainError,
    FieldViolation,
    RequestError,
    invalid,
    raise_violations,
)
from rcommerce.events import record_event
from rcommerce.events.outbox import write_event
from rcommerce.gen.v1 import payments_pb2
from rcommerce.ids import id_prefix, new_id
from rcommerce.jobs.queue import Job, JobQueue, RetryAfter
from rcommerce.money import is_currency
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size
from rcommerce.plugins.providers import (
    CaptureRequest,
    CompleteActionRequest,
    GatewayError,
    InitiateRequest,
    MethodDetails,
    MethodNotSaved,
    OffSessionRequest,
    OperationResult,
    OperationStatus,
    PaymentGateway,
    PaymentOutcome,
    PaymentRef,
    PaymentResult,
    RefundRequest,
    SaveMethodRequest,
    UnsupportedOperation,
    VoidRequest,
    WebhookEvent,
    WebhookEventType,
    WebhookRequest,
    WebhookSignatureError,
)

__all__ = [
    "EXPIRE_KIND", "WEBHOOK_KIND", "CreateClaim", "OperationClaim", "PaymentService", "PaymentSettingsView",
    "TargetGuard", "TargetObserver",
]  # fmt: skip

log = logging.getLogger(__name__)
P = payments_pb2
S = PaymentState
T = TypeVar("T")
M = TypeVar("M", bound=Message)

#: Awaited in the transaction that changed a payment, once its new state is written, with
#: the payment's target ("orders/ord_..."): what the target derives from its payments (an
#: order's payment status) changes atomically with the payment. Not called when nothing
#: about the payment changed (a replayed answer, a refused operation, a gateway failure).
TargetObserver = Callable[[AsyncSession, str], Awaitable[None]]
#: Awaited by ``CreatePayment`` in its claim's transaction, before anything is written,
#: with the request (its ``target`` "carts/cart_...", its ``currency_code``, the target's
#: secret the caller sent: a guest cart's ``cart_token``) and the caller. Returns when the
#: caller may pay the target in that currency; raises the owner's reason when it may not
#: (CART_NOT_FOUND, CART_TOKEN_REQUIRED, ORDER_NOT_FOUND, a currency that is not the
#: target's ...). Reads only: the claim writes after it.
TargetGuard = Callable[[AsyncSession, "P.CreatePaymentRequest", Principal], Awaitable[None]]
#: A payment as a mapped object (off the hot path) or as a Core record (claim and apply).
AnyPayment = PaymentRow | PaymentRecord

WEBHOOK_KIND = "payments.webhook"
EXPIRE_KIND = "payments.expire_actions"
_TARGET_KINDS = {"carts": "cart", "orders": "ord"}
#: Status -> outbox event when a payment arrives there.
_EVENTS = {
    S.REQUIRES_ACTION: "payment.action_required",
    S.AUTHORIZED: "payment.authorized",
    S.SUCCEEDED: "payment.captured",
    S.PARTIALLY_REFUNDED: "payment.refunded",
    S.REFUNDED: "payment.refunded",
    S.FAILED: "payment.failed",
    S.CANCELLED: "payment.cancelled",
    S.DISPUTED: "payment.disputed",
}


# Statements of every payment operation, built once (their compiled form and cache key are
# reused) and executed with parameters.
_INSERT_PAYMENT = insert(cast(Table, PaymentRow.__table__))
_INSERT_LEDGER = insert(cast(Table, PaymentTransactionRow.__table__))
_LOCKED_PAYMENT = select(PaymentRow).where(PaymentRow.id == bindparam("payment_id")).with_for_update()


@dataclass(frozen=True, slots=True)
class PaymentSettingsView:
    """The ``[payments]`` settings the service uses."""

    webhook_tolerance_s: int = 300
    action_expiry_s: int = 1800
    gateway_timeout_s: float = 30.0
    lock_timeout_s: int = 120
    idempotency_key_ttl_days: int = 30
    gateway_retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True, slots=True)
class CreateClaim:
    """A payment created and locked by :meth:`PaymentService.claim_create` in the caller's
    transaction: what :meth:`PaymentService.initiate_claimed` needs once it committed."""

    payment_id: str
    key: str
    request: P.CreatePaymentRequest
    customer_id: str
    method_type: str
    capture: bool
    #: The gateway's id of the customer, "" when none is stored.
    gateway_customer: str


@dataclass(frozen=True, slots=True)
class _Operation:
    """What a capture, void or refund checks, asks the gateway and applies."""

    operation: str
    kind: str
    #: The amount the operation moves; raises when the payment does not allow it.
    prepare: Callable[[PaymentRecord, PaymentGateway], int]
    call: Callable[[PaymentGateway, PaymentRef, int, str, str], Awaitable[OperationResult]]
    #: Writes the result to the payment; the event to record, if any.
    apply: Callable[[PaymentRecord, OperationResult, int], str | None]
    reason: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class OperationClaim:
    """A capture (void, refund) claimed in the caller's transaction: the key is held and
    the payment locked for it; :meth:`PaymentService.capture_claimed` runs it once that
    transaction committed."""

    payment_id: str
    key: str
    gateway_code: str
    gateway: PaymentGateway
    amount: int
    ref: PaymentRef
    tx_id: str
    operation: _Operation


def _declined(row: AnyPayment) -> PaymentError:
    found = DECLINE_REASONS.get(row.error_code, PAYMENT_DECLINED)
    return PaymentError(
        found, row.error_message or f"The payment was declined ({row.error_code}).",
        paymentId=row.id, payment=payment_name(row.id), declineCode=row.error_code,
        retryAllowed=str(row.provider_data.get("retry_allowed", True)).lower(),
    )  # fmt: skip


def _gateway_error(operation: str, gateway: str, exc: BaseException) -> PaymentError:
    return PaymentError(
        PAYMENT_GATEWAY_ERROR, f"The {gateway} gateway failed during {operation}: {exc}. Nothing changed; retry with the same idempotency key.",
        gateway=gateway, operation=operation, retry_after_s=1.0,
    )  # fmt: skip


class PaymentService:
    """Payment sessions, the ledger, idempotency, webhooks and action expiry."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        gateways: Mapping[str, PaymentGateway],
        tokens: PageTokens,
        settings: PaymentSettingsView | None = None,
        queue: JobQueue | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.gateways = gateways
        self.tokens = tokens
        self.settings = settings or PaymentSettingsView()
        self.queue = queue
        self._observers: dict[str, TargetObserver] = {}
        self._guards: dict[str, TargetGuard] = {}

    def observe_targets(self, collection: str, observer: TargetObserver) -> None:
        """Await ``observer`` whenever a payment whose target is in ``collection``
        ("orders") changes; one observer per collection (the latest registered)."""
        self._observers[collection] = observer

    def guard_targets(self, collection: str, guard: TargetGuard) -> None:
        """Await ``guard`` before a caller's payment for a target in ``collection``
        ("carts", "orders") is created; one guard per collection (the latest registered).
        Payments for a collection without a guard are refused."""
        self._guards[collection] = guard

    async def _check_target(self, s: AsyncSession, request: P.CreatePaymentRequest, principal: Principal) -> None:
        collection = request.target.partition("/")[0]
        guard = self._guards.get(collection)
        if guard is None:  # a wiring mistake: refuse (INTERNAL, logged) rather than pay anything
            raise RuntimeError(
                f"No payment target guard is registered for {collection!r}: register one with "
                "PaymentService.guard_targets where the service is built (see the carts and orders wiring)."
            )
        await guard(s, request, principal)

    async def _target_changed(self, s: AsyncSession, target: str) -> None:
        observer = self._observers.get(target.partition("/")[0])
        if observer is not None:
            await observer(s, target)

    def register_jobs(self) -> None:
        """Register the webhook processor and the every-minute expiry sweep."""
        if self.queue is None:
            return
        self.queue.register(WEBHOOK_KIND, self._webhook_job, max_attempts=8)
        self.queue.register(EXPIRE_KIND, self._expire_job, max_attempts=3)
        self.queue.schedule("payments-expire-actions", "* * * * *", EXPIRE_KIND)

    # -- lookups ------------------------------------------------------------------------
    def gateway(self, code: str, field: str = "gateway") -> PaymentGateway:
        if not code:
            raise invalid(field, "required")
        found = self.gateways.get(code)
        if found is None:
            known = ",".join(sorted(self.gateways))
            raise PaymentError(
                GATEWAY_NOT_FOUND,
                f"No payment gateway {code!r} is installed; installed: {known}.",
                gateway=code,
                installed=known,
            )
        return found

    async def _row(self, s: AsyncSession, payment_id: str, *, lock: bool = False) -> PaymentRow:
        if lock:
            row = await s.scalar(_LOCKED_PAYMENT, {"payment_id": payment_id})
        else:
            row = await s.get(PaymentRow, payment_id)
        if row is None:
            raise PaymentError(
                PAYMENT_NOT_FOUND, f"Payment {payment_id} does not exist.", payment=payment_name(payment_id)
            )
        return row

    @staticmethod
    async def _record(s: AsyncSession, payment_id: str) -> PaymentRecord:
        """The payment read ``FOR UPDATE`` as a Core record (claim and apply; see
        :mod:`~rcommerce.domain.payments.records`)."""
        record = await records.locked_payment(s, payment_id)
        if record is None:
            raise PaymentError(
                PAYMENT_NOT_FOUND, f"Payment {payment_id} does not exist.", payment=payment_name(payment_id)
            )
        return record

    @staticmethod
    async def _record_with_ledger(s: AsyncSession, payment_id: str) -> tuple[PaymentRecord, list[LedgerEntry]]:
        """:meth:`_record` and :meth:`_transactions` (step 3: the ledger is appended to)."""
        found = await records.locked_payment_with_ledger(s, payment_id)
        if found is None:
            raise PaymentError(
                PAYMENT_NOT_FOUND, f"Payment {payment_id} does not exist.", payment=payment_name(payment_id)
            )
        return found

    async def _message(self, s: AsyncSession, row: PaymentRow) -> P.Payment:
        return payment_message(row, await self._transactions(s, row.id))

    @staticmethod
    async def _transactions(s: AsyncSession, payment_id: str) -> list[LedgerEntry]:
        """The payment's ledger in order (the caller holds the payment's row lock when it
        appends to it: :meth:`_ledger` with ``prior``)."""
        return await records.ledger(s, payment_id)

    def _ref(self, row: AnyPayment) -> PaymentRef:
        return PaymentRef(
            row.id, row.gateway_ref, row.amount_authorized or row.amount, row.currency,
            dict(row.provider_data.get("gateway", {})), row.amount_captured, row.amount_refunded,
        )  # fmt: skip

    async def _ledger(
        self, s: AsyncSession, row: AnyPayment, kind: str, status: str, amount: int, key: str = "", *,
        reference: str = "", reason: str = "", error_code: str = "", error_message: str = "", tx_id: str = "",
        note: str = "", prior: list[LedgerEntry] | None = None,
    ) -> LedgerEntry:  # fmt: skip
        """Append to the ledger; the caller holds the payment's row lock. ``prior``: the
        ledger as :meth:`_transactions` just read it under that lock; the new entry is
        appended to it (no separate read of the last sequence number)."""
        now = self.clock.now()
        if prior is None:
            last = await s.scalar(
                select(func.max(PaymentTransactionRow.seq)).where(PaymentTransactionRow.payment_id == row.id)
            )
        else:
            last = prior[-1].seq if prior else 0
        values: dict[str, Any] = dict(
            id=tx_id or new_id("ptx", now), payment_id=row.id, seq=(last or 0) + 1, kind=kind, status=status, amount=amount, currency=row.currency,
            idempotency_key=key, reference=reference[:255], reason=reason, note=note[:500], error_code=error_code[:100],
            error_message=error_message, created_at=now,
        )  # fmt: skip
        await s.execute(_INSERT_LEDGER, values)  # append-only: no ORM object to flush
        tx = LedgerEntry(**values)
        if prior is not None:
            prior.append(tx)
        return tx

    async def _event(self, s: AsyncSession, row: PaymentRow, type_: str, **extra: Any) -> None:
        await s.flush()
        record_event(s, type_, payment_name(row.id), await self._message(s, row), self.clock.now(), **extra)

    def _touch(self, row: AnyPayment) -> None:
        row.updated_at = self.clock.now()
        row.revision += 1

    def _lock(self, row: AnyPayment, key: str) -> None:
        """Mark ``row`` as talking to the gateway for ``key`` (step 1)."""
        now = self.clock.now()
        busy = row.lock_key and row.lock_key != key and row.locked_at is not None
        if busy and now - row.locked_at < timedelta(seconds=self.settings.lock_timeout_s):  # type: ignore[operator]
            raise PaymentError(
                PAYMENT_OPERATION_IN_PROGRESS, f"Another operation on payment {row.id} is in progress; retry shortly.",
                payment=payment_name(row.id),
            )  # fmt: skip
        row.lock_key, row.locked_at = key, now

    @staticmethod
    async def _lock_if_free(s: AsyncSession, payment_id: str, key: str, now: datetime) -> PaymentRecord | None:
        """Step 1's lock in one statement where the database returns updated rows: the
        payment, row-locked with ``lock_key`` set, when no other operation holds it. ``None``
        otherwise (held, stale, missing, or MariaDB/MySQL, which cannot return them): the
        caller reads the row FOR UPDATE and :meth:`_lock` decides, as everywhere else."""
        if not update_returning(s):
            return None
        return await records.lock_if_free(s, payment_id, key, now)

    @staticmethod
    def _unlock(row: AnyPayment) -> None:
        row.lock_key, row.locked_at = "", None

    def _check_access(self, row: AnyPayment, principal: Principal | None) -> None:
        if principal is None or principal.kind is not PrincipalKind.CUSTOMER:
            return
        if row.customer_id != customer_id_of(principal):
            raise PaymentError(PAYMENT_NOT_FOUND, f"Payment {row.id} does not exist.", payment=payment_name(row.id))

    async def _call(self, operation: str, gateway: str, call: Callable[[], Awaitable[T]]) -> T:
        """Call the gateway under the timeout; every failure becomes a GatewayError."""
        try:
            async with asyncio.timeout(self.settings.gateway_timeout_s):
                return await call()
        except (GatewayError, UnsupportedOperation):
            raise
        except TimeoutError as exc:
            raise GatewayError(f"no answer within {self.settings.gateway_timeout_s} s") from exc
        except Exception as exc:
            log.exception("payment gateway %s failed during %s", gateway, operation)
            raise GatewayError(f"{type(exc).__name__}: {exc}") from exc

    async def _replay(self, key: str, operation: str, digest: str, response_type: type[M]) -> M | None:
        async with self.db.read() as s:
            return await idempotency.lookup(s, key, operation, digest, response_type)

    async def _failed_call(self, payment_id: str, key: str, kind: str, amount: int, exc: GatewayError) -> None:
        """Step 3 after a gateway failure: ledger ``error``, unlock, release the key."""
        async with self.db.transaction() as s:
            row = await self._row(s, payment_id, lock=True)
            await self._ledger(s, row, kind, "error", amount, key, error_code="gateway_error", error_message=str(exc))
            if row.lock_key == key:
                self._unlock(row)
            await idempotency.release(s, key)

    # -- available methods ---------------------------------------------------------------
    async def available_methods(
        self, request: P.ListAvailablePaymentMethodsRequest
    ) -> P.ListAvailablePaymentMethodsResponse:
        currency = request.currency_code
        if not is_currency(currency):
            raise invalid("currency_code", "must be an active upper-case ISO 4217 code")
        if request.amount < 0:
            raise invalid("amount", "must not be negative")
        codes = list(request.gateways) or sorted(self.gateways)
        response = P.ListAvailablePaymentMethodsResponse()
        for code in codes:
            gateway = self.gateways.get(code)
            if gateway is None:
                continue  # a region may list a gateway that is not installed here
            for method in available_methods(gateway.config(), request.amount, currency):
                response.methods.append(
                    P.AvailablePaymentMethod(
                        gateway=code,
                        gateway_display_name=gateway.display_name,
                        method_type=method.method_type,
                        display_name=method.display_name,
                        supports_3ds=method.supports_3ds,
                        requires_redirect=method.requires_redirect,
                        supports_saving=method.supports_saving,
                        min_amount=method.min_amount.get(currency, 0),
                        max_amount=method.max_amount.get(currency, 0),
                    )
                )
        return response

    # -- create -------------------------------------------------------------------------
    def _validate_create(self, request: P.CreatePaymentRequest, principal: Principal | None) -> str:
        problems: list[FieldViolation] = []
        head, _, rest = request.target.partition("/")
        if _TARGET_KINDS.get(head) is None or id_prefix(rest) != _TARGET_KINDS[head]:
            problems.append(FieldViolation("target", "must be carts/cart_... or orders/ord_..."))
        if not is_currency(request.currency_code):
            problems.append(FieldViolation("currency_code", "must be an active upper-case ISO 4217 code"))
        if request.capture_method not in ("", "automatic", "manual"):
            problems.append(FieldViolation("capture_method", "must be automatic or manual"))
        if not request.method_type and not request.saved_method_token:
            problems.append(FieldViolation("method_type", "required"))
        needs_customer = request.saved_method_token or request.save_method or request.off_session
        if needs_customer and not request.customer_id and (principal is None or customer_id_of(principal) is None):
            problems.append(FieldViolation("customer_id", "required with saved methods and off-session charges"))
        if request.off_session and not request.saved_method_token:
            problems.append(FieldViolation("saved_method_token", "required for an off-session charge"))
        raise_violations(problems)
        customer = customer_id_of(principal) if principal is not None else None
        if customer is not None and request.customer_id and request.customer_id != customer:
            raise RequestError(INSUFFICIENT_PERMISSIONS, "Customers pay only as themselves.", field="customer_id")
        return customer or request.customer_id

    async def create_payment(self, request: P.CreatePaymentRequest, principal: Principal | None = None) -> P.Payment:
        """Create a payment session and initiate it at the gateway (see the module doc):
        :meth:`claim_create` in a transaction of its own, then :meth:`initiate_claimed`.
        ``principal``: the caller, whom the target's guard checks (the RPC always passes
        one); ``None`` only for in-process callers that checked the target themselves."""
        idempotency.check_key(request.idempotency_key)  # before any transaction opens
        async with self.db.transaction() as s:
            claimed = await self.claim_create(s, request, principal)
        if not isinstance(claimed, CreateClaim):
            return claimed  # the stored answer of the finished request with this key
        return await self.initiate_claimed(claimed)

    async def claim_create(
        self, s: AsyncSession, request: P.CreatePaymentRequest, principal: Principal | None = None
    ) -> P.Payment | CreateClaim:
        """Step 1 of :meth:`create_payment` in the caller's transaction ``s``: claim the
        idempotency key, validate the request, insert the payment (locked for this key) and
        its ``payment.created`` event. Returns the stored answer of a finished request with
        the key (nothing is to reach the gateway), or the claim that
        :meth:`initiate_claimed` takes once ``s`` committed. A refusal raises, and the caller
        must roll ``s`` back: the claim and the payment are written in it.

        With a ``principal`` the target's guard (:meth:`guard_targets`) decides whether the
        caller may pay the target; without one (checkout, which locked and checked the cart
        in ``s`` already) no guard runs and no statement is added."""
        key = idempotency.check_key(request.idempotency_key)
        operation = "CreatePayment"
        digest = idempotency.request_hash(operation, request, caller=idempotency.caller_scope(principal))
        now = self.clock.now()
        new_payment_id = new_id("pay", now)
        held = await idempotency.claim_or_replay(
            s, key, operation, digest, now, timedelta(seconds=self.settings.lock_timeout_s), P.Payment,
            payment_id=new_payment_id,
        )  # fmt: skip
        if not isinstance(held, idempotency.Claim):
            return held  # the stored answer of the finished request with this key
        # Validated after the key: a replay answers as the first request did.
        customer_id = self._validate_create(request, principal)
        if principal is not None:
            await self._check_target(s, request, principal)
        gateway = self.gateway(request.gateway)
        method_type = request.method_type or "card"
        capture = request.capture_method != "manual"
        config = gateway.config()
        check_initiate(config, method_type, request.amount, request.currency_code, capture=capture)
        if request.off_session and not config.supports_off_session:
            raise PaymentError(
                GATEWAY_CAPABILITY_UNSUPPORTED, "The gateway cannot charge off-session.", capability="off_session"
            )
        if (request.save_method or request.saved_method_token) and not config.supports_saved_methods:
            raise PaymentError(
                GATEWAY_CAPABILITY_UNSUPPORTED, "The gateway has no saved methods.", capability="saved_methods"
            )
        if held.payment_id and held.payment_id != new_payment_id:  # a resumed create
            row: AnyPayment = await self._row(s, held.payment_id, lock=True)
            self._lock(row, key)
        else:
            values: dict[str, Any] = dict(
                id=new_payment_id, target=request.target, gateway=request.gateway, method_type=method_type,
                capture_method="automatic" if capture else "manual", currency=request.currency_code,
                amount=request.amount, amount_authorized=0, amount_captured=0, amount_refunded=0,
                status=S.PENDING.value, status_before_dispute="", gateway_ref="", customer_id=customer_id,
                customer_email=request.customer_email, action_type="", action_data={}, action_expires_at=None,
                error_code="", error_message="", method_details={"type": method_type}, provider_data={},
                transaction_id="", receipt_url="",
                lock_key=key, locked_at=now, revision=1, created_at=now, updated_at=now,
            )  # fmt: skip
            await s.execute(_INSERT_PAYMENT, values)  # written once here: no ORM object to flush
            row = PaymentRecord(**values)
            if held.payment_id != new_payment_id:  # a released claim from before payment ids were stored
                await idempotency.attach(s, key, row.id)
            await write_event(s, "payment.created", payment_name(row.id), payment_message(row, []), now)
        gateway_customer = await self._gateway_customer(s, customer_id, request.gateway)
        return CreateClaim(row.id, key, request, customer_id, method_type, capture, gateway_customer)

    async def initiate_claimed(self, claim: CreateClaim) -> P.Payment:
        """Steps 2 and 3 of :meth:`create_payment` for a claim of :meth:`claim_create` whose
        transaction committed (never call it with a transaction open): call the gateway,
        then apply its answer in a transaction of its own. A gateway failure releases the
        key and unlocks the payment (PAYMENT_GATEWAY_ERROR); a decline raises its reason."""
        request, payment_id, key, customer_id = claim.request, claim.payment_id, claim.key, claim.customer_id
        gateway = self.gateway(request.gateway)
        metadata = {"target": request.target, "payment": payment_name(payment_id)}
        kind = "off_session" if request.off_session else "initiate"
        try:
            if request.off_session:
                off = OffSessionRequest(
                    payment_id, customer_id, request.saved_method_token, request.amount, request.currency_code, key,
                    request.description, metadata, claim.gateway_customer,
                )  # fmt: skip
                result = await self._call(kind, request.gateway, lambda: gateway.charge_off_session(off))
            else:
                data = dict(request.method_data)
                if request.saved_method_token:
                    data["token"] = request.saved_method_token
                initiate = InitiateRequest(
                    payment_id, request.amount, request.currency_code, claim.method_type, key, data, claim.capture,
                    customer_id, request.customer_email, request.save_method, request.return_url, request.description,
                    metadata, claim.gateway_customer,
                )  # fmt: skip
                result = await self._call(kind, request.gateway, lambda: gateway.initiate(initiate))
        except (GatewayError, UnsupportedOperation) as exc:
            await self._failed_call(payment_id, key, kind, request.amount, GatewayError(str(exc)))
            raise _gateway_error(kind, request.gateway, exc) from exc
        return await self._apply_result(payment_id, key, kind, result)

    async def _apply_result(self, payment_id: str, key: str, kind: str, result: PaymentResult) -> P.Payment:
        """Step 3 for initiate, complete_action and off-session charges."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            row, txs = await self._record_with_ledger(s, payment_id)
            target = status_for_outcome(result.outcome)
            current = PaymentState(row.status)
            if result.gateway_ref:
                row.gateway_ref = result.gateway_ref
            if result.provider_data:
                row.provider_data = _merged(row.provider_data, result.provider_data)
            if result.transaction_id:
                row.transaction_id = result.transaction_id[:255]
            if result.receipt_url:
                row.receipt_url = result.receipt_url[:1000]
            if result.gateway_customer_id and row.customer_id:
                await self._remember_gateway_customer(s, row.customer_id, row.gateway, result.gateway_customer_id)
            if result.method is not None:
                row.method_details = to_details_dict(result.method)
            status = {PaymentOutcome.FAILED: "failed", PaymentOutcome.PENDING: "pending"}.get(
                result.outcome, "succeeded"
            )
            amount = result.amount_captured or result.amount_authorized or row.amount
            await self._ledger(s, row, kind, status, amount, key, reference=result.gateway_ref,
                         error_code=result.error_code, error_message=result.error_message, prior=txs)  # fmt: skip
            changed = target != current and target in TRANSITIONS[current]
            if changed:
                row.status = target.value
                row.amount_authorized = result.amount_authorized or (
                    row.amount if target in (S.AUTHORIZED, S.SUCCEEDED) else 0
                )
                row.amount_captured = result.amount_captured if target is S.SUCCEEDED else 0
                if target is S.SUCCEEDED and not row.amount_captured:
                    row.amount_captured = row.amount_authorized
                if target is S.REQUIRES_ACTION and result.action is not None:
                    row.action_type = result.action.type
                    row.action_data = dict(result.action.data)
                    row.action_expires_at = result.action.expires_at or now + timedelta(
                        seconds=self.settings.action_expiry_s
                    )
                else:
                    row.action_type, row.action_data, row.action_expires_at = "", {}, None
                if target is S.FAILED:
                    row.error_code, row.error_message = result.error_code or "payment_failed", result.error_message
                    row.provider_data = {**row.provider_data, "retry_allowed": result.retry_allowed}
            self._unlock(row)
            self._touch(row)
            await records.save_payment(s, row)
            message = payment_message(row, txs)  # once, for the event and the answer
            if changed and target in _EVENTS:
                await write_event(s, _EVENTS[target], payment_name(row.id), message, self.clock.now())
            if changed:
                await self._target_changed(s, row.target)
            if row.status == S.FAILED.value and changed:
                error = _declined(row)
                await idempotency.finish(s, key, error=error)
            else:
                error = None
                await idempotency.finish(s, key, response=message)
        if error is not None:
            raise error
        return message

    # -- read ---------------------------------------------------------------------------
    async def get_payment(self, name: str, principal: Principal | None = None) -> P.Payment:
        payment_id = parse_name(name, "payments", "pay")
        async with self.db.read() as s:
            row = await self._row(s, payment_id)
            self._check_access(row, principal)
            return await self._message(s, row)

    async def list_payments(self, request: P.ListPaymentsRequest) -> P.ListPaymentsResponse:
        size = page_size(request.page_size)
        offset = self.tokens.decode(request.page_token, fingerprint(request)) if request.page_token else 0
        query = select(PaymentRow).order_by(PaymentRow.created_at.desc(), PaymentRow.id.desc())
        if request.target:
            query = query.where(PaymentRow.target == request.target)
        async with self.db.read() as s:
            rows = list(await s.scalars(query.offset(offset).limit(size + 1)))
            response = P.ListPaymentsResponse()
            for row in rows[:size]:
                response.payments.append(await self._message(s, row))
        if len(rows) > size:
            response.next_page_token = self.tokens.encode(offset + size, fingerprint(request))
        return response

    # -- complete action ---------------------------------------------------------------
    async def complete_action(
        self, request: P.CompletePaymentActionRequest, principal: Principal | None = None
    ) -> P.Payment:
        key = idempotency.check_key(request.idempotency_key)
        operation = "CompletePaymentAction"
        digest = idempotency.request_hash(operation, request, caller=idempotency.caller_scope(principal))
        replay = await self._replay(key, operation, digest, P.Payment)
        if replay is not None:
            return replay
        payment_id = parse_name(request.name, "payments", "pay")
        now = self.clock.now()
        async with self.db.transaction() as s:
            row = await self._row(s, payment_id, lock=True)
            self._check_access(row, principal)
            state = PaymentState(row.status)
            if state is S.REQUIRES_ACTION and row.action_expires_at is not None and row.action_expires_at <= now:
                expired = True
            else:
                expired = False
                if state is not S.REQUIRES_ACTION:
                    raise PaymentError(
                        PAYMENT_ACTION_EXPIRED if row.error_code == "action_expired" else INVALID_PAYMENT_STATUS,
                        f"Payment {payment_id} is {state.value}; there is no action to complete.",
                        paymentId=payment_id, status=state.value, allowedStatuses="requires_action",
                    )  # fmt: skip
                await idempotency.claim(s, key, operation, digest, now, timedelta(seconds=self.settings.lock_timeout_s))
                self._lock(row, key)
                gateway = self.gateway(row.gateway)
                ref = self._ref(row)
        if expired:
            await self.expire_actions()
            raise PaymentError(
                PAYMENT_ACTION_EXPIRED,
                f"The action of payment {payment_id} expired; the payment was cancelled.",
                paymentId=payment_id,
            )
        complete = CompleteActionRequest(ref, key, dict(request.action_data))
        try:
            result = await self._call("complete_action", row.gateway, lambda: gateway.complete_action(complete))
        except GatewayError as exc:
            await self._failed_call(payment_id, key, "complete_action", 0, exc)
            raise _gateway_error("complete_action", row.gateway, exc) from exc
        return await self._apply_result(payment_id, key, "complete_action", result)

    # -- capture, void, refund -----------------------------------------------------------
    async def _operate(self, request: Message, name: str, key_value: str, op: _Operation) -> P.Payment:
        """Claim (a transaction of its own), call, apply for capture, void and refund."""
        idempotency.check_key(key_value)  # before any transaction opens
        async with self.db.transaction() as s:
            claimed = await self._claim_operation(s, request, name, key_value, op)
        if not isinstance(claimed, OperationClaim):
            return claimed  # the stored answer of the finished request with this key
        return await self._run_operation(claimed)

    async def _claim_operation(
        self, s: AsyncSession, request: Message, name: str, key_value: str, op: _Operation
    ) -> P.Payment | OperationClaim:
        """Step 1 of a capture, void or refund in the caller's transaction ``s``: claim the
        key (a finished one answers its stored response), check the payment and lock it for
        the key. A refusal raises and leaves nothing written in ``s``: the key's claim and
        the payment's lock, taken before the payment could be checked, are undone (a
        statement or two, on the refusal's path only), so the caller's transaction may
        go on and commit without the operation."""
        key = idempotency.check_key(key_value)
        payment_id = parse_name(name, "payments", "pay")
        digest = idempotency.request_hash(op.operation, request)
        now = self.clock.now()
        held = await idempotency.claim_or_replay(
            s, key, op.operation, digest, now, timedelta(seconds=self.settings.lock_timeout_s), P.Payment,
            payment_id=payment_id,
        )  # fmt: skip
        if not isinstance(held, idempotency.Claim):
            return held  # the stored answer of the finished request with this key (nothing written)
        locked: PaymentRecord | None = None
        try:
            row = locked = await self._lock_if_free(s, payment_id, key, now)
            if row is None:
                row = await self._record(s, payment_id)
            gateway = self.gateway(row.gateway)
            amount = op.prepare(row, gateway)
            if locked is None:
                self._lock(row, key)
                await records.save_payment(s, row)
        except DomainError:
            if locked is not None:
                self._unlock(locked)
                await records.save_payment(s, locked)
            await idempotency.unclaim(s, held)
            raise
        return OperationClaim(payment_id, key, row.gateway, gateway, amount, self._ref(row), new_id("ptx", now), op)

    async def _run_operation(self, claim: OperationClaim) -> P.Payment:
        """Steps 2 and 3 of a claimed capture, void or refund, with no transaction open:
        call the gateway, then apply its answer in a transaction of its own."""
        op, payment_id, key, amount = claim.operation, claim.payment_id, claim.key, claim.amount
        kind, reason, note = op.kind, op.reason, op.note
        try:
            result = await self._call(
                kind, claim.gateway_code, lambda: op.call(claim.gateway, claim.ref, amount, key, claim.tx_id)
            )
        except GatewayError as exc:
            await self._failed_call(payment_id, key, kind, amount, exc)
            raise _gateway_error(kind, claim.gateway_code, exc) from exc
        async with self.db.transaction() as s:
            row, txs = await self._record_with_ledger(s, payment_id)
            await self._ledger(s, row, kind, result.status.value, result.amount or amount, key, reference=result.reference,
                               reason=reason, error_code=result.error_code, error_message=result.error_message,
                               tx_id=claim.tx_id, note=note, prior=txs)  # fmt: skip
            if result.provider_data and result.status is not OperationStatus.FAILED:
                row.provider_data = _merged(row.provider_data, result.provider_data)
            event = op.apply(row, result, amount) if result.status is not OperationStatus.FAILED else None
            self._unlock(row)
            self._touch(row)
            await records.save_payment(s, row)  # before the target's observer reads it
            message = payment_message(row, txs)  # once, for the event and the answer
            if event:
                extra = {"note": note} if note else {}
                await write_event(
                    s, event, payment_name(row.id), message, self.clock.now(), amount=result.amount or amount,
                    reason=reason, **extra,
                )  # fmt: skip
            if result.status is not OperationStatus.FAILED:
                await self._target_changed(s, row.target)
            if result.status is OperationStatus.FAILED:
                error: PaymentError | None = PaymentError(
                    PAYMENT_DECLINED, f"The gateway refused the {kind}: {result.error_message or result.error_code}.",
                    paymentId=payment_id, declineCode=result.error_code, operation=kind,
                )  # fmt: skip
                await idempotency.finish(s, key, error=error)
            else:
                error = None
                await idempotency.finish(s, key, response=message)
        if error is not None:
            raise error
        return message

    @staticmethod
    def _capture_operation(request: P.CapturePaymentRequest) -> _Operation:
        def prepare(row: PaymentRecord, gateway: PaymentGateway) -> int:
            return check_capture(gateway.config(), PaymentState(row.status), _amounts(row), request.amount, row.id)

        async def call(gateway: PaymentGateway, ref: PaymentRef, amount: int, key: str, tx_id: str) -> OperationResult:
            return await gateway.capture(CaptureRequest(ref, amount, key))

        def apply(row: PaymentRecord, result: OperationResult, amount: int) -> str | None:
            if result.status is OperationStatus.PENDING:
                return None  # a webhook reports the capture
            row.status, row.amount_captured = S.SUCCEEDED.value, result.amount or amount
            if not row.transaction_id and result.reference:
                row.transaction_id = result.reference[:255]
            return "payment.captured"

        return _Operation("CapturePayment", "capture", prepare, call, apply)

    async def capture(self, request: P.CapturePaymentRequest) -> P.Payment:
        """Capture (part of) an authorization: :meth:`claim_capture` in a transaction of its
        own, then :meth:`capture_claimed`."""
        return await self._operate(request, request.name, request.idempotency_key, self._capture_operation(request))

    async def claim_capture(self, s: AsyncSession, request: P.CapturePaymentRequest) -> P.Payment | OperationClaim:
        """Step 1 of :meth:`capture` in the caller's transaction ``s``: the stored answer of
        a finished capture with this key, or the claim for :meth:`capture_claimed` once ``s``
        committed. A refusal (the payment cannot be captured, another operation holds it,
        the key belongs to another request or is in use) raises and leaves nothing written
        in ``s``: the caller's transaction may go on without the capture."""
        return await self._claim_operation(
            s, request, request.name, request.idempotency_key, self._capture_operation(request)
        )

    async def capture_claimed(self, claim: OperationClaim) -> P.Payment:
        """Steps 2 and 3 of :meth:`capture` for a claim of :meth:`claim_capture` whose
        transaction committed (never call it with a transaction open)."""
        if claim.operation.kind != "capture":
            raise ValueError(f"not a capture claim: {claim.operation.kind}")
        return await self._run_operation(claim)

    async def void(self, request: P.VoidPaymentRequest) -> P.Payment:
        def prepare(row: PaymentRecord, gateway: PaymentGateway) -> int:
            check_void(PaymentState(row.status), row.id)
            return 0

        async def call(gateway: PaymentGateway, ref: PaymentRef, amount: int, key: str, tx_id: str) -> OperationResult:
            return await gateway.void(VoidRequest(ref, key))

        def apply(row: PaymentRecord, result: OperationResult, amount: int) -> str | None:
            row.status = S.CANCELLED.value
            row.action_type, row.action_data, row.action_expires_at = "", {}, None
            return "payment.voided"

        return await self._operate(
            request, request.name, request.idempotency_key, _Operation("VoidPayment", "void", prepare, call, apply)
        )

    async def refund(self, request: P.RefundPaymentRequest) -> P.Payment:
        reason, note = refund_reason(request.reason)

        def prepare(row: PaymentRecord, gateway: PaymentGateway) -> int:
            return check_refund(gateway.config(), PaymentState(row.status), _amounts(row), request.amount, row.id)

        async def call(gateway: PaymentGateway, ref: PaymentRef, amount: int, key: str, tx_id: str) -> OperationResult:
            return await gateway.refund(RefundRequest(ref, amount, key, reason, tx_id, note))

        def apply(row: PaymentRecord, result: OperationResult, amount: int) -> str | None:
            # A pending refund already counts against what is left, so two refunds can
            # never exceed the capture; a failure webhook would give it back.
            row.amount_refunded += result.amount or amount
            if row.status != S.DISPUTED.value:
                row.status = status_after_refund(row.amount_captured, row.amount_refunded).value
            return "payment.refunded"

        return await self._operate(
            request, request.name, request.idempotency_key,
            _Operation("RefundPayment", "refund", prepare, call, apply, reason, note),
        )  # fmt: skip

    # -- saved methods --------------------------------------------------------------------
    def _customer(self, parent: str, principal: Principal | None, field: str = "parent") -> str:
        customer_id = parse_name(parent, "customers", "cus", field)
        own = customer_id_of(principal) if principal is not None else None
        if principal is not None and principal.kind is PrincipalKind.CUSTOMER and own != customer_id:
            raise RequestError(INSUFFICIENT_PERMISSIONS, "Customers see only their own payment methods.", parent=parent)
        return customer_id

    def _saving_gateway(self, code: str) -> PaymentGateway:
        gateway = self.gateway(code)
        if not gateway.config().supports_saved_methods:
            raise PaymentError(
                GATEWAY_CAPABILITY_UNSUPPORTED,
                f"The {code} gateway has no saved methods.",
                capability="saved_methods",
                gateway=code,
            )
        return gateway

    async def list_saved(
        self, request: P.ListSavedPaymentMethodsRequest, principal: Principal | None = None
    ) -> P.ListSavedPaymentMethodsResponse:
        customer_id = self._customer(request.parent, principal)
        gateway = self._saving_gateway(request.gateway)
        extra = await self._customer_kwargs(gateway, "list_methods", customer_id, request.gateway)
        try:
            methods = await self._call(
                "list_methods", request.gateway, lambda: gateway.list_methods(customer_id, **extra)
            )
        except (GatewayError, UnsupportedOperation) as exc:
            raise _gateway_error("list_methods", request.gateway, exc) from exc
        return P.ListSavedPaymentMethodsResponse(
            payment_methods=[saved_method_message(customer_id, request.gateway, m) for m in methods]
        )

    async def save_method(
        self, request: P.SavePaymentMethodRequest, principal: Principal | None = None
    ) -> P.SavedPaymentMethod:
        key = idempotency.check_key(request.idempotency_key)
        operation = "SavePaymentMethod"
        digest = idempotency.request_hash(operation, request, caller=idempotency.caller_scope(principal))
        replay = await self._replay(key, operation, digest, P.SavedPaymentMethod)
        if replay is not None:
            return replay
        customer_id = self._customer(request.parent, principal)
        gateway = self._saving_gateway(request.gateway)
        if request.method_type and gateway.config().method(request.method_type) is None:
            check_initiate(gateway.config(), request.method_type, 1, "USD", capture=True)
        async with self.db.transaction() as s:
            await idempotency.claim(
                s, key, operation, digest, self.clock.now(), timedelta(seconds=self.settings.lock_timeout_s)
            )
            gateway_customer = await self._gateway_customer(s, customer_id, request.gateway)
        save = SaveMethodRequest(
            customer_id, request.method_type or "card", dict(request.method_data), key, request.customer_email,
            gateway_customer,
        )  # fmt: skip
        try:
            details = await self._call("save_method", request.gateway, lambda: _save(gateway, save))
        except (GatewayError, UnsupportedOperation) as exc:
            async with self.db.transaction() as s:
                await idempotency.release(s, key)
            raise _gateway_error("save_method", request.gateway, exc) from exc
        if isinstance(details, MethodNotSaved):
            error = _not_saved(request.gateway, customer_id, details)
            async with self.db.transaction() as s:
                await idempotency.finish(s, key, error=error)
            raise error
        message = saved_method_message(customer_id, request.gateway, details)
        async with self.db.transaction() as s:
            if details.gateway_customer_id:
                await self._remember_gateway_customer(s, customer_id, request.gateway, details.gateway_customer_id)
            await idempotency.finish(s, key, response=message)
        return message

    # -- gateway customers ----------------------------------------------------------------
    async def _gateway_customer(self, s: AsyncSession, customer_id: str, gateway: str) -> str:
        """The gateway's id of our customer, "" when none is stored (or no customer)."""
        if not customer_id:
            return ""
        found = await s.get(GatewayCustomerRow, (customer_id, gateway))
        return found.gateway_customer_id if found is not None else ""

    async def _remember_gateway_customer(self, s: AsyncSession, customer_id: str, gateway: str, value: str) -> None:
        """Store (or replace) the gateway's id of ``customer_id``; a concurrent first
        insert of the same pair wins and this one updates it."""
        now = self.clock.now()
        found = await s.get(GatewayCustomerRow, (customer_id, gateway), with_for_update=True)
        if found is not None:
            if found.gateway_customer_id != value:
                found.gateway_customer_id, found.updated_at = value[:255], now
            return
        try:
            async with s.begin_nested():
                s.add(GatewayCustomerRow(customer_id=customer_id, gateway=gateway, gateway_customer_id=value[:255],
                                         created_at=now, updated_at=now))  # fmt: skip
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            found = await s.get(
                GatewayCustomerRow, (customer_id, gateway), with_for_update=True, populate_existing=True
            )
            if found is not None:
                found.gateway_customer_id, found.updated_at = value[:255], now

    async def _customer_kwargs(
        self, gateway: PaymentGateway, method: str, customer_id: str, code: str
    ) -> dict[str, str]:
        """``{"gateway_customer_id": ...}`` for ``list_methods``/``delete_method`` when the
        gateway's method declares that optional keyword (older gateways do not)."""
        try:
            accepts = "gateway_customer_id" in inspect.signature(getattr(gateway, method)).parameters
        except (TypeError, ValueError):
            accepts = False
        if not accepts:
            return {}
        async with self.db.read() as s:
            return {"gateway_customer_id": await self._gateway_customer(s, customer_id, code)}

    async def delete_saved(
        self, request: P.DeleteSavedPaymentMethodRequest, principal: Principal | None = None
    ) -> None:
        parts = request.name.split("/")
        if len(parts) != 4 or parts[2] != "paymentMethods" or not parts[3]:
            raise invalid("name", "must look like customers/cus_.../paymentMethods/{token}")
        customer_id = self._customer("/".join(parts[:2]), principal, "name")
        gateway = self._saving_gateway(request.gateway)
        listing = await self._customer_kwargs(gateway, "list_methods", customer_id, request.gateway)
        deleting = await self._customer_kwargs(gateway, "delete_method", customer_id, request.gateway)
        try:
            methods = await self._call(
                "list_methods", request.gateway, lambda: gateway.list_methods(customer_id, **listing)
            )
            if all(m.token != parts[3] for m in methods):
                raise PaymentError(
                    SAVED_METHOD_NOT_FOUND,
                    f"No saved method {parts[3]} for {customer_id} at {request.gateway}.",
                    name=request.name,
                )
            await self._call(
                "delete_method", request.gateway, lambda: gateway.delete_method(customer_id, parts[3], **deleting)
            )
        except (GatewayError, UnsupportedOperation) as exc:
            raise _gateway_error("delete_method", request.gateway, exc) from exc

    # -- inbound webhooks ---------------------------------------------------------------
    async def receive_webhook(self, gateway_code: str, body: bytes, headers: Mapping[str, str]) -> dict[str, object]:
        """Verify, deduplicate and queue an inbound webhook; the answer is sent at once and
        the payment changes in the ``payments.webhook`` job."""
        gateway = self.gateway(gateway_code)
        now = self.clock.now()
        try:
            event = await self._parse_webhook(
                gateway, gateway_code, WebhookRequest(body, headers, now, self.settings.webhook_tolerance_s)
            )
        except WebhookSignatureError as exc:
            raise PaymentError(
                WEBHOOK_SIGNATURE_INVALID, f"The {gateway_code} webhook was rejected: {exc}.", gateway=gateway_code
            ) from exc
        except GatewayError as exc:
            # Verification needed the provider and it did not answer: the provider redelivers.
            raise _gateway_error("parse_webhook", gateway_code, exc) from exc
        ignored = event.type is WebhookEventType.IGNORED
        async with self.db.transaction() as s:
            found = await s.scalar(
                select(PaymentWebhookEventRow.id).where(
                    PaymentWebhookEventRow.gateway == gateway_code, PaymentWebhookEventRow.event_id == event.event_id
                )
            )
            if found is not None:
                return {"received": True, "duplicate": True, "eventId": event.event_id}
            row = PaymentWebhookEventRow(
                id=new_id("pwh", now), gateway=gateway_code, event_id=event.event_id[:255], type=event.type.value,
                provider_type=event.provider_type[:100], gateway_ref=event.gateway_ref[:255], amount=event.amount,
                currency=event.currency[:3], data=dict(event.data), status="ignored" if ignored else "received",
                note="event type not handled" if ignored else "", payment_id="", received_at=now, processed_at=None,
            )  # fmt: skip
            try:
                async with s.begin_nested():
                    s.add(row)
            except IntegrityError as exc:
                if not is_unique_violation(exc):
                    raise
                return {"received": True, "duplicate": True, "eventId": event.event_id}
            if not ignored and self.queue is not None:
                await self.queue.enqueue(s, WEBHOOK_KIND, {"webhook_id": row.id}, dedupe_key=f"pwh:{row.id}")
        return {"received": True, "duplicate": False, "eventId": event.event_id, "ignored": ignored}

    async def _parse_webhook(self, gateway: PaymentGateway, code: str, request: WebhookRequest) -> WebhookEvent:
        """``parse_webhook`` may be plain or ``async`` (a gateway that asks the provider to
        verify); an awaitable answer is awaited under the gateway timeout."""
        parsed = gateway.parse_webhook(request)
        if not inspect.isawaitable(parsed):
            return parsed

        async def wait() -> WebhookEvent | WebhookSignatureError:
            try:
                return await parsed
            except WebhookSignatureError as exc:  # a known answer, not a gateway failure
                return exc

        try:
            answer = await self._call("parse_webhook", code, wait)
        except UnsupportedOperation as exc:
            raise GatewayError(str(exc)) from exc
        if isinstance(answer, WebhookSignatureError):
            raise answer
        return answer

    async def _webhook_job(self, job: Job) -> None:
        outcome = await self.process_webhook(str(job.payload["webhook_id"]), last_attempt=job.is_last_attempt)
        if outcome == "unmatched_retry":
            raise RetryAfter(30.0, "no payment has this gateway reference yet; it may still be committing")

    async def process_webhook(self, webhook_id: str, *, last_attempt: bool = True) -> str:
        """Apply one stored webhook to its payment. Returns the webhook's new status
        (processed, ignored, unmatched) or ``unmatched_retry`` when the payment may not be
        committed yet (the job retries)."""
        now = self.clock.now()
        async with self.db.transaction() as s:
            hook = await s.get(PaymentWebhookEventRow, webhook_id, with_for_update=True)
            if hook is None or hook.status != "received":
                return hook.status if hook is not None else "missing"
            row = await s.scalar(
                select(PaymentRow)
                .where(PaymentRow.gateway == hook.gateway, PaymentRow.gateway_ref == hook.gateway_ref)
                .with_for_update()
            )
            if row is None or not hook.gateway_ref:
                if not last_attempt and hook.gateway_ref:
                    return "unmatched_retry"
                hook.status, hook.processed_at = "unmatched", now
                hook.note = f"no payment of gateway {hook.gateway} has reference {hook.gateway_ref!r}"
                log.warning("payment webhook %s (%s): %s", hook.event_id, hook.gateway, hook.note)
                return hook.status
            hook.payment_id = row.id
            current = PaymentState(row.status)
            moved = webhook_target(
                WebhookEventType(hook.type), current, _amounts(row), hook.amount, row.status_before_dispute,
                str(hook.data.get("outcome", "")),
            )  # fmt: skip
            hook.processed_at = now
            if moved is None:
                hook.status, hook.note = "ignored", f"no change applies to a {current.value} payment"
                return hook.status
            target, amounts = moved
            refunded = amounts.refunded - row.amount_refunded
            await self._ledger(s, row, "webhook", "succeeded", refunded if refunded > 0 else amounts.captured, reference=hook.event_id,
                         reason=hook.type)  # fmt: skip
            if target is S.DISPUTED:
                row.status_before_dispute = current.value
            row.status = target.value
            row.amount_authorized, row.amount_captured, row.amount_refunded = (
                amounts.authorized,
                amounts.captured,
                amounts.refunded,
            )
            if target is S.FAILED:
                row.error_code = row.error_code or str(hook.data.get("error_code", "payment_failed"))
            if target is not S.REQUIRES_ACTION:
                row.action_type, row.action_data, row.action_expires_at = "", {}, None
            self._touch(row)
            event = (
                "payment.dispute_closed" if current is S.DISPUTED and target is not S.DISPUTED else _EVENTS.get(target)
            )
            if event:
                await self._event(s, row, event, source="webhook", providerEventId=hook.event_id)
            await s.flush()  # the observer reads the payment as it is now
            await self._target_changed(s, row.target)
            hook.status = "processed"
            return hook.status

    # -- expiry -------------------------------------------------------------------------
    async def _expire_job(self, job: Job) -> None:
        await self.expire_actions()
        await self.forget_old_keys()

    async def forget_old_keys(self, limit: int = 1000) -> int:
        """Delete finished idempotency keys older than ``idempotency_key_ttl_days``."""
        before = self.clock.now() - timedelta(days=self.settings.idempotency_key_ttl_days)
        async with self.db.transaction() as s:
            keys = list(
                await s.scalars(
                    select(IdempotencyKeyRow.key)
                    .where(IdempotencyKeyRow.created_at < before, IdempotencyKeyRow.state == idempotency.DONE)
                    .limit(limit)
                )
            )
            if keys:
                await s.execute(delete(IdempotencyKeyRow).where(IdempotencyKeyRow.key.in_(keys)))
        return len(keys)

    async def expire_actions(self, limit: int = 100) -> int:
        """Cancel payments whose customer action expired (S2): void at the gateway, then
        mark cancelled. A gateway error leaves the payment for a later sweep, after a
        backoff (:mod:`rcommerce.domain.payments.retries`); at most ``limit`` tries."""
        now = self.clock.now()
        expired = select(PaymentRow.id, PaymentRow.action_expires_at).where(
            PaymentRow.status == S.REQUIRES_ACTION.value, PaymentRow.action_expires_at <= now
        )
        done = 0
        order = (PaymentRow.action_expires_at, PaymentRow.id)
        async for payment_id, _ in due_operations(
            self.db, expired, order, _expiry_key, now, self.settings.gateway_retry, limit=limit
        ):
            done += await self._expire(payment_id)
        return done

    async def _expire(self, payment_id: str) -> int:
        """One payment of :meth:`expire_actions`; 1 when it was cancelled."""
        key = _expiry_key(payment_id)
        async with self.db.transaction() as s:
            row = await self._row(s, payment_id, lock=True)
            if row.status != S.REQUIRES_ACTION.value:
                return 0
            try:
                self._lock(row, key)
            except PaymentError:
                return 0  # another operation holds it: a later sweep
            gateway = self.gateways.get(row.gateway)
            ref = self._ref(row)
        if gateway is not None:
            try:
                await self._call("void", row.gateway, lambda: gateway.void(VoidRequest(ref, key)))
            except (GatewayError, UnsupportedOperation) as exc:
                await self._failed_call(payment_id, key, "expire", 0, GatewayError(str(exc)))
                return 0
        async with self.db.transaction() as s:
            row = await self._row(s, payment_id, lock=True)
            self._unlock(row)
            if row.status != S.REQUIRES_ACTION.value:
                return 0
            row.status = S.CANCELLED.value
            row.error_code, row.error_message = "action_expired", "The customer action was not completed in time."
            row.action_type, row.action_data, row.action_expires_at = "", {}, None
            await self._ledger(s, row, "expire", "succeeded", 0, key)
            self._touch(row)
            await self._event(s, row, "payment.expired")
            await s.flush()
            await self._target_changed(s, row.target)
            return 1


def _expiry_key(payment_id: str) -> str:
    """The key of the void that ends a payment whose customer action expired."""
    return f"expire:{payment_id}"


def _amounts(row: AnyPayment) -> Amounts:
    return Amounts(row.amount, row.amount_authorized, row.amount_captured, row.amount_refunded)


def _merged(stored: Mapping[str, Any], provider_data: Mapping[str, Any]) -> dict[str, Any]:
    """The gateway's data merged into what is stored: the keys it gives replace ours."""
    kept = stored.get("gateway")
    base = dict(kept) if isinstance(kept, Mapping) else {}
    return {**stored, "gateway": {**base, **provider_data}}


async def _save(gateway: PaymentGateway, request: SaveMethodRequest) -> MethodDetails | MethodNotSaved:
    """``save_method`` with a refusal as a value, so the timeout wrapper does not turn it
    into a gateway error."""
    try:
        return await gateway.save_method(request)
    except MethodNotSaved as exc:
        return exc


def _not_saved(gateway: str, customer_id: str, exc: MethodNotSaved) -> PaymentError:
    if exc.requires_action:
        return PaymentError(
            SAVED_METHOD_REQUIRES_ACTION, f"The {gateway} gateway asks the customer to authenticate this card before "
            f"saving it ({exc}); nothing was saved. Save it while paying (CreatePayment with save_method).",
            gateway=gateway, customer=f"customers/{customer_id}", declineCode=exc.code,
        )  # fmt: skip
    return PaymentError(
        DECLINE_REASONS.get(exc.code, PAYMENT_DECLINED), f"The {gateway} gateway refused to save the card: {exc}.",
        gateway=gateway, customer=f"customers/{customer_id}", declineCode=exc.code, retryAllowed="true",
    )  # fmt: skip
