"""Idempotency keys are compared per caller (``caller_scope`` folded into the request's
hash): customers and publishable keys each have their own, secret keys and the
platform's own calls share one, and a request without a caller hashes as it always did."""

from __future__ import annotations

import hashlib

from rcommerce.auth.principal import ANONYMOUS, Principal, PrincipalKind
from rcommerce.domain.payments.idempotency import caller_scope, request_hash
from rcommerce.gen.v1 import payments_pb2 as P

ANN = Principal(PrincipalKind.CUSTOMER, "customers/cus_ann")
BOB = Principal(PrincipalKind.CUSTOMER, "customers/cus_bob")
STOREFRONT = Principal(PrincipalKind.PUBLISHABLE_KEY, "apiKeys/key_shop")
ADMIN = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_admin")
ERP = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_erp")

REQUEST = P.CreatePaymentRequest(target="orders/ord_1", gateway="test", amount=2500, currency_code="AUD",
                                 idempotency_key="k-1")  # fmt: skip


def test_each_customer_and_storefront_key_has_its_own_scope() -> None:
    assert {caller_scope(p) for p in (ANN, BOB, STOREFRONT)} == {
        "customers/cus_ann", "customers/cus_bob", "apiKeys/key_shop",
    }  # fmt: skip


def test_secret_keys_and_the_platform_share_one_scope() -> None:
    assert caller_scope(ADMIN) == caller_scope(ERP) == caller_scope(None) == caller_scope(ANONYMOUS) == ""


def test_the_same_request_from_another_caller_hashes_differently() -> None:
    hashes = {request_hash("CreatePayment", REQUEST, caller=caller_scope(p)) for p in (ANN, BOB, STOREFRONT, ADMIN)}
    assert len(hashes) == 4
    assert request_hash("CreatePayment", REQUEST, caller="customers/cus_ann") == request_hash(
        "CreatePayment", REQUEST, caller=caller_scope(ANN)
    )


def test_without_a_caller_the_hash_is_the_one_stored_before_scopes() -> None:
    body = P.CreatePaymentRequest()
    body.CopyFrom(REQUEST)
    body.ClearField("idempotency_key")
    legacy = hashlib.sha256(b"CreatePayment\0" + body.SerializeToString(deterministic=True)).hexdigest()
    assert request_hash("CreatePayment", REQUEST) == request_hash("CreatePayment", REQUEST, caller="") == legacy
