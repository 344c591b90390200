"""Tables of the checkout context.

``checkout_attempts`` holds one row per cart that ever started a completion (unique
``cart_id``): the idempotency key and request hash of the completion in flight, the
payment it authorized, the order it became, and a lease (``lock_key``/``locked_at``)
so that only one completion of a cart talks to the gateway at a time. The reconciler
reads it to tell an orphaned authorization from one whose order is being placed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = ["CheckoutAttemptRow"]


class CheckoutAttemptRow(Base):
    """The completion of one cart. ``status``: authorizing, requires_action, completed,
    failed (a new completion may start again)."""

    __tablename__ = "checkout_attempts"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    cart_id: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    #: The client's idempotency key of the completion now (or last) in flight.
    idempotency_key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    gateway: Mapped[str] = mapped_column(String(100))
    #: The payment of the current completion ("pay_..."), "" before the gateway is asked.
    payment_id: Mapped[str] = mapped_column(String(40))
    #: Set when completed.
    order_id: Mapped[str] = mapped_column(String(40))
    order_number: Mapped[str] = mapped_column(String(40))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency_code: Mapped[str] = mapped_column(String(3))
    #: Reason name of the last failure ("CARD_DECLINED", "INSUFFICIENT_INVENTORY").
    failure_reason: Mapped[str] = mapped_column(String(100))
    failure_message: Mapped[str] = mapped_column(Text)
    #: Completions started for this cart (1, 2, ... after declines).
    attempts: Mapped[int] = mapped_column(Integer)
    #: Lease: the idempotency key of the request now talking to the gateway, and since when.
    lock_key: Mapped[str] = mapped_column(String(255))
    locked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
