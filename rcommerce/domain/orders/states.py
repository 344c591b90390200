"""The three order status machines (DECISIONS 15, core-domain §2.1–2.3).

``status`` moves only along :data:`ORDER_TRANSITIONS`; ``payment_status`` and
``fulfillment_status`` are never set directly: they are derived from the payment ledger
and the line quantities by :func:`derive_payment_status` and
:func:`derive_fulfillment_status`, so they cannot disagree with the facts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    ON_HOLD = "on_hold"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"
    VOIDED = "voided"


class FulfillmentStatus(enum.StrEnum):
    UNFULFILLED = "unfulfilled"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    PARTIALLY_RETURNED = "partially_returned"
    RETURNED = "returned"
    DELIVERED = "delivered"


_S = OrderStatus

#: Allowed ``status`` moves. ``on_hold → pending`` releases an order held at placement
#: whose payment has not completed yet; ``→ refunded`` happens when refunds reach the total.
ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    _S.PENDING: frozenset({_S.CONFIRMED, _S.ON_HOLD, _S.CANCELLED}),
    _S.CONFIRMED: frozenset({_S.PROCESSING, _S.SHIPPED, _S.ON_HOLD, _S.CANCELLED, _S.REFUNDED}),
    _S.PROCESSING: frozenset({_S.SHIPPED, _S.ON_HOLD, _S.CANCELLED, _S.REFUNDED}),
    _S.ON_HOLD: frozenset({_S.PENDING, _S.CONFIRMED, _S.CANCELLED, _S.REFUNDED}),
    _S.SHIPPED: frozenset({_S.COMPLETED, _S.REFUNDED}),
    _S.COMPLETED: frozenset({_S.REFUNDED}),
    _S.CANCELLED: frozenset(),
    _S.REFUNDED: frozenset(),
}

#: Statuses whose lines, addresses and discounts may still change (core-domain §3.10).
EDITABLE = frozenset({_S.PENDING, _S.CONFIRMED, _S.ON_HOLD})
#: Statuses in which stock may be shipped.
SHIPPABLE = frozenset({_S.CONFIRMED, _S.PROCESSING, _S.SHIPPED})
#: Statuses in which money may be refunded.
REFUNDABLE = frozenset({_S.PENDING, _S.CONFIRMED, _S.PROCESSING, _S.ON_HOLD, _S.SHIPPED, _S.COMPLETED})
TERMINAL = frozenset({_S.CANCELLED, _S.REFUNDED})


def allowed_targets(current: OrderStatus) -> list[str]:
    """The statuses ``current`` may move to, sorted (for error metadata)."""
    return sorted(ORDER_TRANSITIONS[current])


def can_transition(current: OrderStatus, target: OrderStatus) -> bool:
    return target in ORDER_TRANSITIONS[current]


@dataclass(frozen=True, slots=True)
class PaymentTotals:
    """Sums over an order's payment ledger, minor units of the order currency."""

    total: int  # what the order asks for
    authorized: int = 0  # authorized and neither captured, voided nor expired
    captured: int = 0
    refunded: int = 0
    voided: int = 0
    failed_attempts: int = 0


def derive_payment_status(t: PaymentTotals) -> PaymentStatus:
    """Payment status from the ledger (core-domain §2.2, R19).

    Refunds decide first (``refunded`` iff everything captured was returned), then
    captures (``paid`` once captures reach the total), then open authorizations
    (``authorized``: money is held and still to be captured); a voided authorization
    with nothing captured is ``voided``; only failures is ``failed``.

    Captures below the total with nothing left to capture (an edit raised the total
    after payment, or a partial capture released the rest) stay ``paid``: every
    secured amount was collected. DECISIONS 15 has no ``partially_paid``; the order
    shows what is missing as :func:`balance_due` (``totals.balance_due``).
    """
    if t.refunded > 0:
        return PaymentStatus.REFUNDED if t.refunded >= t.captured else PaymentStatus.PARTIALLY_REFUNDED
    if t.captured > 0 and t.captured >= t.total:
        return PaymentStatus.PAID
    if t.authorized > 0:
        return PaymentStatus.AUTHORIZED
    if t.captured > 0:
        return PaymentStatus.PAID
    if t.voided > 0:
        return PaymentStatus.VOIDED
    if t.failed_attempts > 0:
        return PaymentStatus.FAILED
    return PaymentStatus.PAID if t.total == 0 else PaymentStatus.PENDING


def balance_due(t: PaymentTotals) -> int:
    """What the order still asks for beyond what was captured: ``max(0, total − captured)``.
    Refunds do not raise it (they give back money for returns or goodwill); open
    authorizations do not lower it (they are not collected yet)."""
    return max(0, t.total - t.captured)


@dataclass(frozen=True, slots=True)
class LineQuantities:
    """One shippable order line: ordered, fulfilled (not cancelled) and returned units."""

    quantity: int
    fulfilled: int = 0
    returned: int = 0


def derive_fulfillment_status(lines: Iterable[LineQuantities], *, all_delivered: bool = False) -> FulfillmentStatus:
    """Order-level fulfilment status over its shippable lines (core-domain §2.3).

    Returns win over delivery (a returned item was delivered first); ``delivered``
    needs every unit fulfilled and every fulfilment delivered.
    """
    ordered = fulfilled = returned = 0
    for line in lines:
        ordered += line.quantity
        fulfilled += line.fulfilled
        returned += line.returned
    if returned > 0:
        return FulfillmentStatus.RETURNED if returned >= ordered else FulfillmentStatus.PARTIALLY_RETURNED
    if fulfilled == 0:
        return FulfillmentStatus.UNFULFILLED
    if fulfilled < ordered:
        return FulfillmentStatus.PARTIALLY_FULFILLED
    return FulfillmentStatus.DELIVERED if all_delivered else FulfillmentStatus.FULFILLED
