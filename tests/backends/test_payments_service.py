"""PaymentService on every database: lifecycle, ledger, idempotency, faults, webhooks,
expiry. The gateways are the built-ins plus a counting gateway registered through the
``rcommerce_payment_gateways`` hook, so the tests can prove what reached a gateway."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from rcommerce import hookimpl
from rcommerce.clock import FrozenClock
from rcommerce.config import PluginsSettings
from rcommerce.db import Database
from rcommerce.domain.payments.models import PaymentRow, PaymentTransactionRow, PaymentWebhookEventRow
from rcommerce.domain.payments.service import WEBHOOK_KIND, PaymentService, PaymentSettingsView
from rcommerce.errors import DomainError
from rcommerce.events.outbox import OutboxEvent
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.jobs.models import JobRow
from rcommerce.jobs.queue import JobQueue
from rcommerce.pagination import PageTokens
from rcommerce.plugins.builtin.test_gateway import TestGateway, sign_stripe_style
from rcommerce.plugins.manager import PluginHost
from rcommerce.plugins.providers import PaymentGateway
from tests.backends._events_db import isolated_database

pytestmark = pytest.mark.backends


class CountingGateway:
    """Wraps a TestGateway and counts every call that reaches it (replays included)."""

    def __init__(self) -> None:
        self.inner = TestGateway(code="counting", display_name="Counting test gateway")
        self.code, self.display_name = self.inner.code, self.inner.display_name
        self.calls: Counter[str] = Counter()
        #: The last arguments each method was called with.
        self.args: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}
        self.hold: asyncio.Event | None = None
        self.entered = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name in ("config", "parse_webhook") or not callable(target):
            return target

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            self.args[name] = (args, kwargs)
            self.entered.set()
            if self.hold is not None:
                await self.hold.wait()
            return await target(*args, **kwargs)

        return counted

    # The Protocol check looks the methods up on the object: declare them.
    def config(self) -> Any:
        return self.inner.config()

    def parse_webhook(self, request: Any) -> Any:
        return self.inner.parse_webhook(request)


for _name in ("initiate", "complete_action", "capture", "void", "refund", "status", "save_method", "list_methods",
              "delete_method", "charge_off_session"):  # fmt: skip
    setattr(CountingGateway, _name, property(lambda self, n=_name: self.__getattr__(n)))


class CountingPlugin:
    rcommerce_requires = ">=0.1,<0.2"

    def __init__(self) -> None:
        self.gateway = CountingGateway()

    @hookimpl
    def rcommerce_payment_gateways(self, config: Any) -> list[PaymentGateway]:
        return [self.gateway]  # type: ignore[list-item]


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """This module's own database: webhooks enqueue jobs (tests/backends/_events_db.py)."""
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


class Env:
    def __init__(self, db: Database) -> None:
        self.clock = FrozenClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
        host = PluginHost(PluginsSettings(autoload=False))
        host.load()
        self.plugin = CountingPlugin()
        host.register(self.plugin, "counting")
        self.gateways = host.collect_providers().payment_gateways
        self.counting = self.plugin.gateway
        self.queue = JobQueue(self.clock)
        self.service = PaymentService(
            db, self.clock, self.gateways, PageTokens(b"k" * 32), PaymentSettingsView(), self.queue
        )
        self.service.register_jobs()
        self.db = db
        self.cart = f"carts/cart_{_ulid()}"

    async def create(self, card: str = "4242424242424242", *, gateway: str = "counting", amount: int = 9999,
                     capture: str = "automatic", key: str | None = None, method: str = "card", **extra: Any) -> P.Payment:  # fmt: skip
        request = P.CreatePaymentRequest(
            target=self.cart, gateway=gateway, method_type=method, amount=amount, currency_code=extra.pop("currency", "USD"),
            capture_method=capture, method_data={"number": card} if method == "card" else {},
            idempotency_key=key or uuid.uuid4().hex, **extra,
        )  # fmt: skip
        return await self.service.create_payment(request)

    async def events(self, payment: P.Payment) -> list[str]:
        async with self.db.read() as s:
            rows = await s.scalars(
                select(OutboxEvent.type).where(OutboxEvent.subject == payment.name).order_by(OutboxEvent.seq)
            )
            return list(rows)


