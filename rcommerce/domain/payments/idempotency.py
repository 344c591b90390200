"""Idempotency keys of mutating payment requests (DECISIONS 15a, payments §1.6).

A request claims its key in the transaction that validates it (a row in state
``pending`` with the request's hash). The transaction that applies the gateway's answer
stores that answer (the response message, or the error such as a decline) and marks the
key ``done``. Then:

* same key, same request, ``done``: the stored answer again, the gateway is not called;
* same key, another request: ``IDEMPOTENCY_KEY_REUSED``; a request made by another
  caller is another request (:func:`caller_scope`), so a key never answers someone
  else's stored payment;
* same key while the first request still talks to the gateway:
  ``PAYMENT_OPERATION_IN_PROGRESS`` (retry shortly);
* same key after a gateway error (the claim was released) or after a crash (the claim is
  older than the lock timeout): the request resumes, calling the gateway again with the
  same key, which the gateway forwards so the provider does not act twice.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar, cast

from google.protobuf.message import Message
from sqlalchemy import Insert, Table, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.db.database import is_unique_violation
from rcommerce.domain.payments.errors import IDEMPOTENCY_KEY_REUSED, PAYMENT_OPERATION_IN_PROGRESS, PaymentError
from rcommerce.domain.payments.models import IdempotencyKeyRow
from rcommerce.errors import DomainError, catalogue, invalid

__all__ = [
    "Claim", "attach", "caller_scope", "check_key", "claim", "claim_or_replay", "finish", "lookup", "release",
    "request_hash", "stored_answer", "unclaim",
]  # fmt: skip

PENDING, DONE = "pending", "done"
M = TypeVar("M", bound=Message)
MAX_KEY_LENGTH = 255


def caller_scope(principal: Principal | None) -> str:
    """Whose requests a key is compared with: a customer's own ("customers/cus_..."), a
    publishable key's own (its guests are told apart by the cart token in the request);
    secret keys and the platform's own calls (checkout, the reconciler) share one space
    (""), as keys in a merchant's back office do."""
    if principal is None or principal.is_staff:
        return ""
    return principal.subject


def request_hash(operation: str, request: Message, key_field: str = "idempotency_key", *, caller: str = "") -> str:
    """SHA-256 of the operation and the request without its idempotency key, and of the
    caller's :func:`caller_scope` when it has one."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField(key_field)
    body = operation.encode() + b"\0" + copy.SerializeToString(deterministic=True)
    if caller:
        body += b"\0" + caller.encode()
    return hashlib.sha256(body).hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key:
        raise invalid("idempotency_key", "required on every mutating payment call (or send the Idempotency-Key header)")
    if len(key) > MAX_KEY_LENGTH:
        raise invalid("idempotency_key", f"at most {MAX_KEY_LENGTH} characters")
    return key


@dataclass(frozen=True, slots=True)
class Claim:
    """A key this request now holds. ``payment_id`` is set when an earlier attempt with
    the same key already created the payment (a resumed create). ``taken_over``: the key
    existed (released, or claimed so long ago that the claim is stale) and this request
    took it over, rather than inserting it."""

    key: str
    payment_id: str
    taken_over: bool = False


def _reused(key: str, operation: str) -> PaymentError:
    return PaymentError(
        IDEMPOTENCY_KEY_REUSED,
        f"The idempotency key {key!r} was already used with a different request; use a new key.",
        idempotencyKey=key, operation=operation,
    )  # fmt: skip


def stored_answer(row: IdempotencyKeyRow, response_type: type[M]) -> M:
    """The stored response, or raise the stored error."""
    if row.error:
        found = {r.name: r for r in catalogue()}[str(row.error["reason"])]
        raise DomainError(found, str(row.error["message"]), **dict(row.error.get("metadata", {})))
    message: M = response_type()
    message.ParseFromString(base64.b64decode(row.response))
    return message


async def lookup(session: AsyncSession, key: str, operation: str, digest: str, response_type: type[M]) -> M | None:
    """The stored answer for a finished key (raising a stored error), ``None`` otherwise;
    IDEMPOTENCY_KEY_REUSED for the same key with another request."""
    row = await session.get(IdempotencyKeyRow, key)
    if row is None:
        return None
    if row.request_hash != digest:
        raise _reused(key, operation)
    if row.state == DONE:
        return stored_answer(row, response_type)
    return None


async def claim(
    session: AsyncSession, key: str, operation: str, digest: str, now: datetime, lock_timeout: timedelta
) -> Claim:
    """Claim ``key`` in ``session``'s transaction (see the module docstring)."""
    row = await session.get(IdempotencyKeyRow, key, with_for_update=True)
    if row is None:
        row = IdempotencyKeyRow(
            key=key, operation=operation, request_hash=digest, state=PENDING, claimed_at=now, response="", error={},
            payment_id="", created_at=now,
        )  # fmt: skip
        try:
            async with session.begin_nested():
                session.add(row)
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            raise _in_progress(key) from exc
        return Claim(key, "")
    if row.request_hash != digest:
        raise _reused(key, operation)
    if row.state == DONE:
        raise _in_progress(key)  # finished meanwhile: the caller's retry replays it
    if row.claimed_at is not None and now - row.claimed_at < lock_timeout:
        raise _in_progress(key)
    row.claimed_at = now
    return Claim(key, row.payment_id, taken_over=True)


