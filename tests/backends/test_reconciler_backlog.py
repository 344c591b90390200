"""The reconciler's sweeps read their backlog page by page after the last row seen, so
what waits (a void or a capture backing off after gateway errors) or is finished for
good (a void the gateway declined) never hides the work behind it; ``limit`` bounds the
tries per run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from rcommerce.db import Database
from rcommerce.domain.orders.models import OrderRow
from rcommerce.domain.payments.models import PaymentRow, PaymentTransactionRow
from rcommerce.plugins.providers import PaymentOutcome
from tests.backends._checkout_world import ProcessCrash, World, world
from tests.backends._events_db import isolated_database

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """This module's own database: with one try per run, what other tests leave to
    reconcile would be tried first."""
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


@pytest.fixture
async def w(db: Database) -> AsyncIterator[World]:
    async with world(db) as built:
        yield built


async def _orphan(w: World) -> PaymentRow:
    """A checkout whose process died right after the authorization."""
    cart, token = await w.cart(await w.variant(2500))
    with w.crashing("crash_after_authorize"), pytest.raises(ProcessCrash):
        await w.complete(cart, token)
    async with w.db.read() as s:
        payment = await s.scalar(select(PaymentRow).where(PaymentRow.target == cart))
    assert payment is not None and payment.status == "authorized"
    return payment


async def _status(db: Database, payment_id: str) -> str:
    async with db.read() as s:
        payment = await s.get(PaymentRow, payment_id)
        assert payment is not None
        return payment.status


async def _ledger(db: Database, payment_id: str, kind: str) -> list[str]:
    async with db.read() as s:
        return list(
            await s.scalars(
                select(PaymentTransactionRow.status)
                .where(PaymentTransactionRow.payment_id == payment_id, PaymentTransactionRow.kind == kind)
                .order_by(PaymentTransactionRow.created_at, PaymentTransactionRow.id)
            )
        )


async def test_an_orphan_whose_void_keeps_failing_does_not_hide_the_ones_behind_it(w: World, db: Database) -> None:
    first = await _orphan(w)
    w.clock.advance(seconds=1)
    second = await _orphan(w)
    w.clock.advance(seconds=w.reconciler.settings.orphan_timeout_s)

    w.gateway.fail_next("void")
    assert await w.reconciler.reconcile(limit=1) == []  # the oldest is tried: a gateway error
    assert await _ledger(db, first.id, "void") == ["error"]
    # The oldest now waits out gateway_retry_s; the next run reads past it.
    assert await w.reconciler.reconcile(limit=1) == [f"payments/{second.id}"]
    assert await w.reconciler.reconcile(limit=1) == []
    assert await _status(db, first.id) == "authorized"

    w.clock.advance(seconds=w.payments.settings.gateway_retry.base_s)
    assert await w.reconciler.reconcile(limit=1) == [f"payments/{first.id}"]
    assert await _status(db, first.id) == "cancelled"
    assert await _ledger(db, first.id, "void") == ["error", "succeeded"]


async def test_an_orphan_whose_void_was_declined_is_left_alone_and_hides_nothing(w: World, db: Database) -> None:
    first = await _orphan(w)
    w.clock.advance(seconds=1)
    second = await _orphan(w)
    w.clock.advance(seconds=w.reconciler.settings.orphan_timeout_s)
    # The provider cancelled the first authorization on its own: it declines the void.
    w.gateway.intents[first.gateway_ref].status = PaymentOutcome.CANCELLED

    assert await w.reconciler.reconcile(limit=1) == []
    assert await _ledger(db, first.id, "void") == ["failed"]
    assert await w.reconciler.reconcile(limit=1) == [f"payments/{second.id}"]
    w.clock.advance(seconds=w.payments.settings.gateway_retry.cap_s)
    assert await w.reconciler.reconcile() == []
    assert await _ledger(db, first.id, "void") == ["failed"]  # never asked again
    assert await _status(db, first.id) == "authorized"  # for staff to settle with the provider


async def test_limit_bounds_the_tries_of_one_run(w: World, db: Database) -> None:
    orphans = []
    for _ in range(3):
        orphans.append(await _orphan(w))
        w.clock.advance(seconds=1)
    w.clock.advance(seconds=w.reconciler.settings.orphan_timeout_s)
    assert await w.reconciler.reconcile(limit=2) == [f"payments/{p.id}" for p in orphans[:2]]
    assert await w.reconciler.reconcile(limit=2) == [f"payments/{orphans[2].id}"]


async def _placed_with_capture_error(w: World) -> str:
    """A completed checkout whose automatic capture met a gateway error; its payment id."""
    w.gateway.fail_next("capture")
    return (await w.placed())[1]


async def test_a_capture_backing_off_does_not_hide_a_due_one_behind_it(w: World, db: Database) -> None:
    retry = w.payments.settings.gateway_retry.base_s
    first = await _placed_with_capture_error(w)  # error 1 at t
    w.clock.advance(seconds=retry)
    w.gateway.fail_next("capture")
    assert await w.reconciler.resume_captures() == []  # error 2 at t + retry: next at t + 3 * retry
    second = await _placed_with_capture_error(w)  # error 1 at t + retry: next at t + 2 * retry
    w.clock.advance(seconds=retry)
    assert await w.reconciler.resume_captures(limit=1) == [f"payments/{second}"]
    assert await _status(db, first) == "authorized"
    w.clock.advance(seconds=retry)
    assert await w.reconciler.resume_captures(limit=1) == [f"payments/{first}"]
    async with db.read() as s:
        paid = await s.scalar(select(func.count()).select_from(OrderRow).where(OrderRow.payment_status == "paid"))
    assert paid == 2