def _ulid() -> str:
    return "01" + uuid.uuid4().hex[:24].upper().replace("I", "J").replace("L", "K").replace("O", "P").replace("U", "V")


@pytest.fixture
def env(db: Database) -> Env:
    return Env(db)


def _status(name: str) -> int:
    return P.PaymentStatus.Value(f"PAYMENT_STATUS_{name.upper()}")


async def test_s1_card_success_is_captured_with_ledger_and_events(env: Env) -> None:
    paid = await env.create()
    assert (paid.status, paid.amount_captured, paid.amount_authorized) == (_status("succeeded"), 9999, 9999)
    assert (paid.method.brand, paid.method.last4) == ("visa", "4242")
    assert [(t.kind, t.status, t.amount) for t in paid.transactions] == [("initiate", "succeeded", 9999)]
    assert await env.events(paid) == ["payment.created", "payment.captured"]


async def test_s5_partial_and_full_refunds(env: Env) -> None:
    paid = await env.create()
    part = await env.service.refund(
        P.RefundPaymentRequest(
            name=paid.name, amount=3000, reason="requested_by_customer", idempotency_key="r1-" + paid.name
        )
    )
    assert (part.status, part.amount_refunded) == (_status("partially_refunded"), 3000)
    rest = await env.service.refund(
        P.RefundPaymentRequest(name=paid.name, amount=6999, idempotency_key="r2-" + paid.name)
    )
    assert (rest.status, rest.amount_refunded) == (_status("refunded"), 9999)
    with pytest.raises(DomainError) as err:
        await env.service.refund(P.RefundPaymentRequest(name=paid.name, amount=1, idempotency_key="r3-" + paid.name))
    assert err.value.reason.name == "ALREADY_REFUNDED" and err.value.reason.http_status == 409
    fresh = await env.create()
    with pytest.raises(DomainError) as err:
        await env.service.refund(
            P.RefundPaymentRequest(name=fresh.name, amount=10000, idempotency_key="r4-" + fresh.name)
        )
    assert err.value.reason.name == "REFUND_AMOUNT_INVALID" and err.value.reason.http_status == 400
    assert env.counting.calls["refund"] == 2
    # Reason "oops": not a known reason, so it is "other" with the text kept as the note.
    oops = await env.service.refund(
        P.RefundPaymentRequest(name=fresh.name, amount=10, reason="oops", idempotency_key="r5-" + fresh.name)
    )
    assert (oops.status, oops.amount_refunded) == (_status("partially_refunded"), 10)
    assert [(t.kind, t.reason, t.note) for t in oops.transactions][-1] == ("refund", "other", "oops")
    sent = env.counting.args["refund"][0][0]
    assert (sent.reason, sent.note, sent.amount) == ("other", "oops", 10)
    assert env.counting.calls["refund"] == 3
    assert await env.events(paid) == ["payment.created", "payment.captured", "payment.refunded", "payment.refunded"]


async def test_retried_capture_and_refund_never_reach_the_gateway_twice(env: Env) -> None:
    auth = await env.create(capture="manual")
    assert auth.status == _status("authorized")
    capture = P.CapturePaymentRequest(name=auth.name, amount=5000, idempotency_key=f"cap-{auth.name}")
    first = await env.service.capture(capture)
    again = await env.service.capture(capture)
    assert again == first and (first.status, first.amount_captured) == (_status("succeeded"), 5000)
    refund = P.RefundPaymentRequest(name=auth.name, amount=2000, idempotency_key=f"ref-{auth.name}")
    r1 = await env.service.refund(refund)
    r2 = await env.service.refund(refund)
    assert r1 == r2 and r1.amount_refunded == 2000
    assert (env.counting.calls["capture"], env.counting.calls["refund"]) == (1, 1)
    with pytest.raises(DomainError) as err:
        await env.service.refund(
            P.RefundPaymentRequest(name=auth.name, amount=2001, idempotency_key=f"ref-{auth.name}")
        )
    assert err.value.reason.name == "IDEMPOTENCY_KEY_REUSED" and err.value.reason.http_status == 409
    async with env.db.read() as s:
        row = await s.get(PaymentRow, auth.name.split("/")[1])
        assert row is not None and row.amount_refunded == 2000


