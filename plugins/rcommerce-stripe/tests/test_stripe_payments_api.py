"""Payments spec scenarios S1–S5 end to end: a live rcommerce server with the stripe plugin
loaded from its entry point, talking to the local Stripe fake; webhooks are delivered by
the fake to the server's ``POST /v1/payments/webhooks/stripe``. Every test runs over gRPC
and over REST."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_stripe import FakeStripe, RunningFake, sign
from rcommerce_stripe import API_VERSION
from sqlalchemy import select

from rcommerce.clock import FrozenClock
from rcommerce.domain.payments.models import GatewayCustomerRow, PaymentTransactionRow, PaymentWebhookEventRow
from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.databases import matrix, migrated_url
from rcommerce.testing.server import LiveServer, live_server

KEY, WHSEC = "sk_test_x", "whsec_test"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CARD = {"number": "4242424242424242", "exp_month": "12", "exp_year": "2030", "cvc": "123", "name": "John"}


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def stripe(clock: FrozenClock) -> Iterator[FakeStripe]:
    fake = FakeStripe(secret_key=KEY, webhook_secret=WHSEC, clock=lambda: int(clock.now().timestamp()))
    with RunningFake(fake) as running:
        fake.base_url = running.base_url
        yield fake


@pytest.fixture(params=matrix())
def database_name(request: pytest.FixtureRequest) -> str:
    """Each end-to-end test runs on every database of RCOMMERCE_TEST_DATABASES (sqlite by default)."""
    return str(request.param)


@pytest.fixture
async def shop(stripe: FakeStripe, clock: FrozenClock, tmp_path: Path, database_name: str) -> AsyncIterator[LiveServer]:
    settings = {"secret_key": KEY, "webhook_secret": WHSEC, "base_url": stripe.base_url}
    url = await migrated_url(database_name, tmp_path)
    async with live_server(url, clock, plugins={"autoload": True, "enabled": ["stripe"], "stripe": settings}) as live:
        stripe.webhook_url = f"{live.base_url}/v1/payments/webhooks/stripe"
        yield live


@pytest.fixture(params=["grpc", "rest"])
async def api(request: pytest.FixtureRequest, shop: LiveServer) -> AsyncIterator[ApiClient]:
    client = shop.grpc_client(shop.admin_key) if request.param == "grpc" else shop.rest_client(shop.admin_key)
    yield client
    await client.close()


@pytest.fixture
async def cart(shop: LiveServer) -> str:
    """A cart to pay: CreatePayment refuses a target that does not exist."""
    return (await shop.create_cart())[0]


def _payment(target: str, data: dict[str, str], **kw: Any) -> P.CreatePaymentRequest:
    return P.CreatePaymentRequest(
        target=target, gateway="stripe", method_type=kw.pop("method_type", "card"), amount=kw.pop("amount", 9999),
        currency_code="USD", method_data=data, idempotency_key=kw.pop("idempotency_key", uuid.uuid4().hex),
        customer_email="john@example.com", **kw,
    )  # fmt: skip


def _refused(err: pytest.ExceptionInfo[ApiError], reason: str, http: int) -> bool:
    """The reason, and over REST the HTTP status (gRPC carries the status code instead)."""
    return err.value.reason == reason and err.value.http_status in (None, http)


def _key() -> str:
    return uuid.uuid4().hex


async def _process_webhooks(shop: LiveServer) -> list[str]:
    """Run the queued webhook jobs now (the in-process worker may have run some already)."""
    async with shop.app.db.read() as s:
        ids = list(
            await s.scalars(
                select(PaymentWebhookEventRow.id).order_by(
                    PaymentWebhookEventRow.received_at, PaymentWebhookEventRow.id
                )
            )
        )
    return [await shop.app.payments.process_webhook(i) for i in ids]


# -- S1 ---------------------------------------------------------------------------------------
async def test_s1_card_success(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    stripe.spec_ids = True  # pm_1, pi_1, ch_1 and https://r/1 as in the spec
    request = _payment(cart, CARD, description="Order 1001")
    paid = await api.call("CreatePayment", request)
    [tokenize] = stripe.calls("POST", "/v1/payment_methods")
    assert tokenize.params["type"] == "card" and tokenize.params["card"]["number"] == "4242424242424242"
    assert tokenize.params["card"]["exp_month"] == "12" and tokenize.headers["authorization"] == f"Bearer {KEY}"
    [create] = stripe.calls("POST", "/v1/payment_intents")
    p = create.params
    assert (p["amount"], p["currency"], p["confirm"], p["capture_method"]) == ("9999", "usd", "true", "automatic")
    assert p["payment_method"] == stripe.intents[paid.gateway_reference]["payment_method"]
    assert (
        p["metadata"]["target"] == request.target and p["metadata"]["rcommerce_payment_id"] == paid.name.split("/")[1]
    )
    assert create.headers["idempotency-key"] == request.idempotency_key
    assert create.headers["stripe-version"] == API_VERSION
    assert paid.status == P.PAYMENT_STATUS_SUCCEEDED and paid.gateway_reference.startswith("pi_")
    assert (paid.amount_captured, paid.method.brand, paid.method.last4) == (9999, "visa", "4242")
    assert (paid.method.exp_month, paid.method.exp_year) == (12, 2030)
    # S1's exact figures: payment_id, transaction_id, receipt_url, last_four, card_brand, token.
    assert (paid.gateway_reference, paid.transaction_id, paid.receipt_url) == ("pi_1", "ch_1", "https://r/1")
    assert (paid.method.last4, paid.method.brand, paid.method.token) == ("4242", "visa", "pm_1")
    assert p["payment_method"] == "pm_1"
    again = await api.call("GetPayment", P.GetPaymentRequest(name=paid.name))
    assert (again.transaction_id, again.receipt_url) == ("ch_1", "https://r/1"), "stored on the payment"


# -- S2 ---------------------------------------------------------------------------------------
async def test_s2_three_d_secure_then_complete(
    api: ApiClient, stripe: FakeStripe, clock: FrozenClock, cart: str
) -> None:
    request = _payment(
        cart, {"token": "pm_card_authenticationRequiredOnSetup"}, return_url="https://shop.example/return"
    )
    pending = await api.call("CreatePayment", request)
    assert pending.status == P.PAYMENT_STATUS_REQUIRES_ACTION
    assert pending.action.type == "three_d_secure" and pending.action.data["type"] == "redirect_to_url"
    assert pending.action.data["return_url"] == "https://shop.example/return"
    assert pending.action.expire_time.ToDatetime(UTC) == START + timedelta(minutes=30)
    pi = pending.gateway_reference
    # The customer's browser follows the redirect and passes the challenge.
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(stripe.base_url + pending.action.data["redirect_url"])).status_code == 200
    done = await api.call(
        "CompletePaymentAction",
        P.CompletePaymentActionRequest(name=pending.name, action_data={"payment_intent": pi}, idempotency_key=_key()),
    )
    assert len(stripe.calls("POST", f"/v1/payment_intents/{pi}/confirm")) == 1
    assert done.status == P.PAYMENT_STATUS_SUCCEEDED and done.amount_captured == 9999


async def test_s2_action_not_completed_in_time_is_cancelled(
    api: ApiClient, shop: LiveServer, stripe: FakeStripe, clock: FrozenClock, cart: str
) -> None:
    pending = await api.call("CreatePayment", _payment(cart, {"token": "pm_card_threeDSecure2Required"}))
    assert pending.status == P.PAYMENT_STATUS_REQUIRES_ACTION and pending.action.data["client_secret"]
    clock.advance(seconds=30 * 60 + 1)
    # The in-process scheduler may run the sweep first; either way it is expired once.
    assert await shop.app.payments.expire_actions() in (0, 1)
    expired = await api.call("GetPayment", P.GetPaymentRequest(name=pending.name))
    assert expired.status == P.PAYMENT_STATUS_CANCELLED and expired.error_code == "action_expired"
    assert stripe.intents[pending.gateway_reference]["status"] == "canceled"  # released at Stripe too
    with pytest.raises(ApiError) as err:
        await api.call(
            "CompletePaymentAction", P.CompletePaymentActionRequest(name=pending.name, idempotency_key=_key())
        )
    assert err.value.reason == "PAYMENT_ACTION_EXPIRED"


async def test_failed_challenge_fails_the_payment(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    pending = await api.call("CreatePayment", _payment(cart, {"token": "pm_card_threeDSecure2Required"}))
    stripe.authenticate(pending.gateway_reference, ok=False)
    with pytest.raises(ApiError) as err:
        await api.call(
            "CompletePaymentAction", P.CompletePaymentActionRequest(name=pending.name, idempotency_key=_key())
        )
    assert _refused(err, "PAYMENT_DECLINED", 402)
    assert err.value.metadata["declineCode"] == "payment_intent_authentication_failure"


# -- S3 ---------------------------------------------------------------------------------------
async def test_s3_decline_then_idempotent_replay(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    request = _payment(cart, {"token": "pm_card_chargeDeclined"})
    with pytest.raises(ApiError) as err:
        await api.call("CreatePayment", request)
    assert _refused(err, "CARD_DECLINED", 402)
    assert err.value.metadata["declineCode"] == "card_declined" and err.value.metadata["retryAllowed"] == "true"
    hits = len(stripe.requests)
    with pytest.raises(ApiError) as again:
        await api.call("CreatePayment", request)
    assert (again.value.reason, again.value.metadata) == (err.value.reason, err.value.metadata)
    assert len(stripe.requests) == hits, "a replay never reaches Stripe"
    request.amount = 10000
    with pytest.raises(ApiError) as reused:
        await api.call("CreatePayment", request)
    assert _refused(reused, "IDEMPOTENCY_KEY_REUSED", 409)


async def test_s3_successful_replay_returns_the_same_payment(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    request = _payment(cart, {"token": "pm_card_visa"})
    first = await api.call("CreatePayment", request)
    hits = len(stripe.requests)
    assert await api.call("CreatePayment", request) == first
    assert len(stripe.requests) == hits and len(stripe.intents) == 1


@pytest.mark.parametrize(
    ("token", "reason", "code"),
    [
        ("pm_card_chargeDeclinedInsufficientFunds", "INSUFFICIENT_FUNDS", "insufficient_funds"),
        ("pm_card_chargeDeclinedExpiredCard", "EXPIRED_CARD", "expired_card"),
        ("pm_card_chargeDeclinedIncorrectCvc", "INCORRECT_CVC", "incorrect_cvc"),
    ],
)
async def test_decline_codes_reach_the_api(api: ApiClient, token: str, reason: str, code: str, cart: str) -> None:
    with pytest.raises(ApiError) as err:
        await api.call("CreatePayment", _payment(cart, {"token": token}))
    assert (err.value.reason, err.value.metadata["declineCode"]) == (reason, code)


# -- S4 ---------------------------------------------------------------------------------------
async def _post(shop: LiveServer, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.post(f"{shop.base_url}/v1/payments/webhooks/stripe", content=body, headers=headers)


async def test_s4_webhooks_valid_tampered_stale_duplicate(
    api: ApiClient, shop: LiveServer, stripe: FakeStripe, clock: FrozenClock, cart: str
) -> None:
    auth = await api.call("CreatePayment", _payment(cart, {"token": "pm_card_visa"}, capture_method="manual"))
    assert auth.status == P.PAYMENT_STATUS_AUTHORIZED
    # The merchant captures in the Stripe Dashboard; only the webhook tells rcommerce.
    stripe.dashboard_capture(auth.gateway_reference)
    succeeded = next(e for e in stripe.events if e["type"] == "payment_intent.succeeded")
    body, headers = stripe.signed(succeeded)
    one_byte = bytearray(body)
    one_byte[body.index(b"9999")] = ord("8")
    bad = await _post(shop, bytes(one_byte), headers)
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["reason"] == "WEBHOOK_SIGNATURE_INVALID"
    stale = int(clock.now().timestamp()) - 301
    old = await _post(shop, body, {"Stripe-Signature": sign(body, stale, WHSEC)})
    assert old.status_code == 400 and "301 s" in old.json()["error"]["message"]
    assert (await _post(shop, body, {"Stripe-Signature": sign(body, stale + 2, WHSEC)})).status_code == 200
    assert (await _post(shop, body, headers)).json()["duplicate"] is True
    delivered = await stripe.deliver()  # created (ignored), amount_capturable_updated, succeeded (a duplicate now)
    assert [t for t, _ in delivered][-1] == "payment_intent.succeeded" and all(code == 200 for _, code in delivered)
    assert "processed" in await _process_webhooks(shop)
    paid = await api.call("GetPayment", P.GetPaymentRequest(name=auth.name))
    assert paid.status == P.PAYMENT_STATUS_SUCCEEDED and paid.amount_captured == 9999
    async with shop.app.db.read() as s:
        rows = list(
            await s.scalars(select(PaymentWebhookEventRow).where(PaymentWebhookEventRow.event_id == succeeded["id"]))
        )
        moved = list(await s.scalars(select(PaymentTransactionRow).where(
            PaymentTransactionRow.payment_id == auth.name.split("/")[1], PaymentTransactionRow.kind == "webhook")))  # fmt: skip
    assert len(rows) == 1 and len(moved) == 1, "the duplicate delivery changed nothing"


async def test_s4_dashboard_refund_and_unknown_events(
    api: ApiClient, shop: LiveServer, stripe: FakeStripe, cart: str
) -> None:
    paid = await api.call("CreatePayment", _payment(cart, {"token": "pm_card_visa"}))
    stripe.dashboard_refund(paid.gateway_reference, 2500)
    stripe.dashboard_refund(paid.gateway_reference, 500)
    unknown = {"id": "evt_unknown", "object": "event", "type": "balance.available", "created": stripe.clock(),
               "data": {"object": {"object": "balance"}}}  # fmt: skip
    body, headers = stripe.signed(unknown)
    answer = await _post(shop, body, headers)
    assert answer.status_code == 200 and answer.json()["ignored"] is True
    assert all(status == 200 for _, status in await stripe.deliver())
    await _process_webhooks(shop)
    refunded = await api.call("GetPayment", P.GetPaymentRequest(name=paid.name))
    # charge.refunded carries the cumulative total, so order and redelivery do not matter.
    assert refunded.status == P.PAYMENT_STATUS_PARTIALLY_REFUNDED and refunded.amount_refunded == 3000


# -- S5 ---------------------------------------------------------------------------------------
async def test_s5_partial_and_full_refunds(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    paid = await api.call("CreatePayment", _payment(cart, {"token": "pm_card_visa"}))
    name, pi = paid.name, paid.gateway_reference
    part = await api.call("RefundPayment", P.RefundPaymentRequest(name=name, amount=3000, reason="requested_by_customer",
                                                                  idempotency_key=_key()))  # fmt: skip
    [sent] = stripe.calls("POST", "/v1/refunds")
    assert (sent.params["payment_intent"], sent.params["amount"], sent.params["reason"]) == (
        pi,
        "3000",
        "requested_by_customer",
    )
    assert (part.status, part.amount_refunded) == (P.PAYMENT_STATUS_PARTIALLY_REFUNDED, 3000)
    rest = await api.call(
        "RefundPayment", P.RefundPaymentRequest(name=name, amount=6999, reason="other", idempotency_key=_key())
    )
    assert (rest.status, rest.amount_refunded) == (P.PAYMENT_STATUS_REFUNDED, 9999)
    assert (
        stripe.calls("POST", "/v1/refunds")[-1].params["reason"] == "requested_by_customer"
    )  # "other" -> Stripe's default
    with pytest.raises(ApiError) as err:
        await api.call("RefundPayment", P.RefundPaymentRequest(name=name, amount=1, idempotency_key=_key()))
    assert _refused(err, "ALREADY_REFUNDED", 409)
    fresh = await api.call("CreatePayment", _payment(cart, {"token": "pm_card_visa"}))
    hits = len(stripe.requests)
    with pytest.raises(ApiError) as err:
        await api.call("RefundPayment", P.RefundPaymentRequest(name=fresh.name, amount=10000, idempotency_key=_key()))
    assert _refused(err, "REFUND_AMOUNT_INVALID", 400)
    assert len(stripe.requests) == hits, "refused refunds never reach Stripe"
    # Reason "oops" -> sent to Stripe as requested_by_customer; kept here as reason other + note.
    oops = await api.call(
        "RefundPayment", P.RefundPaymentRequest(name=fresh.name, amount=100, reason="oops", idempotency_key=_key())
    )
    sent = stripe.calls("POST", "/v1/refunds")[-1].params
    assert (sent["payment_intent"], sent["amount"], sent["reason"]) == (
        fresh.gateway_reference,
        "100",
        "requested_by_customer",
    )
    assert sent["metadata"]["rcommerce_note"] == "oops"
    assert (oops.status, oops.amount_refunded) == (P.PAYMENT_STATUS_PARTIALLY_REFUNDED, 100)
    assert (oops.transactions[-1].reason, oops.transactions[-1].note) == ("other", "oops")
    assert sum(r["amount"] for r in stripe.refunds.values()) == 9999 + 100


async def test_partial_capture_then_refund(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    auth = await api.call("CreatePayment", _payment(cart, {"token": "pm_card_visa"}, capture_method="manual"))
    captured = await api.call(
        "CapturePayment", P.CapturePaymentRequest(name=auth.name, amount=6000, idempotency_key=_key())
    )
    assert (captured.status, captured.amount_captured) == (P.PAYMENT_STATUS_SUCCEEDED, 6000)
    assert stripe.calls("POST", "/v1/payment_intents/*")[-1].params == {"amount_to_capture": "6000"}
    assert stripe.intents[auth.gateway_reference]["amount_received"] == 6000
    with pytest.raises(ApiError) as err:
        await api.call("RefundPayment", P.RefundPaymentRequest(name=auth.name, amount=6001, idempotency_key=_key()))
    assert err.value.reason == "REFUND_AMOUNT_INVALID"


async def test_void_an_authorization(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    auth = await api.call("CreatePayment", _payment(cart, {"token": "pm_card_visa"}, capture_method="manual"))
    voided = await api.call("VoidPayment", P.VoidPaymentRequest(name=auth.name, idempotency_key=_key()))
    assert voided.status == P.PAYMENT_STATUS_CANCELLED
    assert stripe.intents[auth.gateway_reference]["status"] == "canceled"


# -- saved methods and off-session charges ----------------------------------------------------------
async def test_saved_card_and_off_session_renewal(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    parent = _customer()
    customer_id = parent.split("/")[1]
    saved = await api.call("SavePaymentMethod", P.SavePaymentMethodRequest(
        parent=parent, gateway="stripe", method_type="card", method_data={"token": "pm_card_visa"},
        customer_email="john@example.com", idempotency_key=_key()))  # fmt: skip
    token = saved.name.rsplit("/", 1)[1]
    assert token.startswith("pm_") and saved.method.last4 == "4242"
    [customer] = stripe.customers.values()
    assert customer["metadata"] == {"rcommerce_customer_id": customer_id}
    [setup] = stripe.calls("POST", "/v1/setup_intents")
    assert (setup.params["customer"], setup.params["usage"], setup.params["confirm"]) == (
        customer["id"],
        "off_session",
        "true",
    )
    listed = await api.call(
        "ListSavedPaymentMethods", P.ListSavedPaymentMethodsRequest(parent=parent, gateway="stripe")
    )
    assert [m.name for m in listed.payment_methods] == [saved.name]
    renewal = await api.call("CreatePayment", _payment(cart, {}, method_type="", saved_method_token=token, off_session=True,
                                                       customer_id=customer_id))  # fmt: skip
    assert renewal.status == P.PAYMENT_STATUS_SUCCEEDED
    sent = stripe.calls("POST", "/v1/payment_intents")[-1].params
    assert (sent["off_session"], sent["customer"], sent["payment_method"]) == ("true", customer["id"], token)
    await api.call("DeleteSavedPaymentMethod", P.DeleteSavedPaymentMethodRequest(name=saved.name, gateway="stripe"))
    assert stripe.payment_methods[token]["customer"] is None


def _customer() -> str:
    return "customers/cus_01" + uuid.uuid4().hex[:24].upper().translate(str.maketrans("ILOU", "JKPV"))


async def _save_while_paying(api: ApiClient, stripe: FakeStripe, cart: str, parent: str, token: str) -> str:
    """Pay on session with save_method (3-D Secure passed in the browser); the saved token."""
    request = _payment(cart, {"token": token}, save_method=True, customer_id=parent.split("/")[1],
                       return_url="https://shop.example/return")  # fmt: skip
    pending = await api.call("CreatePayment", request)
    assert pending.status == P.PAYMENT_STATUS_REQUIRES_ACTION
    stripe.authenticate(pending.gateway_reference)
    paid = await api.call(
        "CompletePaymentAction", P.CompletePaymentActionRequest(name=pending.name, idempotency_key=_key())
    )
    assert paid.status == P.PAYMENT_STATUS_SUCCEEDED and paid.method.token.startswith("pm_")
    assert stripe.calls("POST", "/v1/payment_intents")[-1].params["setup_future_usage"] == "off_session"
    return str(paid.method.token)


async def test_card_set_up_on_session_renews_off_session(api: ApiClient, stripe: FakeStripe, cart: str) -> None:
    parent = _customer()
    token = await _save_while_paying(api, stripe, cart, parent, "pm_card_authenticationRequiredOnSetup")
    renewal = await api.call("CreatePayment", _payment(cart, {}, method_type="", saved_method_token=token, off_session=True,
                                                       customer_id=parent.split("/")[1]))  # fmt: skip
    assert renewal.status == P.PAYMENT_STATUS_SUCCEEDED


async def test_off_session_charge_that_needs_the_customer_is_declined(
    api: ApiClient, stripe: FakeStripe, cart: str
) -> None:
    parent = _customer()
    token = await _save_while_paying(api, stripe, cart, parent, "pm_card_authenticationRequired")
    with pytest.raises(ApiError) as err:
        await api.call("CreatePayment", _payment(cart, {}, method_type="", saved_method_token=token,
                                                 off_session=True, customer_id=parent.split("/")[1]))  # fmt: skip
    assert err.value.reason == "PAYMENT_DECLINED" and err.value.metadata["declineCode"] == "authentication_required"


async def test_cards_that_need_authentication_to_be_saved_are_refused(api: ApiClient, stripe: FakeStripe) -> None:
    with pytest.raises(ApiError) as err:
        await api.call("SavePaymentMethod", P.SavePaymentMethodRequest(
            parent=_customer(), gateway="stripe", method_type="card",
            method_data={"token": "pm_card_authenticationRequiredOnSetup"}, idempotency_key=_key()))  # fmt: skip
    assert _refused(err, "SAVED_METHOD_REQUIRES_ACTION", 422) and "authenticate" in err.value.message
    assert err.value.metadata["declineCode"] == "authentication_required"
    with pytest.raises(ApiError) as err:
        await api.call("SavePaymentMethod", P.SavePaymentMethodRequest(
            parent=_customer(), gateway="stripe", method_type="card",
            method_data={"token": "pm_card_chargeDeclined"}, idempotency_key=_key()))  # fmt: skip
    assert _refused(err, "CARD_DECLINED", 402) and err.value.metadata["declineCode"] == "card_declined"


async def test_the_stripe_customer_is_stored_not_searched(
    api: ApiClient, shop: LiveServer, stripe: FakeStripe, cart: str
) -> None:
    parent = _customer()
    customer_id = parent.split("/")[1]

    async def save(token: str) -> P.SavedPaymentMethod:
        return await api.call("SavePaymentMethod", P.SavePaymentMethodRequest(
            parent=parent, gateway="stripe", method_type="card", method_data={"token": token},
            customer_email="john@example.com", idempotency_key=_key()))  # fmt: skip

    first = await save("pm_card_visa")
    [customer] = stripe.customers.values()
    assert len(stripe.calls("GET", "/v1/customers/search")) == 1, "searched once: nothing stored yet"
    async with shop.app.db.read() as s:
        stored = await s.get(GatewayCustomerRow, (customer_id, "stripe"))
    assert stored is not None and stored.gateway_customer_id == customer["id"]
    second = await save("pm_card_mastercard")
    listed = await api.call(
        "ListSavedPaymentMethods", P.ListSavedPaymentMethodsRequest(parent=parent, gateway="stripe")
    )
    assert sorted(m.name for m in listed.payment_methods) == sorted([first.name, second.name])
    token = first.name.rsplit("/", 1)[1]
    owner_reads = len(stripe.calls("GET", f"/v1/payment_methods/{token}"))
    renewal = await api.call("CreatePayment", _payment(cart, {}, method_type="", saved_method_token=token, off_session=True,
                                                       customer_id=customer_id))  # fmt: skip
    assert renewal.status == P.PAYMENT_STATUS_SUCCEEDED
    assert stripe.calls("POST", "/v1/payment_intents")[-1].params["customer"] == customer["id"]
    assert len(stripe.calls("GET", f"/v1/payment_methods/{token}")) == owner_reads, "no owner lookup"
    await api.call("DeleteSavedPaymentMethod", P.DeleteSavedPaymentMethodRequest(name=second.name, gateway="stripe"))
    assert len(stripe.calls("GET", "/v1/customers/search")) == 1 and len(stripe.customers) == 1
