"""Rows to messages of payments.proto."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from rcommerce.domain.payments.models import PaymentRow, PaymentTransactionRow
from rcommerce.domain.payments.records import LedgerEntry, PaymentRecord
from rcommerce.gen.v1 import payments_pb2
from rcommerce.plugins.providers import MethodDetails

__all__ = ["method_details", "payment_message", "payment_name", "saved_method_message", "to_details_dict"]

P = payments_pb2


def payment_name(payment_id: str) -> str:
    return f"payments/{payment_id}"


def _ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def to_details_dict(details: MethodDetails | None) -> dict[str, object]:
    if details is None:
        return {}
    return {
        "type": details.method_type, "brand": details.brand, "last4": details.last4,
        "exp_month": details.exp_month, "exp_year": details.exp_year, "token": details.token,
    }  # fmt: skip


def method_details(data: dict[str, object]) -> P.PaymentMethodDetails:
    return P.PaymentMethodDetails(
        type=str(data.get("type", "")), brand=str(data.get("brand", "")), last4=str(data.get("last4", "")),
        exp_month=int(str(data.get("exp_month", 0) or 0)), exp_year=int(str(data.get("exp_year", 0) or 0)),
        token=str(data.get("token", "")),
    )  # fmt: skip


def payment_message(
    row: PaymentRow | PaymentRecord, transactions: Sequence[PaymentTransactionRow | LedgerEntry]
) -> P.Payment:
    message = P.Payment(
        name=payment_name(row.id), target=row.target, gateway=row.gateway, method_type=row.method_type,
        capture_method=row.capture_method, currency_code=row.currency, amount=row.amount,
        amount_authorized=row.amount_authorized, amount_captured=row.amount_captured,
        amount_refunded=row.amount_refunded, status=P.PaymentStatus.Value(f"PAYMENT_STATUS_{row.status.upper()}"),
        gateway_reference=row.gateway_ref, error_code=row.error_code, error_message=row.error_message,
        method=method_details(row.method_details or {"type": row.method_type}), customer_id=row.customer_id,
        create_time=_ts(row.created_at), update_time=_ts(row.updated_at), transaction_id=row.transaction_id,
        receipt_url=row.receipt_url,
    )  # fmt: skip
    if row.status == "requires_action":
        message.action.type = row.action_type
        message.action.data.update({str(k): str(v) for k, v in (row.action_data or {}).items()})
        if row.action_expires_at is not None:
            message.action.expire_time.CopyFrom(_ts(row.action_expires_at))
    for tx in transactions:
        message.transactions.append(
            P.PaymentTransaction(
                id=tx.id,
                kind=tx.kind,
                status=tx.status,
                amount=tx.amount,
                currency_code=tx.currency,
                idempotency_key=tx.idempotency_key,
                reference=tx.reference,
                reason=tx.reason,
                note=tx.note,
                error_code=tx.error_code,
                error_message=tx.error_message,
                create_time=_ts(tx.created_at),
            )
        )
    return message


def saved_method_message(customer_id: str, gateway: str, details: MethodDetails) -> P.SavedPaymentMethod:
    return P.SavedPaymentMethod(
        name=f"customers/{customer_id}/paymentMethods/{details.token}", gateway=gateway,
        method=method_details(to_details_dict(details)),
    )  # fmt: skip