async def test_decline_is_402_recorded_once_and_replayed(env: Env) -> None:
    key = uuid.uuid4().hex
    with pytest.raises(DomainError) as err:
        await env.create("4000000000009995", key=key)
    assert (err.value.reason.name, err.value.reason.http_status) == ("INSUFFICIENT_FUNDS", 402)
    assert err.value.metadata["declineCode"] == "insufficient_funds"
    with pytest.raises(DomainError) as again:
        await env.create("4000000000009995", key=key)
    assert again.value.reason.name == "INSUFFICIENT_FUNDS" and again.value.metadata == err.value.metadata
    assert env.counting.calls["initiate"] == 1
    failed = await env.service.get_payment(err.value.metadata["payment"])
    assert (failed.status, failed.error_code) == (_status("failed"), "insufficient_funds")
    for card, reason in (("4000000000000002", "CARD_DECLINED"), ("4000000000000069", "EXPIRED_CARD")):
        with pytest.raises(DomainError) as other:
            await env.create(card)
        assert other.value.reason.name == reason


async def test_gateway_timeout_leaves_the_payment_consistent_and_retry_is_safe(env: Env) -> None:
    auth = await env.create(capture="manual")
    request = P.CapturePaymentRequest(name=auth.name, idempotency_key=f"cap-{auth.name}")
    env.counting.inner.fail_next("capture")  # refused before the provider acted
    with pytest.raises(DomainError) as err:
        await env.service.capture(request)
    assert (err.value.reason.name, err.value.reason.http_status) == ("PAYMENT_GATEWAY_ERROR", 502)
    still = await env.service.get_payment(auth.name)
    assert still.status == _status("authorized") and still.transactions[-1].status == "error"
    env.clock.advance(seconds=1)
    env.counting.inner.fail_next("capture", after=True)  # the provider captured; the answer was lost
    with pytest.raises(DomainError):
        await env.service.capture(request)
    env.clock.advance(seconds=1)
    done = await env.service.capture(request)
    assert (done.status, done.amount_captured) == (_status("succeeded"), 9999)
    assert env.counting.inner.calls["capture"] == 1  # money moved exactly once at the provider
    assert [t.status for t in done.transactions if t.kind == "capture"] == ["error", "error", "succeeded"]


async def test_create_retried_after_a_gateway_error_reuses_the_payment(env: Env) -> None:
    key = uuid.uuid4().hex
    env.counting.inner.fail_next("initiate", after=True)
    with pytest.raises(DomainError) as err:
        await env.create(key=key)
    assert err.value.reason.name == "PAYMENT_GATEWAY_ERROR"
    paid = await env.create(key=key)
    assert paid.status == _status("succeeded")
    async with env.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(PaymentRow).where(PaymentRow.target == env.cart)) == 1
    assert env.counting.inner.calls["initiate"] == 1


async def test_bad_input_changes_nothing(env: Env) -> None:
    cases = [
        ({"currency": "BRL"}, "PAYMENT_CURRENCY_UNSUPPORTED"),
        ({"amount": 49}, "INVALID_AMOUNT"),
        ({"method": "bank_transfer"}, "INVALID_PAYMENT_METHOD"),
        ({"gateway": "nope"}, "GATEWAY_NOT_FOUND"),
        ({"currency": "usd"}, "VALIDATION_FAILED"),
        ({"key": " "}, "VALIDATION_FAILED"),
    ]
    for kwargs, reason in cases:
        with pytest.raises(DomainError) as err:
            await env.create(**kwargs)
        assert err.value.reason.name == reason, kwargs
    async with env.db.read() as s:
        assert await s.scalar(select(func.count()).select_from(PaymentRow).where(PaymentRow.target == env.cart)) == 0
    assert env.counting.calls["initiate"] == 0


