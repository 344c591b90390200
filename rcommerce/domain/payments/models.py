"""Tables of the payments context.

``payments`` holds one payment session per attempt to pay a cart or an order, with the
running amounts; ``payment_transactions`` is the ledger of every gateway call and its
result (append-only); ``payment_idempotency_keys`` stores each mutating request's key,
hash and answer; ``payment_webhook_events`` holds verified inbound webhooks, unique per
gateway and provider event id; ``payment_gateway_customers`` maps a customer to the
gateway's own customer record (Stripe ``cus_...``), so gateways never search for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rcommerce.db.base import Base, PrefixedId

__all__ = [
    "GatewayCustomerRow",
    "IdempotencyKeyRow",
    "PaymentRow",
    "PaymentTransactionRow",
    "PaymentWebhookEventRow",
]


class PaymentRow(Base):
    """A payment session. Amounts are minor units of ``currency``."""

    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_gateway_gateway_ref", "gateway", "gateway_ref"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    #: What is paid: "carts/cart_..." or "orders/ord_...".
    target: Mapped[str] = mapped_column(String(100), index=True)
    gateway: Mapped[str] = mapped_column(String(100))
    method_type: Mapped[str] = mapped_column(String(50))
    #: "automatic" (capture at once) or "manual" (authorize, capture later).
    capture_method: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    amount_authorized: Mapped[int]
    amount_captured: Mapped[int]
    amount_refunded: Mapped[int]
    status: Mapped[str] = mapped_column(String(32), index=True)
    #: The status a dispute interrupted, restored when the dispute is won.
    status_before_dispute: Mapped[str] = mapped_column(String(32))
    #: The gateway's id of the payment ("pi_..."); "" until the gateway answered.
    gateway_ref: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[str] = mapped_column(String(40))
    customer_email: Mapped[str] = mapped_column(String(255))
    #: Required action: type, storefront data and expiry.
    action_type: Mapped[str] = mapped_column(String(50))
    action_data: Mapped[dict[str, Any]]
    action_expires_at: Mapped[datetime | None] = mapped_column(index=True)
    error_code: Mapped[str] = mapped_column(String(100))
    error_message: Mapped[str] = mapped_column(Text)
    #: Card brand, last 4, expiry, saved token: shown, never a full number.
    method_details: Mapped[dict[str, Any]]
    #: What the gateway asked us to hand back; never public.
    provider_data: Mapped[dict[str, Any]]
    #: The provider's id of the money movement ("ch_...", a PayPal capture id); "" until known.
    transaction_id: Mapped[str] = mapped_column(String(255))
    #: The provider's receipt page; "" when it has none.
    receipt_url: Mapped[str] = mapped_column(String(1000))
    #: Idempotency key of the operation now talking to the gateway, and since when.
    lock_key: Mapped[str] = mapped_column(String(255))
    locked_at: Mapped[datetime | None]
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class PaymentTransactionRow(Base):
    """One gateway call and its result: the ledger. ``kind`` is initiate,
    complete_action, capture, void, refund, off_session, webhook or expire; ``status`` is
    succeeded, pending, failed or error (outcome unknown)."""

    __tablename__ = "payment_transactions"

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    payment_id: Mapped[PrefixedId] = mapped_column(ForeignKey("payments.id", ondelete="CASCADE"), index=True)
    #: 1, 2, ... per payment: the ledger's order (written under the payment's row lock).
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    #: The gateway's id of the operation ("re_...", "ch_...", an event id).
    reference: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(50))
    #: Free text of a refund (the caller's own reason when it was not a known one).
    note: Mapped[str] = mapped_column(String(500))
    error_code: Mapped[str] = mapped_column(String(100))
    error_message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class IdempotencyKeyRow(Base):
    """A mutating request already answered: replaying its key returns ``response`` (or
    the stored error) without calling the gateway again."""

    __tablename__ = "payment_idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    #: The RPC, "CapturePayment".
    operation: Mapped[str] = mapped_column(String(64))
    #: SHA-256 hex of the operation and the request without its key.
    request_hash: Mapped[str] = mapped_column(String(64))
    #: "pending" while the first request with this key runs (or after it met a gateway
    #: error: then a retry resumes it), "done" once its answer is stored. Indexed: the
    #: checkout's reconciler looks for pending automatic captures.
    state: Mapped[str] = mapped_column(String(20), index=True)
    #: When a request last claimed the key; ``None`` when released after a gateway error.
    claimed_at: Mapped[datetime | None]
    #: Base64 of the serialized response message; "" when an error was stored.
    response: Mapped[str] = mapped_column(Text)
    #: Stored error: {"reason", "message", "metadata"}; {} for a success.
    error: Mapped[dict[str, Any]]
    #: The payment the request creates or operates on; "" for requests about no payment
    #: (saved methods) and for capture/void/refund keys written before revision 0019.
    payment_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(index=True)


class PaymentWebhookEventRow(Base):
    """A verified inbound webhook. ``status``: received (queued), processed, ignored
    (authentic but no change applies), unmatched (no payment has its reference)."""

    __tablename__ = "payment_webhook_events"
    __table_args__ = (UniqueConstraint("gateway", "event_id"),)

    id: Mapped[PrefixedId] = mapped_column(primary_key=True)
    gateway: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(50))
    provider_type: Mapped[str] = mapped_column(String(100))
    gateway_ref: Mapped[str] = mapped_column(String(255))
    amount: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    data: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text)
    payment_id: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]


class GatewayCustomerRow(Base):
    """Our customer's record at one gateway ("cus_..." at Stripe), stored from the
    gateway's answers and handed to it as ``gateway_customer_id``."""

    __tablename__ = "payment_gateway_customers"

    customer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    gateway: Mapped[str] = mapped_column(String(100), primary_key=True)
    gateway_customer_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
