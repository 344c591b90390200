"""The payment contract additions through the API (gRPC and REST): S5 with a free-text
reason, the transaction id and receipt URL on the payment, and a card that needs 3-D
Secure at save time."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from rcommerce.gen.v1 import payments_pb2 as P
from rcommerce.testing.client import ApiClient, ApiError
from rcommerce.testing.server import LiveServer


@pytest.fixture
async def cart(server: LiveServer) -> str:
    """A cart to pay: CreatePayment refuses a target that does not exist."""
    return (await server.create_cart())[0]


def _customer() -> str:
    return "customers/cus_01" + uuid.uuid4().hex[:24].upper().translate(str.maketrans("ILOU", "JKPV"))


def _create(target: str, card: str = "4242424242424242", **kw: Any) -> P.CreatePaymentRequest:
    return P.CreatePaymentRequest(
        target=target, gateway="test", method_type="card", amount=kw.pop("amount", 9999), currency_code="USD",
        method_data={"number": card}, idempotency_key=uuid.uuid4().hex, **kw,
    )  # fmt: skip


def _refund(name: str, amount: int, reason: str = "") -> P.RefundPaymentRequest:
    return P.RefundPaymentRequest(name=name, amount=amount, reason=reason, idempotency_key=uuid.uuid4().hex)


def _refused(err: pytest.ExceptionInfo[ApiError], client: ApiClient, reason: str, http: int) -> None:
    assert err.value.reason == reason
    if client.transport == "rest":
        assert err.value.http_status == http


async def test_s5_refunds_with_the_exact_figures(client: ApiClient, cart: str) -> None:
    paid = await client.call("CreatePayment", _create(cart))
    assert paid.transaction_id.startswith("ch_test_") and paid.receipt_url.endswith(paid.gateway_reference)
    part = await client.call("RefundPayment", _refund(paid.name, 3000, "requested_by_customer"))
    assert (part.status, part.amount_refunded) == (P.PAYMENT_STATUS_PARTIALLY_REFUNDED, 3000)
    rest = await client.call("RefundPayment", _refund(paid.name, 6999))
    assert (rest.status, rest.amount_refunded) == (P.PAYMENT_STATUS_REFUNDED, 9999)
    with pytest.raises(ApiError) as err:
        await client.call("RefundPayment", _refund(paid.name, 1))
    _refused(err, client, "ALREADY_REFUNDED", 409)
    fresh = await client.call("CreatePayment", _create(cart))
    with pytest.raises(ApiError) as err:
        await client.call("RefundPayment", _refund(fresh.name, 10000))
    _refused(err, client, "REFUND_AMOUNT_INVALID", 400)
    oops = await client.call("RefundPayment", _refund(fresh.name, 100, "oops"))
    assert (oops.status, oops.amount_refunded) == (P.PAYMENT_STATUS_PARTIALLY_REFUNDED, 100)
    last = oops.transactions[-1]
    assert (last.kind, last.reason, last.note) == ("refund", "other", "oops")


async def test_saving_a_card_that_needs_3ds_is_refused_and_nothing_is_saved(client: ApiClient, cart: str) -> None:
    parent = _customer()
    with pytest.raises(ApiError) as err:
        await client.call("SavePaymentMethod", P.SavePaymentMethodRequest(
            parent=parent, gateway="test", method_type="card", method_data={"number": "4000002500003155"},
            idempotency_key=uuid.uuid4().hex))  # fmt: skip
    _refused(err, client, "SAVED_METHOD_REQUIRES_ACTION", 422)
    assert err.value.metadata["gateway"] == "test"
    with pytest.raises(ApiError) as err:
        await client.call("SavePaymentMethod", P.SavePaymentMethodRequest(
            parent=parent, gateway="test", method_type="card", method_data={"number": "4000000000000002"},
            idempotency_key=uuid.uuid4().hex))  # fmt: skip
    _refused(err, client, "CARD_DECLINED", 402)
    listed = await client.call(
        "ListSavedPaymentMethods", P.ListSavedPaymentMethodsRequest(parent=parent, gateway="test")
    )
    assert list(listed.payment_methods) == []
    # The way that works: save it while paying, completing the 3-D Secure action.
    pending = await client.call(
        "CreatePayment", _create(cart, "4000002500003155", save_method=True, customer_id=parent.split("/")[1])
    )
    assert pending.status == P.PAYMENT_STATUS_REQUIRES_ACTION
    paid = await client.call(
        "CompletePaymentAction", P.CompletePaymentActionRequest(name=pending.name, idempotency_key=uuid.uuid4().hex)
    )
    assert paid.status == P.PAYMENT_STATUS_SUCCEEDED and paid.method.token.startswith("pm_test_")
    listed = await client.call(
        "ListSavedPaymentMethods", P.ListSavedPaymentMethodsRequest(parent=parent, gateway="test")
    )
    assert [m.method.token for m in listed.payment_methods] == [paid.method.token]
