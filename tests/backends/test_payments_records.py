"""Payments read and written with Core (rcommerce/domain/payments/records.py) on every
database: a write is seen by the next read, only changed columns are sent, and the payment
comes with its ledger in order."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from rcommerce.db import Database
from rcommerce.domain.payments import records
from rcommerce.domain.payments.models import PaymentRow, PaymentTransactionRow

pytestmark = pytest.mark.backends

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _payment(payment_id: str) -> PaymentRow:
    return PaymentRow(
        id=payment_id, target="carts/cart_x", gateway="test", method_type="card", capture_method="automatic",
        currency="USD", amount=2500, amount_authorized=2500, amount_captured=0, amount_refunded=0,
        status="authorized", status_before_dispute="", gateway_ref="ref", customer_id="", customer_email="",
        action_type="", action_data={}, action_expires_at=None, error_code="", error_message="",
        method_details={"type": "card"}, provider_data={"gateway": {"a": 1}}, transaction_id="", receipt_url="",
        lock_key="", locked_at=None, revision=1, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def _entry(payment_id: str, seq: int) -> PaymentTransactionRow:
    return PaymentTransactionRow(
        id=f"ptx_{uuid.uuid4().hex[:20]}", payment_id=payment_id, seq=seq, kind="initiate", status="succeeded",
        amount=2500, currency="USD", idempotency_key=f"k{seq}", reference="", reason="", note="", error_code="",
        error_message="", created_at=NOW,
    )  # fmt: skip


async def _new_payment(db: Database, entries: int) -> str:
    payment_id = f"pay_{uuid.uuid4().hex[:20]}"
    async with db.transaction() as s:
        s.add(_payment(payment_id))
        await s.flush()
        for seq in range(entries, 0, -1):  # stored out of order: the read orders them
            s.add(_entry(payment_id, seq))
    return payment_id


async def test_a_saved_change_is_what_the_next_read_sees(db: Database) -> None:
    payment_id = await _new_payment(db, 0)
    async with db.transaction() as s:
        record = await records.locked_payment(s, payment_id)
        assert record is not None and record.provider_data == {"gateway": {"a": 1}}
        record.status, record.amount_captured = "succeeded", 2500
        record.provider_data = {"gateway": {"a": 1, "b": 2}}
        record.revision += 1
        await records.save_payment(s, record)
        assert record.changes() == {}
    async with db.read() as s:
        stored = await s.get(PaymentRow, payment_id)
        assert stored is not None
        assert (stored.status, stored.amount_captured, stored.revision) == ("succeeded", 2500, 2)
        assert stored.provider_data == {"gateway": {"a": 1, "b": 2}}
        assert stored.gateway_ref == "ref"


async def test_only_changed_columns_are_sent_and_nothing_when_none_changed(db: Database) -> None:
    payment_id = await _new_payment(db, 0)
    sent: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            sent.append(statement)

    async with db.transaction() as s:
        record = await records.locked_payment(s, payment_id)
        assert record is not None
        event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
        try:
            await records.save_payment(s, record)
            assert sent == []
            record.lock_key = "key-1"
            await records.save_payment(s, record)
        finally:
            event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert len(sent) == 1 and "lock_key" in sent[0] and "status" not in sent[0]


@pytest.mark.parametrize("entries", [0, 3])
async def test_the_locked_payment_comes_with_its_ledger_in_order(db: Database, entries: int) -> None:
    payment_id = await _new_payment(db, entries)
    async with db.transaction() as s:
        found = await records.locked_payment_with_ledger(s, payment_id)
        assert found is not None
        record, ledger = found
        assert record.id == payment_id and record.amount == 2500
        assert [e.seq for e in ledger] == list(range(1, entries + 1))
        assert all(e.payment_id == payment_id and e.kind == "initiate" for e in ledger)
        assert ledger == await records.ledger(s, payment_id)
        assert await records.locked_payment_with_ledger(s, "pay_missing") is None


async def test_a_free_payment_is_locked_in_one_statement_where_updates_return_rows(db: Database) -> None:
    payment_id = await _new_payment(db, 0)
    async with db.transaction() as s:
        if not s.get_bind().dialect.update_returning:
            pytest.skip("MariaDB/MySQL lock with a read and an update")
        record = await records.lock_if_free(s, payment_id, "key-1", NOW)
        assert record is not None and (record.lock_key, record.locked_at) == ("key-1", NOW)
        assert record.changes() == {}
        assert await records.lock_if_free(s, payment_id, "key-2", NOW) is None  # held by key-1