async def test_capture_after_void_and_void_after_capture(env: Env) -> None:
    auth = await env.create(capture="manual")
    voided = await env.service.void(P.VoidPaymentRequest(name=auth.name, idempotency_key=f"void-{auth.name}"))
    assert voided.status == _status("cancelled")
    with pytest.raises(DomainError) as err:
        await env.service.capture(P.CapturePaymentRequest(name=auth.name, idempotency_key=f"cap-{auth.name}"))
    assert (err.value.reason.name, err.value.metadata["status"]) == ("INVALID_PAYMENT_STATUS", "cancelled")
    paid = await env.create()
    with pytest.raises(DomainError) as err:
        await env.service.void(P.VoidPaymentRequest(name=paid.name, idempotency_key=f"void-{paid.name}"))
    assert err.value.reason.name == "INVALID_PAYMENT_STATUS"
    with pytest.raises(DomainError) as err:
        await env.service.capture(P.CapturePaymentRequest(name=paid.name, idempotency_key=f"cap-{paid.name}"))
    assert err.value.reason.name == "ALREADY_CAPTURED"
    assert await env.events(auth) == ["payment.created", "payment.authorized", "payment.voided"]


async def test_a_concurrent_operation_with_another_key_is_refused(env: Env) -> None:
    auth = await env.create(capture="manual")
    env.counting.hold, env.counting.entered = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(
        env.service.capture(P.CapturePaymentRequest(name=auth.name, idempotency_key=f"a-{auth.name}"))
    )
    await env.counting.entered.wait()
    with pytest.raises(DomainError) as err:
        await env.service.capture(P.CapturePaymentRequest(name=auth.name, idempotency_key=f"b-{auth.name}"))
    assert err.value.reason.name == "PAYMENT_OPERATION_IN_PROGRESS"
    with pytest.raises(DomainError) as same:
        await env.service.capture(P.CapturePaymentRequest(name=auth.name, idempotency_key=f"a-{auth.name}"))
    assert same.value.reason.name == "PAYMENT_OPERATION_IN_PROGRESS"
    env.counting.hold.set()
    assert (await first).status == _status("succeeded")
    assert env.counting.calls["capture"] == 1


async def test_s2_three_d_secure_then_complete(env: Env) -> None:
    pending = await env.create("4000002500003155")
    assert pending.status == _status("requires_action") and pending.action.type == "three_d_secure"
    assert pending.action.expire_time.ToDatetime(UTC) == env.clock.now() + timedelta(minutes=30)
    done = await env.service.complete_action(
        P.CompletePaymentActionRequest(name=pending.name, idempotency_key=f"c-{pending.name}")
    )
    assert (done.status, done.amount_captured) == (_status("succeeded"), 9999)
    assert await env.events(pending) == ["payment.created", "payment.action_required", "payment.captured"]


async def test_s2_abandoned_action_expires_and_is_cancelled(env: Env) -> None:
    pending = await env.create("4000002500003155")
    env.clock.advance(seconds=1799)
    assert await env.service.expire_actions() == 0
    env.clock.advance(seconds=1)
    assert await env.service.expire_actions() >= 1
    cancelled = await env.service.get_payment(pending.name)
    assert (cancelled.status, cancelled.error_code) == (_status("cancelled"), "action_expired")
    with pytest.raises(DomainError) as err:
        await env.service.complete_action(
            P.CompletePaymentActionRequest(name=pending.name, idempotency_key=f"c-{pending.name}")
        )
    assert (err.value.reason.name, err.value.reason.http_status) == ("PAYMENT_ACTION_EXPIRED", 410)
    assert (await env.events(pending))[-1] == "payment.expired"


async def test_an_expiry_whose_void_keeps_failing_backs_off_and_hides_nothing(env: Env) -> None:
    env.clock.advance(seconds=3600)
    await env.service.expire_actions(limit=1000)  # what earlier tests left in this module's database
    first = await env.create("4000002500003155")
    env.clock.advance(seconds=1)
    second = await env.create("4000002500003155")
    env.clock.advance(seconds=1800)
    env.counting.inner.fail_next("void")
    assert await env.service.expire_actions(limit=1) == 0  # the oldest's void: a gateway error
    # The oldest waits out gateway_retry_s; the next sweep reads past it.
    assert await env.service.expire_actions(limit=1) == 1
    assert (await env.service.get_payment(second.name)).status == _status("cancelled")
    assert (await env.service.get_payment(first.name)).status == _status("requires_action")
    assert await env.service.expire_actions() == 0
    env.clock.advance(seconds=env.service.settings.gateway_retry.base_s)
    assert await env.service.expire_actions() == 1
    assert (await env.service.get_payment(first.name)).status == _status("cancelled")


