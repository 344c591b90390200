"""PaymentService on every database, the contract additions: the public transaction id
and receipt URL, provider data kept from captures and refunds, the gateway's customer id
stored per (customer, gateway), refusals at save time, free-text refund reasons (S5) and
``async`` webhook verification."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from rcommerce.db import Database
from rcommerce.domain.payments.models import GatewayCustomerRow, PaymentRow
from rcommerce.domain.payments.service import PaymentService, PaymentSettingsView
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.pagination import PageTokens
from rcommerce.plugins.builtin.test_gateway import TestGateway, sign_stripe_style
from rcommerce.plugins.providers import (
    CaptureRequest,
    GatewayError,
    OperationResult,
    RefundRequest,
    WebhookEvent,
    WebhookRequest,
)
from tests.backends._events_db import isolated_database
from tests.backends.test_payments_service import Env, _status, _ulid

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


@pytest.fixture
def env(db: Database) -> Env:
    return Env(db)


def _customer() -> tuple[str, str]:
    customer = f"cus_{_ulid()}"
    return f"customers/{customer}", customer


# -- 1. transaction id and receipt URL ------------------------------------------------------------
async def test_transaction_id_and_receipt_url_are_stored_and_shown(env: Env) -> None:
    paid = await env.create()
    ref = paid.gateway_reference
    assert (
        paid.transaction_id.startswith("ch_test_")
        and paid.receipt_url == f"https://test-gateway.invalid/receipts/{ref}"
    )
    again = await env.service.get_payment(paid.name)
    assert (again.transaction_id, again.receipt_url) == (paid.transaction_id, paid.receipt_url)
    async with env.db.read() as s:
        row = await s.get(PaymentRow, paid.name.split("/")[1])
        assert row is not None and row.transaction_id == paid.transaction_id


async def test_a_manual_capture_sets_the_transaction_id_from_the_capture(env: Env) -> None:
    auth = await env.create(capture="manual")
    assert (auth.status, auth.transaction_id) == (_status("authorized"), "")
    captured = await env.service.capture(P.CapturePaymentRequest(name=auth.name, amount=5000, idempotency_key=_key()))
    assert captured.transaction_id == captured.transactions[-1].reference and captured.transaction_id.startswith("ch_")


# -- 2. provider data of captures and refunds ------------------------------------------------------
class DataReportingGateway(TestGateway):
    """The test gateway reporting provider data from capture and refund, as PayPal does."""

    async def capture(self, request: CaptureRequest) -> OperationResult:
        done = await TestGateway.capture(self, request)
        return replace(done, provider_data={"capture_id": "cap_1", "status": "captured"})

    async def refund(self, request: RefundRequest) -> OperationResult:
        done = await TestGateway.refund(self, request)
        return replace(done, provider_data={"refund_id": "rf_1", "status": "refunded"})


async def test_capture_and_refund_provider_data_is_merged_and_handed_back(env: Env) -> None:
    env.counting.inner = DataReportingGateway(code="counting", display_name="Counting test gateway")
    auth = await env.create(capture="manual")
    await env.service.capture(P.CapturePaymentRequest(name=auth.name, amount=9999, idempotency_key=_key()))
    await env.service.refund(P.RefundPaymentRequest(name=auth.name, amount=100, idempotency_key=_key()))
    sent = env.counting.args["refund"][0][0].payment.provider_data
    authorized = {"intent": auth.gateway_reference, "state": "authorized"}  # what the test gateway reported
    assert sent == authorized | {"capture_id": "cap_1", "status": "captured"}
    await env.service.refund(P.RefundPaymentRequest(name=auth.name, amount=100, idempotency_key=_key()))
    sent = env.counting.args["refund"][0][0].payment.provider_data
    assert sent == authorized | {"capture_id": "cap_1", "status": "refunded", "refund_id": "rf_1"}


# -- 3. gateway customers ----------------------------------------------------------------------------
async def _stored(env: Env, customer: str, gateway: str = "counting") -> str | None:
    async with env.db.read() as s:
        row = await s.get(GatewayCustomerRow, (customer, gateway))
        return row.gateway_customer_id if row is not None else None


async def test_the_gateway_customer_is_stored_and_passed_back(env: Env) -> None:
    parent, customer = _customer()
    save = P.SavePaymentMethodRequest(parent=parent, gateway="counting", method_data={"number": "4242424242424242"})
    saved = await env.service.save_method(replace_key(save))
    first_request = env.counting.args["save_method"][0][0]
    assert first_request.gateway_customer_id == ""  # nothing stored yet
    stored = await _stored(env, customer)
    assert stored is not None and stored.startswith("cus_test_")
    await env.service.save_method(replace_key(save, method_data={"number": "5555555555554444"}))
    assert env.counting.args["save_method"][0][0].gateway_customer_id == stored
    renewal = await env.create(saved_method_token=saved.method.token, off_session=True, customer_id=customer)
    assert renewal.status == _status("succeeded")
    assert env.counting.args["charge_off_session"][0][0].gateway_customer_id == stored
    paying = await env.create(save_method=True, customer_id=customer)
    assert paying.status == _status("succeeded") and env.counting.args["initiate"][0][0].gateway_customer_id == stored


async def test_a_payment_that_saves_the_method_stores_the_gateway_customer(env: Env) -> None:
    _, customer = _customer()
    paid = await env.create(save_method=True, customer_id=customer)
    assert paid.method.token.startswith("pm_test_")
    assert await _stored(env, customer) is not None


async def test_a_changed_gateway_customer_replaces_the_stored_one(env: Env) -> None:
    _, customer = _customer()
    async with env.db.transaction() as s:
        await env.service._remember_gateway_customer(s, customer, "counting", "cus_old")
    async with env.db.transaction() as s:
        await env.service._remember_gateway_customer(s, customer, "counting", "cus_new")
    assert await _stored(env, customer) == "cus_new"
    assert await _stored(env, customer, "other") is None


# -- 4. refusals at save time ------------------------------------------------------------------------
async def test_a_card_needing_3ds_at_save_time_is_refused_with_a_clear_reason(env: Env) -> None:
    parent, customer = _customer()
    key = _key()
    request = P.SavePaymentMethodRequest(
        parent=parent, gateway="counting", method_data={"number": "4000002500003155"}, idempotency_key=key
    )
    with pytest.raises(DomainError) as err:
        await env.service.save_method(request)
    assert err.value.reason.name == "SAVED_METHOD_REQUIRES_ACTION" and err.value.reason.http_status == 422
    assert err.value.metadata["declineCode"] == "authentication_required"
    calls = env.counting.calls["save_method"]
    with pytest.raises(DomainError) as again:
        await env.service.save_method(request)
    assert again.value.reason.name == "SAVED_METHOD_REQUIRES_ACTION", "the refusal is replayed"
    assert env.counting.calls["save_method"] == calls, "a replay never reaches the gateway"
    assert await _stored(env, customer) is None
    listed = await env.service.list_saved(P.ListSavedPaymentMethodsRequest(parent=parent, gateway="counting"))
    assert list(listed.payment_methods) == []


async def test_a_declined_card_at_save_time_is_a_decline(env: Env) -> None:
    parent, _ = _customer()
    request = P.SavePaymentMethodRequest(
        parent=parent, gateway="counting", method_data={"number": "4000000000009995"}, idempotency_key=_key()
    )
    with pytest.raises(DomainError) as err:
        await env.service.save_method(request)
    assert (err.value.reason.name, err.value.reason.http_status) == ("INSUFFICIENT_FUNDS", 402)


# -- 5. S5 free-text reasons -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "reason", "note"),
    [("", "requested_by_customer", ""), ("Duplicate ", "duplicate", ""), ("oops", "other", "oops")],
)
async def test_refund_reasons_are_kept_or_become_other_with_a_note(
    env: Env, given: str, reason: str, note: str
) -> None:
    paid = await env.create()
    done = await env.service.refund(
        P.RefundPaymentRequest(name=paid.name, amount=500, reason=given, idempotency_key=_key())
    )
    last = done.transactions[-1]
    assert (last.kind, last.reason, last.note, last.amount) == ("refund", reason, note, 500)
    sent = env.counting.args["refund"][0][0]
    assert (sent.reason, sent.note) == (reason, note)


# -- 6. async webhook verification ----------------------------------------------------------------
class AsyncVerifyingGateway:
    """The test gateway with ``async def parse_webhook`` (a provider-API verification)."""

    code, display_name = "asyncverify", "Async verifying gateway"

    def __init__(self) -> None:
        self.inner = TestGateway(code="asyncverify", display_name="Async verifying gateway")
        self.verified = 0
        self.unreachable = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def parse_webhook(self, request: WebhookRequest) -> WebhookEvent:
        if self.unreachable:
            raise GatewayError("the verification API did not answer")
        self.verified += 1
        return self.inner.parse_webhook(request)


def _signed(now: datetime, event_id: str, secret: str = "whsec_test") -> tuple[bytes, Mapping[str, str]]:
    body = json.dumps({"id": event_id, "type": "payment_intent.succeeded", "created": int(now.timestamp()),
                       "data": {"object": {"id": "pi_nowhere", "amount_received": 100}}}).encode()  # fmt: skip
    return body, {"stripe-signature": sign_stripe_style(secret, body, int(now.timestamp()))}


async def test_an_async_parse_webhook_is_awaited(env: Env) -> None:
    gateway = AsyncVerifyingGateway()
    service = PaymentService(env.db, env.clock, {"asyncverify": gateway}, PageTokens(b"k" * 32), PaymentSettingsView())  # type: ignore[dict-item]
    event_id = f"evt_async_{uuid.uuid4().hex}"
    body, headers = _signed(env.clock.now(), event_id)
    answer = await service.receive_webhook("asyncverify", body, headers)
    assert answer == {"received": True, "duplicate": False, "eventId": event_id, "ignored": False}
    assert gateway.verified == 1
    bad_body, bad_headers = _signed(env.clock.now(), f"evt_bad_{uuid.uuid4().hex}", secret="whsec_wrong")
    with pytest.raises(DomainError) as err:
        await service.receive_webhook("asyncverify", bad_body, bad_headers)
    assert err.value.reason.name == "WEBHOOK_SIGNATURE_INVALID"
    gateway.unreachable = True
    with pytest.raises(DomainError) as err:
        await service.receive_webhook("asyncverify", *_signed(env.clock.now(), f"evt_x_{uuid.uuid4().hex}"))
    assert err.value.reason.name == "PAYMENT_GATEWAY_ERROR", "the provider redelivers later"


def _key() -> str:
    return uuid.uuid4().hex


def replace_key(request: P.SavePaymentMethodRequest, **changes: Any) -> P.SavePaymentMethodRequest:
    """A copy of ``request`` with a new idempotency key (and ``changes``)."""
    copy = P.SavePaymentMethodRequest()
    copy.CopyFrom(request)
    copy.idempotency_key = _key()
    for name, value in changes.items():
        if isinstance(value, dict):
            getattr(copy, name).clear()
            getattr(copy, name).update(value)
        else:
            setattr(copy, name, value)
    return copy
