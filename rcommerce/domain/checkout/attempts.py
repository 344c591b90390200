"""The checkout attempt of a cart on the completion's hot path, with prebuilt Core
statements: a locked read, the insert of a first attempt and the update of a row read
here. Paths off the hot path (action required, failure, release, reads) keep the ORM
``CheckoutAttemptRow``; the two never meet for one row in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.domain.checkout.models import CheckoutAttemptRow

__all__ = ["AttemptState", "insert_attempt", "locked_attempt", "update_attempt"]


@dataclass(frozen=True, slots=True)
class AttemptState:
    """A ``checkout_attempts`` row as read or written (same attribute names as
    ``CheckoutAttemptRow``)."""

    id: str
    cart_id: str
    status: str
    idempotency_key: str
    request_hash: str
    gateway: str
    payment_id: str
    order_id: str
    order_number: str
    amount: int
    currency_code: str
    failure_reason: str
    failure_message: str
    attempts: int
    lock_key: str
    locked_at: datetime | None
    created_at: datetime
    updated_at: datetime


_TABLE = cast(Table, CheckoutAttemptRow.__table__)
_LOCKED = (
    select(*(_TABLE.c[f.name] for f in fields(AttemptState)))
    .where(_TABLE.c.cart_id == bindparam("cart_id_"))
    .with_for_update()
)
_INSERT = insert(_TABLE)
_NAMES = tuple(f.name for f in fields(AttemptState))
#: The SET clause comes from the parameters' keys at execution (one compiled form per set).
_UPDATE = update(_TABLE).where(_TABLE.c.id == bindparam("id_"))


async def locked_attempt(session: AsyncSession, cart_id: str) -> AttemptState | None:
    """The cart's attempt, SELECT ... FOR UPDATE; None when it has none."""
    row = (await session.execute(_LOCKED, {"cart_id_": cart_id})).first()
    return None if row is None else AttemptState(*row)


async def insert_attempt(session: AsyncSession, attempt: AttemptState) -> None:
    await session.execute(_INSERT, {name: getattr(attempt, name) for name in _NAMES})


async def update_attempt(session: AsyncSession, attempt: AttemptState, **changes: Any) -> AttemptState:
    """Write ``changes`` to the attempt's row (read locked in this transaction) and return
    the attempt as it is now."""
    await session.execute(_UPDATE, {"id_": attempt.id, **changes})
    return replace(attempt, **changes)
