"""Pure rules of payments on orders, fulfilments and order changes (core-domain §2.2–2.4,
§3.12–3.13, R19, R20, Ex5; DECISIONS 11, 15).

Everything here is arithmetic on plain values, so each worked example is a unit test:

* R19 refund cap: Σ refunds + new ≤ captured; :func:`check_refund_amount` raises
  REFUND_EXCEEDS_PAYMENT with ``requested`` and ``remaining``;
* R20 line refunds: the units' share of what the line cost after its discount, plus its
  tax when prices exclude tax, rounded half up *cumulatively* so refunding a line unit by
  unit never adds up to more than the line (:func:`line_refund_amount`);
* fulfilment and return quantities: never more than ordered and not yet fulfilled, never
  more than fulfilled and not yet returned;
* the status machines of a fulfilment and of an order change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from rcommerce.domain.fulfillment.errors import (
    INVALID_FULFILLMENT_QUANTITY,
    INVALID_FULFILLMENT_STATUS,
    INVALID_ORDER_CHANGE_STATUS,
    INVALID_REFUND_QUANTITY,
    INVALID_RETURN_QUANTITY,
    NOTHING_TO_CAPTURE,
    ORDER_FULFILLED,
    ORDER_LINE_NOT_FOUND,
    REFUND_EXCEEDS_PAYMENT,
    FulfillmentError,
)
from rcommerce.domain.orders.states import FulfillmentStatus, OrderStatus, PaymentStatus, can_transition
from rcommerce.errors import Reason, invalid

__all__ = [
    "CHANGE_TRANSITIONS",
    "FULFILLMENT_TRANSITIONS",
    "ChangeKind",
    "ChangeStatus",
    "FulfillmentState",
    "LineState",
    "PaymentSlice",
    "allocate_capture",
    "allocate_refund",
    "check_change_transition",
    "check_fulfillment_quantities",
    "check_fulfillment_transition",
    "check_refund_amount",
    "check_refund_quantities",
    "check_return_quantities",
    "line_refund_amount",
    "status_after_fulfillment",
    "status_after_payment",
    "status_after_refund",
]


class FulfillmentState(enum.StrEnum):
    PENDING = "pending"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


F = FulfillmentState
#: pending → shipped → delivered; pending may be delivered at once (local pickup);
#: pending or shipped → cancelled (core-domain §2.3).
FULFILLMENT_TRANSITIONS: Mapping[FulfillmentState, frozenset[FulfillmentState]] = {
    F.PENDING: frozenset({F.SHIPPED, F.DELIVERED, F.CANCELLED}),
    F.SHIPPED: frozenset({F.DELIVERED, F.CANCELLED}),
    F.DELIVERED: frozenset(),
    F.CANCELLED: frozenset(),
}


class ChangeKind(enum.StrEnum):
    RETURN = "return"
    EXCHANGE = "exchange"
    CLAIM = "claim"


class ChangeStatus(enum.StrEnum):
    REQUESTED = "requested"
    RECEIVED = "received"
    PROCESSED = "processed"
    CANCELLED = "cancelled"


C = ChangeStatus
#: requested → received (items back, restocked or not) → processed (refunded or replaced);
#: requested → processed when no items come back; requested or received → cancelled
#: (core-domain §2.4).
CHANGE_TRANSITIONS: Mapping[ChangeStatus, frozenset[ChangeStatus]] = {
    C.REQUESTED: frozenset({C.RECEIVED, C.PROCESSED, C.CANCELLED}),
    C.RECEIVED: frozenset({C.PROCESSED, C.CANCELLED}),
    C.PROCESSED: frozenset(),
    C.CANCELLED: frozenset(),
}


def _transition_error(
    reason: Reason, what: str, current: str, target: str, allowed: frozenset[str]
) -> FulfillmentError:
    return FulfillmentError(
        reason,
        f"The {what} is {current}; it cannot become {target}.",
        currentStatus=current,
        targetStatus=target,
        allowedStatuses=",".join(sorted(allowed)),
    )


def check_fulfillment_transition(current: FulfillmentState, target: FulfillmentState) -> None:
    if target not in FULFILLMENT_TRANSITIONS[current]:
        allowed = frozenset(s.value for s in FULFILLMENT_TRANSITIONS[current])
        raise _transition_error(INVALID_FULFILLMENT_STATUS, "fulfilment", current.value, target.value, allowed)


def check_change_transition(current: ChangeStatus, target: ChangeStatus) -> None:
    if target not in CHANGE_TRANSITIONS[current]:
        allowed = frozenset(s.value for s in CHANGE_TRANSITIONS[current])
        raise _transition_error(INVALID_ORDER_CHANGE_STATUS, "order change", current.value, target.value, allowed)


# -- money ---------------------------------------------------------------------------------


def check_refund_amount(requested: int, *, captured: int, refunded: int) -> int:
    """R19: a refund of ``requested`` is allowed while Σ refunds + requested ≤ captured.
    Returns what is left afterwards. Ex5: captured 12591, refunded 5000, requested 8000 →
    REFUND_EXCEEDS_PAYMENT{requested: 8000, remaining: 7591}."""
    if requested <= 0:
        raise invalid("amount", "must be greater than 0 (minor units)", amount=requested)
    remaining = max(0, captured - refunded)
    if requested > remaining:
        raise FulfillmentError(
            REFUND_EXCEEDS_PAYMENT,
            f"Refunding {requested} would exceed what was captured: only {remaining} is left to refund.",
            requested=requested,
            remaining=remaining,
            captured=captured,
        )
    return remaining - requested


def line_refund_amount(paid: int, quantity: int, already: int, units: int) -> int:
    """R20: what ``units`` more units of a line are worth when ``already`` units were
    refunded before: ``round(paid × (already + units) / quantity) − round(paid × already /
    quantity)``, half up. ``paid`` is the line's total after its discount (plus its tax when
    prices exclude tax). Ex5: 2 × 49.99, no discount or tax, one unit → 4999; the Ex1 line
    (8998 after discount + 787 tax) refunds 4893 then 4892, exactly 9785 in all."""

    def share(n: int) -> int:
        return int((Decimal(paid) * n / quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))

    return share(already + units) - share(already)


@dataclass(frozen=True, slots=True)
class PaymentSlice:
    """One payment of an order as capture and refund allocation sees it."""

    payment_id: str
    capturable: int  # authorized, not captured
    refundable: int  # captured minus refunded


def allocate_capture(payments: Sequence[PaymentSlice], amount: int) -> list[tuple[str, int]]:
    """Split a capture over the order's authorized payments, oldest first; 0 = all.
    NOTHING_TO_CAPTURE when nothing is authorized or ``amount`` exceeds it."""
    capturable = sum(p.capturable for p in payments)
    wanted = amount or capturable
    if amount < 0:
        raise invalid("amount", "must not be negative (minor units; 0 captures everything authorized)")
    if capturable == 0 or wanted > capturable:
        raise FulfillmentError(
            NOTHING_TO_CAPTURE,
            f"Capturing {wanted} is not possible: {capturable} is authorized and not captured.",
            requested=wanted,
            capturable=capturable,
        )
    out: list[tuple[str, int]] = []
    left = wanted
    for p in payments:
        take = min(left, p.capturable)
        if take > 0:
            out.append((p.payment_id, take))
            left -= take
    return out


def allocate_refund(payments: Sequence[PaymentSlice], amount: int) -> list[tuple[str, int]]:
    """Split a refund (already checked against R19) over captured payments, oldest first."""
    out: list[tuple[str, int]] = []
    left = amount
    for p in payments:
        take = min(left, p.refundable)
        if take > 0:
            out.append((p.payment_id, take))
            left -= take
    return out


# -- quantities ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LineState:
    """An order line's quantities: ordered, fulfilled (fulfilments not cancelled),
    returned (returns not cancelled) and refunded units."""

    line_id: str
    quantity: int
    fulfilled: int = 0
    returned: int = 0
    refunded: int = 0

    @property
    def unfulfilled(self) -> int:
        return max(0, self.quantity - self.fulfilled)

    @property
    def returnable(self) -> int:
        return max(0, self.fulfilled - self.returned)


def _requested(lines: Mapping[str, LineState], requested: Sequence[tuple[str, int]], field: str) -> dict[str, int]:
    """Merge duplicate line ids; every id must exist and every quantity be positive."""
    if not requested:
        raise invalid(field, "needs at least one line")
    merged: dict[str, int] = {}
    for i, (line_id, qty) in enumerate(requested):
        if qty <= 0:
            raise invalid(f"{field}[{i}].quantity", "must be greater than 0", quantity=qty)
        if line_id not in lines:
            raise FulfillmentError(ORDER_LINE_NOT_FOUND, f"The order has no line {line_id}.", lineId=line_id)
        merged[line_id] = merged.get(line_id, 0) + qty
    return merged


def check_fulfillment_quantities(
    lines: Mapping[str, LineState], requested: Sequence[tuple[str, int]], field: str = "lines"
) -> dict[str, int]:
    """Each requested quantity ≤ ordered − fulfilled (INVALID_FULFILLMENT_QUANTITY);
    ORDER_FULFILLED when nothing at all is left to ship."""
    if all(line.unfulfilled == 0 for line in lines.values()):
        raise FulfillmentError(ORDER_FULFILLED, "Every unit of the order is already fulfilled.")
    merged = _requested(lines, requested, field)
    for line_id, qty in merged.items():
        available = lines[line_id].unfulfilled
        if qty > available:
            raise FulfillmentError(
                INVALID_FULFILLMENT_QUANTITY,
                f"Line {line_id}: {qty} units requested but only {available} are left to fulfil.",
                lineId=line_id,
                requested=qty,
                available=available,
            )
    return merged


def check_return_quantities(
    lines: Mapping[str, LineState], requested: Sequence[tuple[str, int]], field: str = "lines"
) -> dict[str, int]:
    """R20 / Ex5: each quantity ≤ fulfilled − returned, else INVALID_RETURN_QUANTITY
    {requested, available}."""
    merged = _requested(lines, requested, field)
    for line_id, qty in merged.items():
        available = lines[line_id].returnable
        if qty > available:
            raise FulfillmentError(
                INVALID_RETURN_QUANTITY,
                f"Line {line_id}: {qty} units cannot be returned; {available} were fulfilled and not yet returned.",
                lineId=line_id,
                requested=qty,
                available=available,
            )
    return merged


def check_refund_quantities(
    lines: Mapping[str, LineState], requested: Sequence[tuple[str, int]], field: str = "lines"
) -> dict[str, int]:
    """A line refund covers at most the units not refunded yet (INVALID_REFUND_QUANTITY)."""
    merged = _requested(lines, requested, field)
    for line_id, qty in merged.items():
        available = max(0, lines[line_id].quantity - lines[line_id].refunded)
        if qty > available:
            raise FulfillmentError(
                INVALID_REFUND_QUANTITY,
                f"Line {line_id}: {qty} units cannot be refunded; {available} are not refunded yet.",
                lineId=line_id,
                requested=qty,
                available=available,
            )
    return merged


# -- order status effects ------------------------------------------------------------------


def status_after_refund(current: OrderStatus, payment: PaymentStatus) -> OrderStatus | None:
    """Ex5 step 3 [Rec]: once everything captured is refunded the order becomes refunded
    (when its status allows it); otherwise it stays. None: no change."""
    if payment is PaymentStatus.REFUNDED and can_transition(current, OrderStatus.REFUNDED):
        return OrderStatus.REFUNDED
    return None


def status_after_payment(current: OrderStatus, payment: PaymentStatus) -> OrderStatus | None:
    """A pending order whose payment is authorized or paid is confirmed (§2.1)."""
    if payment in (PaymentStatus.AUTHORIZED, PaymentStatus.PAID) and current is OrderStatus.PENDING:
        return OrderStatus.CONFIRMED
    return None


def status_after_fulfillment(
    current: OrderStatus, fulfillment: FulfillmentStatus, *, shipped: bool
) -> OrderStatus | None:
    """confirmed → processing when a fulfilment starts; → shipped once a fulfilment ships;
    shipped → completed when every unit is delivered (§2.1, §3.13)."""
    if fulfillment is FulfillmentStatus.DELIVERED and current is OrderStatus.SHIPPED:
        return OrderStatus.COMPLETED
    if shipped and current in (OrderStatus.CONFIRMED, OrderStatus.PROCESSING):
        return OrderStatus.SHIPPED
    if current is OrderStatus.CONFIRMED and fulfillment is not FulfillmentStatus.UNFULFILLED:
        return OrderStatus.PROCESSING
    return None


def return_window_closes(delivered_at: datetime, window_days: int) -> datetime:
    """When self-service returns close: ``window_days`` days after the last delivery
    (requests at or after this instant are RETURN_WINDOW_CLOSED)."""
    return delivered_at + timedelta(days=window_days)