async def test_manual_gateway_authorizes_and_staff_capture(env: Env) -> None:
    order = await env.create(gateway="manual", method="bank_transfer", amount=12000, currency="JPY")
    assert (order.status, order.amount_authorized, order.currency_code) == (_status("authorized"), 12000, "JPY")
    paid = await env.service.capture(
        P.CapturePaymentRequest(name=order.name, amount=11000, idempotency_key=f"cap-{order.name}")
    )
    assert (paid.status, paid.amount_captured) == (_status("succeeded"), 11000)


async def test_saved_method_and_off_session_charge(env: Env) -> None:
    parent = f"customers/cus_{_ulid()}"
    customer = parent.split("/")[1]
    saved = await env.service.save_method(
        P.SavePaymentMethodRequest(
            parent=parent,
            gateway="counting",
            method_data={"number": "4242424242424242"},
            idempotency_key=uuid.uuid4().hex,
        )
    )
    listed = await env.service.list_saved(P.ListSavedPaymentMethodsRequest(parent=parent, gateway="counting"))
    assert [m.name for m in listed.payment_methods] == [saved.name] and saved.method.last4 == "4242"
    renewal = await env.create(
        saved_method_token=saved.method.token, off_session=True, customer_id=customer, method="card"
    )
    assert (renewal.status, renewal.amount_captured) == (_status("succeeded"), 9999)
    assert [t.kind for t in renewal.transactions] == ["off_session"]
    await env.service.delete_saved(P.DeleteSavedPaymentMethodRequest(name=saved.name, gateway="counting"))
    with pytest.raises(DomainError) as err:
        await env.service.delete_saved(P.DeleteSavedPaymentMethodRequest(name=saved.name, gateway="counting"))
    assert err.value.reason.name == "SAVED_METHOD_NOT_FOUND"
    with pytest.raises(DomainError) as err:
        await env.service.list_saved(P.ListSavedPaymentMethodsRequest(parent=parent, gateway="manual"))
    assert err.value.reason.name == "GATEWAY_CAPABILITY_UNSUPPORTED"