_TABLE = cast(Table, IdempotencyKeyRow.__table__)
# The statements of the hot path, built once (their compiled form and cache key are
# reused) and executed with parameters.
_INSERT = insert(_TABLE)
#: ``INSERT`` that does nothing when the key exists, per dialect; none on MySQL/MariaDB,
#: where ``INSERT IGNORE`` would leave a shared lock on the existing row that the
#: follow-up ``SELECT ... FOR UPDATE`` of two concurrent retries would deadlock on.
_INSERT_IF_ABSENT: dict[str, Insert] = {
    "postgresql": postgresql.insert(_TABLE).on_conflict_do_nothing(index_elements=["key"]),
    "sqlite": sqlite.insert(_TABLE).on_conflict_do_nothing(index_elements=["key"]),
}
_LOCKED_KEY = (
    select(IdempotencyKeyRow)
    .where(IdempotencyKeyRow.key == bindparam("key_"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
#: The columns to set come with the parameters.
_UPDATE_KEY = update(_TABLE).where(_TABLE.c.key == bindparam("key_"))


async def claim_or_replay(
    session: AsyncSession,
    key: str,
    operation: str,
    digest: str,
    now: datetime,
    lock_timeout: timedelta,
    response_type: type[M],
    *,
    payment_id: str = "",
) -> Claim | M:
    """:func:`lookup` and :func:`claim` in one step, first thing in ``session``'s transaction.

    A new key is claimed with one ``INSERT`` that does nothing when the key exists
    (``payment_id`` is stored with it: the payment the request is about, or is about to
    create). Only when the key exists is it read (locked): the stored answer of a
    finished request with the same body is returned (or its stored error raised), another
    body is IDEMPOTENCY_KEY_REUSED, a live claim PAYMENT_OPERATION_IN_PROGRESS, and a
    released or stale claim is taken over (the returned :class:`Claim` names the payment
    it created). A caller that raises afterwards rolls the claim back with its
    transaction (or undoes it with :func:`unclaim`). It must be the first write of the
    transaction, or come after locks that already keep concurrent claims of the same key
    out (checkout claims its payment's and its capture's keys under the cart's row lock):
    on MySQL/MariaDB a concurrent claim of the same key waits for the other transaction
    on the plain ``INSERT`` used there, holding the locks taken before, and then fails it.
    """
    values = {
        "key": key, "operation": operation, "request_hash": digest, "state": PENDING, "claimed_at": now,
        "response": "", "error": {}, "payment_id": payment_id, "created_at": now,
    }  # fmt: skip
    statement = _INSERT_IF_ABSENT.get(session.get_bind().dialect.name)
    if statement is not None:
        result = await session.execute(statement, values)
        if getattr(result, "rowcount", 0) == 1:
            return Claim(key, payment_id)
    row = await session.scalar(_LOCKED_KEY, {"key_": key})
    if row is None:
        if statement is not None:  # pragma: no cover - deleted between the two statements
            raise _in_progress(key)
        try:
            await session.execute(_INSERT, values)
        except IntegrityError as exc:
            if not is_unique_violation(exc):
                raise
            raise _in_progress(key) from exc
        return Claim(key, payment_id)
    if row.request_hash != digest:
        raise _reused(key, operation)
    if row.state == DONE:
        return stored_answer(row, response_type)
    if row.claimed_at is not None and now - row.claimed_at < lock_timeout:
        raise _in_progress(key)
    row.claimed_at = now
    return Claim(key, row.payment_id, taken_over=True)


def _in_progress(key: str) -> PaymentError:
    return PaymentError(
        PAYMENT_OPERATION_IN_PROGRESS, f"A request with idempotency key {key!r} is in progress; retry shortly.",
        idempotencyKey=key,
    )  # fmt: skip


async def attach(session: AsyncSession, key: str, payment_id: str) -> None:
    """Remember which payment the claimed key's request created."""
    row = await session.get(IdempotencyKeyRow, key)
    if row is not None:
        row.payment_id = payment_id


async def finish(
    session: AsyncSession, key: str, *, response: Message | None = None, error: DomainError | None = None
) -> None:
    """Store the answer of the claimed key in ``session``'s transaction (one ``UPDATE``)."""
    values: dict[str, object] = {"state": DONE, "claimed_at": None}
    if error is not None:
        values["error"] = {"reason": error.reason.name, "message": error.message, "metadata": dict(error.metadata)}
    elif response is not None:
        values["response"] = base64.b64encode(response.SerializeToString(deterministic=True)).decode()
    await session.execute(_UPDATE_KEY, {"key_": key, **values})


_DELETE_KEY = delete(_TABLE).where(_TABLE.c.key == bindparam("key_"))


async def unclaim(session: AsyncSession, held: Claim) -> None:
    """Undo ``held`` in ``session``'s transaction, which goes on (a refusal after the
    claim in a transaction that must still commit): a key this request inserted is
    deleted, a key it took over is released (a retry takes it over again at once)."""
    if held.taken_over:
        await release(session, held.key)
    else:
        await session.execute(_DELETE_KEY, {"key_": held.key})


async def release(session: AsyncSession, key: str) -> None:
    """Let a retry with ``key`` resume at once (after a gateway error)."""
    row = await session.get(IdempotencyKeyRow, key, with_for_update=True)
    if row is not None and row.state == PENDING:
        row.claimed_at = None
