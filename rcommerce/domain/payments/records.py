"""Payments and ledger entries read and written with Core, without the unit of work.

The steps of an operation that run on every checkout (claim, apply) read the payment as
a :class:`PaymentRecord` (a plain object with the columns of ``payments``), change its
attributes, and write what changed with one ``UPDATE`` (:func:`save_payment`); the ledger
is read as :class:`LedgerEntry` objects. That costs far less than loading mapped objects
and flushing them. A transaction that uses a record for a payment must not also load
that payment as a ``PaymentRow`` (the mapped object would not see the Core writes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.db.locked_read import LockedWithChildren
from rcommerce.domain.payments.models import PaymentRow, PaymentTransactionRow

__all__ = [
    "LedgerEntry", "PaymentRecord", "ledger", "lock_if_free", "locked_payment", "locked_payment_with_ledger",
    "save_payment",
]  # fmt: skip

PAYMENTS = cast(Table, PaymentRow.__table__)
LEDGER = cast(Table, PaymentTransactionRow.__table__)


@dataclass(slots=True)
class PaymentRecord:
    """One row of ``payments`` (attributes as :class:`PaymentRow`'s)."""

    id: str
    target: str
    gateway: str
    method_type: str
    capture_method: str
    currency: str
    amount: int
    amount_authorized: int
    amount_captured: int
    amount_refunded: int
    status: str
    status_before_dispute: str
    gateway_ref: str
    customer_id: str
    customer_email: str
    action_type: str
    action_data: dict[str, Any]
    action_expires_at: datetime | None
    error_code: str
    error_message: str
    method_details: dict[str, Any]
    provider_data: dict[str, Any]
    transaction_id: str
    receipt_url: str
    lock_key: str
    locked_at: datetime | None
    revision: int
    created_at: datetime
    updated_at: datetime
    #: The column values as read, to tell what changed since.
    loaded: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    def changes(self) -> dict[str, Any]:
        """The columns whose value differs from what was read."""
        return {
            name: value
            for name, before in zip(PAYMENT_COLUMNS, self.loaded, strict=True)
            if (value := getattr(self, name)) != before
        }


@dataclass(slots=True)
class LedgerEntry:
    """One row of ``payment_transactions`` (attributes as :class:`PaymentTransactionRow`'s)."""

    id: str
    payment_id: str
    seq: int
    kind: str
    status: str
    amount: int
    currency: str
    idempotency_key: str
    reference: str
    reason: str
    note: str
    error_code: str
    error_message: str
    created_at: datetime


PAYMENT_COLUMNS = tuple(f.name for f in fields(PaymentRecord) if f.name != "loaded")
LEDGER_COLUMNS = tuple(f.name for f in fields(LedgerEntry))

# Built once (their compiled form and cache key are reused), executed with parameters.
#: The payment FOR UPDATE with its ledger (or either alone).
_LOCKED_WITH_LEDGER = LockedWithChildren(PAYMENTS, PAYMENT_COLUMNS, "id", LEDGER, LEDGER_COLUMNS, "payment_id", "seq")
#: The columns to set come with the parameters.
_UPDATE = update(PAYMENTS).where(PAYMENTS.c.id == bindparam("id_"))
_LOCK_IF_FREE = (
    update(PAYMENTS)
    .where(
        PAYMENTS.c.id == bindparam("payment_id"),
        or_(PAYMENTS.c.lock_key == "", PAYMENTS.c.lock_key == bindparam("lock_key_")),
    )
    .values(lock_key=bindparam("lock_key_"), locked_at=bindparam("locked_at_"))
    .returning(*(PAYMENTS.c[name] for name in PAYMENT_COLUMNS))
)


def _record(row: Sequence[Any] | None) -> PaymentRecord | None:
    if row is None:
        return None
    loaded = tuple(row)
    record = PaymentRecord(*loaded)
    record.loaded = loaded
    return record


async def locked_payment(session: AsyncSession, payment_id: str) -> PaymentRecord | None:
    """The payment read ``FOR UPDATE``, ``None`` when it does not exist."""
    return _record((await session.execute(_LOCKED_WITH_LEDGER.parent, {"key": payment_id})).first())


async def lock_if_free(session: AsyncSession, payment_id: str, key: str, now: datetime) -> PaymentRecord | None:
    """``lock_key``/``locked_at`` set in one ``UPDATE ... RETURNING`` when no other
    operation holds the payment (the database must return updated rows); the payment as
    changed, or ``None`` (held, or missing)."""
    result = await session.execute(_LOCK_IF_FREE, {"payment_id": payment_id, "lock_key_": key, "locked_at_": now})
    return _record(result.first())


async def locked_payment_with_ledger(
    session: AsyncSession, payment_id: str
) -> tuple[PaymentRecord, list[LedgerEntry]] | None:
    """:func:`locked_payment` and :func:`ledger`, in one statement where the database can
    lock only the payment's row of a join; ``None`` when the payment does not exist."""
    read = await _LOCKED_WITH_LEDGER.read(session, payment_id)
    if read is None:
        return None
    found, entries = read
    record = _record(found)
    assert record is not None
    return record, [LedgerEntry(*row) for row in entries]


async def ledger(session: AsyncSession, payment_id: str) -> list[LedgerEntry]:
    """The payment's ledger in order."""
    return [LedgerEntry(*row) for row in await session.execute(_LOCKED_WITH_LEDGER.children, {"key": payment_id})]


async def save_payment(session: AsyncSession, record: PaymentRecord) -> None:
    """``UPDATE`` the columns of ``record`` that changed since it was read (none: nothing
    sent); what it writes counts as read from then on."""
    changed = record.changes()
    if changed:
        await session.execute(_UPDATE, {"id_": record.id, **changed})
        record.loaded = tuple(getattr(record, name) for name in PAYMENT_COLUMNS)