def _signed(
    type_: str, obj: dict[str, Any], now: datetime, event_id: str | None = None
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(
        {
            "id": event_id or f"evt_{uuid.uuid4().hex}",
            "type": type_,
            "created": int(now.timestamp()),
            "data": {"object": obj},
        }
    ).encode()
    return body, {"stripe-signature": sign_stripe_style("whsec_test", body, int(now.timestamp()))}


async def test_s4_webhooks_are_verified_deduplicated_and_drive_the_payment(env: Env) -> None:
    pending = await env.create("4000002500003155", gateway="test")
    ref = pending.gateway_reference
    body, headers = _signed(
        "payment_intent.succeeded", {"id": ref, "amount_received": 9999}, env.clock.now(), "evt_s4_" + ref
    )
    answer = await env.service.receive_webhook("test", body, headers)
    assert answer == {"received": True, "duplicate": False, "eventId": "evt_s4_" + ref, "ignored": False}
    assert (await env.service.receive_webhook("test", body, headers))["duplicate"] is True
    async with env.db.read() as s:
        hook = await s.scalar(select(PaymentWebhookEventRow).where(PaymentWebhookEventRow.event_id == "evt_s4_" + ref))
        assert hook is not None and hook.status == "received"
        jobs = await s.scalar(
            select(func.count())
            .select_from(JobRow)
            .where(JobRow.kind == WEBHOOK_KIND, JobRow.dedupe_key == f"pwh:{hook.id}")
        )
        assert jobs == 1
    assert await env.service.process_webhook(hook.id) == "processed"
    assert await env.service.process_webhook(hook.id) == "processed"  # a second run changes nothing
    paid = await env.service.get_payment(pending.name)
    assert (paid.status, paid.amount_captured) == (_status("succeeded"), 9999)
    assert [t.kind for t in paid.transactions] == ["initiate", "webhook"]
    # A cumulative refund total, delivered twice under two event ids, refunds once.
    for _ in range(2):
        body, headers = _signed(
            "charge.refunded", {"id": "ch_1", "payment_intent": ref, "amount_refunded": 3000}, env.clock.now()
        )
        await env.service.receive_webhook("test", body, headers)
    async with env.db.read() as s:
        ids = list(
            await s.scalars(
                select(PaymentWebhookEventRow.id).where(
                    PaymentWebhookEventRow.gateway_ref == ref, PaymentWebhookEventRow.status == "received"
                )
            )
        )
    assert sorted([await env.service.process_webhook(i) for i in ids]) == ["ignored", "processed"]
    refunded = await env.service.get_payment(pending.name)
    assert (refunded.status, refunded.amount_refunded) == (_status("partially_refunded"), 3000)


async def test_s4_tampered_stale_unknown_and_unmatched_webhooks(env: Env) -> None:
    now = env.clock.now()
    body, headers = _signed("payment_intent.succeeded", {"id": "pi_x"}, now)
    for bad_body, bad_headers in ((body + b" ", headers), (body, {})):
        with pytest.raises(DomainError) as err:
            await env.service.receive_webhook("test", bad_body, bad_headers)
        assert (err.value.reason.name, err.value.reason.http_status) == ("WEBHOOK_SIGNATURE_INVALID", 400)
    stale_body, stale_headers = _signed("payment_intent.succeeded", {"id": "pi_x"}, now - timedelta(seconds=301))
    with pytest.raises(DomainError):
        await env.service.receive_webhook("test", stale_body, stale_headers)
    with pytest.raises(DomainError) as err:
        await env.service.receive_webhook("nope", body, headers)
    assert err.value.reason.name == "GATEWAY_NOT_FOUND"
    ignored_body, ignored_headers = _signed("customer.created", {"id": "cus_x"}, now)
    assert (await env.service.receive_webhook("test", ignored_body, ignored_headers))["ignored"] is True
    unknown = await env.service.receive_webhook("test", body, headers)
    async with env.db.read() as s:
        hook_id = await s.scalar(
            select(PaymentWebhookEventRow.id).where(PaymentWebhookEventRow.event_id == unknown["eventId"])
        )
    assert hook_id is not None
    assert await env.service.process_webhook(hook_id, last_attempt=False) == "unmatched_retry"
    assert await env.service.process_webhook(hook_id, last_attempt=True) == "unmatched"


async def test_ledger_lists_every_gateway_call(env: Env) -> None:
    auth = await env.create(capture="manual")
    env.clock.advance(seconds=1)
    await env.service.capture(P.CapturePaymentRequest(name=auth.name, idempotency_key=f"c-{auth.name}"))
    env.clock.advance(seconds=1)
    await env.service.refund(P.RefundPaymentRequest(name=auth.name, amount=100, idempotency_key=f"r-{auth.name}"))
    async with env.db.read() as s:
        rows = list(
            await s.scalars(
                select(PaymentTransactionRow)
                .where(PaymentTransactionRow.payment_id == auth.name.split("/")[1])
                .order_by(PaymentTransactionRow.created_at)
            )
        )
    assert [(r.kind, r.status, r.amount) for r in rows] == [
        ("initiate", "succeeded", 9999),
        ("capture", "succeeded", 9999),
        ("refund", "succeeded", 100),
    ]
    listed = await env.service.list_payments(P.ListPaymentsRequest(target=env.cart))
    assert [p.name for p in listed.payments] == [auth.name]


async def test_old_idempotency_keys_are_forgotten(env: Env) -> None:
    key = uuid.uuid4().hex
    first = await env.create(key=key)
    env.clock.advance(days=29)
    await env.service.forget_old_keys()
    assert await env.create(key=key) == first  # still a replay
    env.clock.advance(days=1, seconds=1)
    assert await env.service.forget_old_keys() >= 1
    again = await env.create(key=key)  # a new request now
    assert again.name != first.name and env.counting.calls["initiate"] == 2


async def _locked(env: Env, payment: P.Payment, lock_key: str) -> None:
    """Leave ``payment`` locked for ``lock_key`` now, as an operation that died would."""
    async with env.db.transaction() as s:
        row = await s.get(PaymentRow, payment.name.removeprefix("payments/"), with_for_update=True)
        assert row is not None
        row.lock_key, row.locked_at = lock_key, env.clock.now()


async def test_an_operation_locks_a_free_payment_its_own_lock_or_a_stale_one(env: Env) -> None:
    held = await env.create(capture="manual")
    await _locked(env, held, "other-operation")
    refused = P.CapturePaymentRequest(name=held.name, idempotency_key=f"x-{held.name}")
    with pytest.raises(DomainError) as err:
        await env.service.capture(refused)
    assert err.value.reason.name == "PAYMENT_OPERATION_IN_PROGRESS"
    env.clock.advance(seconds=PaymentSettingsView().lock_timeout_s)  # the lock is stale now: taken over
    taken = await env.service.capture(P.CapturePaymentRequest(name=held.name, idempotency_key=f"y-{held.name}"))
    assert taken.status == _status("succeeded")
    own = await env.create(capture="manual")
    await _locked(env, own, f"z-{own.name}")  # the same key resumes under its own lock
    resumed = await env.service.capture(P.CapturePaymentRequest(name=own.name, idempotency_key=f"z-{own.name}"))
    assert resumed.status == _status("succeeded")
    invalid = await env.create(capture="manual")
    await _locked(env, invalid, "other-operation")  # a refusal of the request comes before the lock
    with pytest.raises(DomainError) as err:
        await env.service.refund(
            P.RefundPaymentRequest(name=invalid.name, amount=1, idempotency_key="r-" + invalid.name)
        )
    assert err.value.reason.name != "PAYMENT_OPERATION_IN_PROGRESS"
    async with env.db.read() as s:
        rows = {r.id: r for r in await s.scalars(select(PaymentRow).where(PaymentRow.id.in_(
            [p.name.removeprefix("payments/") for p in (held, own, invalid)])))}  # fmt: skip
    locks = {pid: (r.lock_key, r.locked_at is None) for pid, r in rows.items()}
    assert locks == {
        held.name.removeprefix("payments/"): ("", True), own.name.removeprefix("payments/"): ("", True),
        invalid.name.removeprefix("payments/"): ("other-operation", False),
    }  # fmt: skip
    assert env.counting.calls["capture"] == 2 and env.counting.calls["refund"] == 0


async def test_the_target_observer_runs_in_the_transaction_that_moves_the_payment(env: Env) -> None:
    auth = await env.create(capture="manual")
    seen: list[tuple[str, str, int, list[str]]] = []

    async def observer(s: Any, target: str) -> None:
        row = await s.get(PaymentRow, auth.name.removeprefix("payments/"), populate_existing=True)
        ledger = await s.scalars(
            select(PaymentTransactionRow.kind).where(PaymentTransactionRow.payment_id == row.id)
            .order_by(PaymentTransactionRow.seq)
        )  # fmt: skip
        seen.append((target, row.status, row.amount_captured, list(ledger)))

    env.service.observe_targets("carts", observer)
    request = P.CapturePaymentRequest(name=auth.name, idempotency_key=f"c-{auth.name}")
    done = await env.service.capture(request)
    assert seen == [(env.cart, "succeeded", 9999, ["initiate", "capture"])]
    assert await env.service.capture(request) == done  # a replay: nothing moved, no second call
    await env.service.refund(P.RefundPaymentRequest(name=auth.name, amount=1000, idempotency_key=f"r-{auth.name}"))
    assert [(status, kinds[-1]) for _, status, _, kinds in seen] == [
        ("succeeded", "capture"), ("partially_refunded", "refund")
    ]  # fmt: skip
    env.service.observe_targets("carts", _never)
    env.service.observe_targets("orders", observer)  # replaces nothing of "carts": called for carts only
    with pytest.raises(AssertionError):
        await env.create()  # created and captured in one step: its target is told


async def _never(s: Any, target: str) -> None:
    raise AssertionError(f"observer called for {target}")


async def test_a_failing_target_observer_leaves_the_payment_as_it_was(env: Env) -> None:
    other = await env.create(capture="manual")

    async def fails(s: Any, target: str) -> None:
        raise RuntimeError("what depends on the payment failed")

    env.service.observe_targets("carts", fails)
    with pytest.raises(RuntimeError):
        await env.service.capture(P.CapturePaymentRequest(name=other.name, idempotency_key=f"c-{other.name}"))
    after = await env.service.get_payment(other.name)  # the capture was not recorded: one transaction
    assert after.status == _status("authorized") and [t.kind for t in after.transactions] == ["initiate"]
    assert await env.events(other) == ["payment.created", "payment.authorized"]
