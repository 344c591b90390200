"""A local stand-in for PayPal's REST API (OAuth 2, Orders v2, Payments v2, webhooks),
written from PayPal's API reference.

- ``POST /v1/oauth2/token``: client credentials with HTTP Basic; bearer tokens expire
  (:meth:`FakePayPal.expire_tokens`), a stale one gets 401 ``invalid_token``.
- Orders: create (``PAYER_ACTION_REQUIRED`` with a ``payer-action`` link; a vaulted
  wallet, ``payment_source.paypal.vault_id``, completes at once), get, capture, authorize.
  The buyer approves on ``GET /checkoutnow?token=<order>`` (``&outcome=declined``: the
  funding source is declined at capture); ``auto_approve`` approves every new order
  right after it is created (stands for the browser round trip).
- Payments: capture an authorization (partial, ``final_capture``), void it, refund a
  capture (partial, capped at what is left).
- ``PayPal-Request-Id`` makes a POST idempotent: a replay returns the first answer.
- Errors use PayPal's shape ``{"name", "message", "debug_id", "details": [{"issue",
  "description"}]}`` with 400, 404 and 422.
- Webhooks: every state change records an event; :meth:`FakePayPal.deliver` posts them to
  ``webhook_url`` signed with PayPal's certificate scheme, with a self-signed certificate
  served at ``/v1/notifications/certs/CERT-fake``.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import socket
import threading
import uuid
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

import httpx
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Obj = dict[str, Any]

ZERO_DECIMAL = {"JPY", "HUF", "TWD"}
CERT_PATH = "/v1/notifications/certs/CERT-fake"


class PayPalError(Exception):
    def __init__(self, status: int, name: str, issue: str, description: str, message: str = "") -> None:
        super().__init__(description)
        self.status = status
        self.body = {
            "name": name, "message": message or description, "debug_id": secrets.token_hex(6),
            "details": [{"issue": issue, "description": description}],
        }  # fmt: skip


def _unprocessable(issue: str, description: str) -> PayPalError:
    return PayPalError(422, "UNPROCESSABLE_ENTITY", issue, description,
                       "The requested action could not be performed, semantically incorrect, or failed business validation.")  # fmt: skip


def _not_found() -> PayPalError:
    return PayPalError(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID",
                       "Specified resource ID does not exist. Please check the resource ID and try again.",
                       "The specified resource does not exist.")  # fmt: skip


def _invalid(issue: str, description: str) -> PayPalError:
    return PayPalError(400, "INVALID_REQUEST", issue, description,
                       "Request is not well-formed, syntactically incorrect, or violates schema.")  # fmt: skip


def make_certificate(now: datetime) -> tuple[rsa.RSAPrivateKey, bytes]:
    """A signing key and a self-signed certificate like PayPal's message verification cert."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.paypal.com")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=30))
        .not_valid_after(now + timedelta(days=365)).sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, cert.public_bytes(serialization.Encoding.PEM)


def sign_delivery(key: rsa.RSAPrivateKey, body: bytes, webhook_id: str, cert_url: str, at: datetime) -> dict[str, str]:
    """The headers PayPal sends with ``body``."""
    tid = str(uuid.uuid4())
    when = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = f"{tid}|{when}|{webhook_id}|{zlib.crc32(body)}".encode()
    sig = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
    return {
        "PAYPAL-TRANSMISSION-ID": tid, "PAYPAL-TRANSMISSION-TIME": when, "PAYPAL-TRANSMISSION-SIG": sig,
        "PAYPAL-CERT-URL": cert_url, "PAYPAL-AUTH-ALGO": "SHA256withRSA", "PAYPAL-AUTH-VERSION": "v2",
        "Content-Type": "application/json",
    }  # fmt: skip


@dataclass
class Recorded:
    method: str
    path: str
    body: Obj
    headers: dict[str, str]


@dataclass
class FakePayPal:
    client_id: str = "client-x"
    client_secret: str = "secret-x"
    webhook_id: str = "WH-ID-1"
    base_url: str = ""
    webhook_url: str = ""
    auto_approve: bool = False
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    requests: list[Recorded] = field(default_factory=list)
    orders: dict[str, Obj] = field(default_factory=dict)
    authorizations: dict[str, Obj] = field(default_factory=dict)
    captures: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    #: Vaulted buyer wallets: id -> "ok" | "declined".
    vault: dict[str, str] = field(default_factory=dict)
    tokens: set[str] = field(default_factory=set)
    token_requests: int = 0
    events: list[Obj] = field(default_factory=list)
    undelivered: list[Obj] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    _replays: dict[tuple[str, str], tuple[int, Obj]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key, self.cert_pem = make_certificate(self.clock())

    @property
    def cert_url(self) -> str:
        return f"{self.base_url}{CERT_PATH}"

    def calls(self, method: str, pattern: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and re.fullmatch(pattern, r.path)]

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def vault_wallet(self, outcome: str = "ok") -> str:
        token = f"{secrets.token_hex(4)}{'ok' if outcome == 'ok' else 'dc'}"
        self.vault[token] = outcome
        return token

    # -- ASGI -----------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status, payload, content_type = self._handle(
            scope["method"], scope["path"], scope["query_string"].decode(), body, headers
        )
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode()), (b"paypal-debug-id", secrets.token_hex(6).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": data})

    def _handle(
        self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Obj | bytes, str]:
        if path == CERT_PATH:
            return 200, self.cert_pem, "application/x-pem-file"
        if path == "/checkoutnow":  # the buyer's browser at PayPal
            q = parse_qs(query)
            self.approve(q.get("token", [""])[0], declined=q.get("outcome", [""])[0] == "declined")
            return 200, {"approved": True}, "application/json"
        if path == "/v1/oauth2/token":
            return self._token(headers, body)
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return (
                401,
                {"error": "invalid_token", "error_description": "Token signature verification failed"},
                "application/json",
            )
        try:
            parsed: Obj = json.loads(body) if body else {}
        except ValueError:
            return (
                400,
                _invalid("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.").body,
                "application/json",
            )
        self.requests.append(Recorded(method, path, parsed, headers))
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, {"name": "INTERNAL_SERVER_ERROR", "message": "An internal server error occurred.",
                            "debug_id": secrets.token_hex(6)}, "application/json"  # fmt: skip
        request_id = headers.get("paypal-request-id", "")
        if method == "POST" and request_id and (path, request_id) in self._replays:
            status, stored = self._replays[(path, request_id)]
            return status, stored, "application/json"
        try:
            status, payload = self._route(method, path, parsed)
        except PayPalError as exc:
            status, payload = exc.status, exc.body
        if method == "POST" and request_id:
            self._replays[(path, request_id)] = (status, payload)
        return status, payload, "application/json"

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, Obj, str]:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if headers.get("authorization") != f"Basic {expected}":
            return (
                401,
                {"error": "invalid_client", "error_description": "Client Authentication failed"},
                "application/json",
            )
        if parse_qs(body.decode()).get("grant_type") != ["client_credentials"]:
            return (
                400,
                {"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"},
                "application/json",
            )
        self.token_requests += 1
        token = f"A21AA{secrets.token_hex(16)}"
        self.tokens.add(token)
        return 200, {"scope": "https://uri.paypal.com/services/payments/payment", "access_token": token,
                     "token_type": "Bearer", "app_id": "APP-80W284485P519543T", "expires_in": 32400,
                     "nonce": secrets.token_hex(8)}, "application/json"  # fmt: skip

    def _route(self, method: str, path: str, body: Obj) -> tuple[int, Obj]:
        parts = path.strip("/").split("/")
        match (method, parts):
            case ("POST", ["v2", "checkout", "orders"]):
                return 201, self._create(body)
            case ("GET", ["v2", "checkout", "orders", order_id]):
                return 200, self._order(order_id)
            case ("POST", ["v2", "checkout", "orders", order_id, ("capture" | "authorize") as step]):
                return 201, self._complete(self._order(order_id), step)
            case ("POST", ["v2", "payments", "authorizations", auth_id, "capture"]):
                return 201, self._capture_authorization(auth_id, body)
            case ("POST", ["v2", "payments", "authorizations", auth_id, "void"]):
                return 200, self._void(auth_id)
            case ("POST", ["v2", "payments", "captures", capture_id, "refund"]):
                return 201, self._refund(capture_id, body)
        raise _not_found()

    # -- money -------------------------------------------------------------------------------
    @staticmethod
    def _parse_money(money: Any, field_name: str) -> tuple[Decimal, str]:
        if not isinstance(money, dict) or not money.get("currency_code") or "value" not in money:
            raise _invalid("MISSING_REQUIRED_PARAMETER", f"A required field / parameter is missing: {field_name}.")
        currency, value = str(money["currency_code"]), str(money["value"])
        if not re.fullmatch(r"\d{1,10}(\.\d{1,2})?", value):
            raise _invalid(
                "INVALID_PARAMETER_SYNTAX", f"The value of {field_name}/value does not conform to the syntax."
            )
        if currency in ZERO_DECIMAL and "." in value:
            raise _unprocessable(
                "DECIMAL_PRECISION", "If the currency supports decimals, only two decimal place precision is supported."
            )
        try:
            return Decimal(value), currency
        except InvalidOperation:
            raise _invalid("INVALID_PARAMETER_SYNTAX", field_name) from None

    @staticmethod
    def _money(value: Decimal, currency: str) -> Obj:
        return {"currency_code": currency, "value": f"{value:.0f}" if currency in ZERO_DECIMAL else f"{value:.2f}"}

    def _now(self) -> str:
        return self.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    # -- orders ------------------------------------------------------------------------------
    def _order(self, order_id: str) -> Obj:
        order = self.orders.get(order_id)
        if order is None:
            raise _not_found()
        return self._public(order)

    @classmethod
    def _public(cls, obj: Any) -> Any:
        """A copy without the fake's private ``_`` keys, at every level."""
        if isinstance(obj, dict):
            return {k: cls._public(v) for k, v in obj.items() if not k.startswith("_")}
        if isinstance(obj, list):
            return [cls._public(v) for v in obj]
        return obj

    def _create(self, body: Obj) -> Obj:
        intent = body.get("intent")
        if intent not in ("CAPTURE", "AUTHORIZE"):
            raise _invalid("INVALID_PARAMETER_VALUE", "The value of a field is invalid: /intent.")
        units = body.get("purchase_units") or []
        if len(units) != 1:
            raise _invalid("MISSING_REQUIRED_PARAMETER", "A required field / parameter is missing: /purchase_units.")
        value, currency = self._parse_money(units[0].get("amount"), "/purchase_units/@reference_id=='default'/amount")
        if value <= 0:
            raise _unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.")
        order_id = secrets.token_hex(8).upper()
        source = (body.get("payment_source") or {}).get("paypal") or {}
        unit = {**units[0], "amount": self._money(value, currency), "payee": {"merchant_id": "FAKEMERCHANT1"},
                "payments": {"captures": [], "authorizations": []}}  # fmt: skip
        order = {
            "id": order_id, "intent": intent, "status": "PAYER_ACTION_REQUIRED", "purchase_units": [unit],
            "payment_source": {"paypal": {k: v for k, v in source.items() if k != "experience_context"}},
            "create_time": self._now(),
            "links": [
                {"href": f"{self.base_url}/v2/checkout/orders/{order_id}", "rel": "self", "method": "GET"},
                {"href": f"{self.base_url}/checkoutnow?token={order_id}", "rel": "payer-action", "method": "GET"},
            ],
            "_declined": False, "_context": source.get("experience_context", {}),
        }  # fmt: skip
        vault_id = source.get("vault_id")
        if vault_id:
            if vault_id not in self.vault:
                raise _unprocessable("INVALID_RESOURCE_ID", "Specified resource ID does not exist.")
            if self.vault[vault_id] != "ok":
                raise _unprocessable(
                    "INSTRUMENT_DECLINED",
                    "The instrument presented was either declined by the processor or bank, or it can't be used for this payment.",
                )
            order["payment_source"]["paypal"]["attributes"] = {"vault": {"id": vault_id, "status": "VAULTED"}}
            order["links"] = order["links"][:1]
            self.orders[order_id] = order
            self._settle(order)
            return self._public(order)
        self.orders[order_id] = order
        response = self._public(order)
        if self.auto_approve:
            self.approve(order_id)
        return response

    def approve(self, order_id: str, *, declined: bool = False) -> None:
        """The buyer logs in at PayPal and approves the order."""
        order = self.orders[order_id]
        if order["status"] != "PAYER_ACTION_REQUIRED":
            return
        order["status"], order["_declined"] = "APPROVED", declined
        order["payment_source"]["paypal"].update(email_address="buyer@example.com", account_id="QYR5Z8XDVJNXQ",
                                                 name={"given_name": "John", "surname": "Doe"})  # fmt: skip
        order["links"] = order["links"][:1]
        self._event("CHECKOUT.ORDER.APPROVED", "checkout-order", self._public(order))

    def _complete(self, order: Obj, step: str) -> Obj:
        stored = self.orders[order["id"]]
        if step.upper() != stored["intent"]:
            raise _unprocessable(
                "ACTION_DOES_NOT_MATCH_INTENT", f"Order was created with an intent to {stored['intent']}."
            )
        if stored["status"] == "COMPLETED":
            raise _unprocessable("ORDER_ALREADY_CAPTURED" if step == "capture" else "ORDER_ALREADY_AUTHORIZED",
                                 "Order already captured. If 'intent=CAPTURE' only one capture per order is allowed.")  # fmt: skip
        if stored["status"] != "APPROVED":
            raise _unprocessable("ORDER_NOT_APPROVED", "Payer has not yet approved the Order for payment. Please redirect the "
                                 "payer to the 'rel':'approve' url returned as part of the HATEOAS links within the Create "
                                 "Order call or provide a valid payment_source in the request.")  # fmt: skip
        if stored["_declined"]:
            raise _unprocessable("INSTRUMENT_DECLINED", "The instrument presented was either declined by the processor or "
                                 "bank, or it can't be used for this payment.")  # fmt: skip
        self._settle(stored)
        return self._public(stored)

    def _settle(self, order: Obj) -> None:
        unit = order["purchase_units"][0]
        amount = unit["amount"]
        related = {"order_id": order["id"]}
        if order["intent"] == "CAPTURE":
            capture = self._new_capture(amount, related, unit.get("custom_id"))
            unit["payments"]["captures"].append(capture)
        else:
            auth = {"id": secrets.token_hex(8).upper(), "status": "CREATED", "amount": amount, "custom_id": unit.get("custom_id"),
                    "expiration_time": (self.clock() + timedelta(days=29)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "create_time": self._now(), "supplementary_data": {"related_ids": related}, "_captured": "0"}  # fmt: skip
            self.authorizations[auth["id"]] = auth
            unit["payments"]["authorizations"].append(auth)
            self._event("PAYMENT.AUTHORIZATION.CREATED", "authorization", self._public(auth))
        order["status"] = "COMPLETED"

    def _new_capture(self, amount: Obj, related: dict[str, str], custom_id: Any) -> Obj:
        capture = {"id": secrets.token_hex(8).upper(), "status": "COMPLETED", "amount": amount, "final_capture": True,
                   "custom_id": custom_id, "seller_protection": {"status": "ELIGIBLE"}, "create_time": self._now(),
                   "supplementary_data": {"related_ids": dict(related)}, "_refunded": "0"}  # fmt: skip
        self.captures[capture["id"]] = capture
        self._event("PAYMENT.CAPTURE.COMPLETED", "capture", self._public(capture))
        return capture

    # -- payments ----------------------------------------------------------------------------
    def _capture_authorization(self, auth_id: str, body: Obj) -> Obj:
        auth = self.authorizations.get(auth_id)
        if auth is None:
            raise _not_found()
        if auth["status"] == "VOIDED":
            raise _unprocessable("AUTHORIZATION_VOIDED", "A voided authorization cannot be captured or reauthorized.")
        if auth["status"] == "CAPTURED":
            raise _unprocessable("AUTHORIZATION_ALREADY_CAPTURED", "Authorization has already been captured.")
        authorized, currency = self._parse_money(auth["amount"], "amount")
        value, _ = self._parse_money(body["amount"], "/amount") if body.get("amount") else (authorized, currency)
        left = authorized - Decimal(auth["_captured"])
        if value > left:
            raise _unprocessable("MAX_CAPTURE_AMOUNT_EXCEEDED", "Capture amount exceeds allowable limit.")
        auth["_captured"] = str(Decimal(auth["_captured"]) + value)
        final = body.get("final_capture", False)
        auth["status"] = "CAPTURED" if final or value == left else "PARTIALLY_CAPTURED"
        related = {**auth["supplementary_data"]["related_ids"], "authorization_id": auth_id}
        capture = self._new_capture(self._money(value, currency), related, auth.get("custom_id"))
        order = self.orders[related["order_id"]]
        order["purchase_units"][0]["payments"]["captures"].append(capture)
        for stored in order["purchase_units"][0]["payments"]["authorizations"]:
            if stored["id"] == auth_id:
                stored.update(status=auth["status"])
        return self._public(capture)

    def _void(self, auth_id: str) -> Obj:
        auth = self.authorizations.get(auth_id)
        if auth is None:
            raise _not_found()
        if auth["status"] in ("CAPTURED", "PARTIALLY_CAPTURED"):
            raise _unprocessable(
                "PREVIOUSLY_CAPTURED", "Authorization has been previously captured and hence cannot be voided."
            )
        if auth["status"] == "VOIDED":
            raise _unprocessable(
                "PREVIOUSLY_VOIDED", "Authorization has been previously voided and hence cannot be voided again."
            )
        auth["status"] = "VOIDED"
        self._event("PAYMENT.AUTHORIZATION.VOIDED", "authorization", self._public(auth))
        return self._public(auth)

    def _refund(self, capture_id: str, body: Obj) -> Obj:
        capture = self.captures.get(capture_id)
        if capture is None:
            raise _not_found()
        captured, currency = self._parse_money(capture["amount"], "amount")
        refunded = Decimal(capture["_refunded"])
        left = captured - refunded
        if left <= 0:
            raise _unprocessable("CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded.")
        value, asked = self._parse_money(body["amount"], "/amount") if body.get("amount") else (left, currency)
        if asked != currency:
            raise _unprocessable("CURRENCY_MISMATCH", "Refund must be in the same currency as the capture.")
        if value > left:
            raise _unprocessable(
                "REFUND_AMOUNT_EXCEEDED",
                "The refund amount must be less than or equal to the capture amount that has not yet been refunded.",
            )
        capture["_refunded"] = str(refunded + value)
        capture["status"] = "REFUNDED" if value == left else "PARTIALLY_REFUNDED"
        refund = {
            "id": secrets.token_hex(8).upper(), "status": "COMPLETED", "amount": self._money(value, currency),
            "custom_id": body.get("custom_id"), "note_to_payer": body.get("note_to_payer"), "create_time": self._now(),
            "seller_payable_breakdown": {"total_refunded_amount": self._money(refunded + value, currency)},
            "supplementary_data": {"related_ids": {**capture["supplementary_data"]["related_ids"], "capture_id": capture_id}},
        }  # fmt: skip
        self.refunds[refund["id"]] = refund
        order = self.orders[capture["supplementary_data"]["related_ids"]["order_id"]]
        for stored in order["purchase_units"][0]["payments"]["captures"]:
            if stored["id"] == capture_id:
                stored.update(status=capture["status"])
        self._event("PAYMENT.CAPTURE.REFUNDED", "refund", self._public(refund))
        return refund

    def dashboard_refund(self, capture_id: str, amount: Obj) -> Obj:
        """The merchant refunds in PayPal's dashboard (only a webhook tells the shop)."""
        return self._refund(capture_id, {"amount": amount})

    # -- webhooks ----------------------------------------------------------------------------
    def _event(self, kind: str, resource_type: str, resource: Obj) -> None:
        event = {"id": f"WH-{secrets.token_hex(8).upper()}", "event_version": "1.0", "create_time": self._now(),
                 "resource_type": resource_type, "resource_version": "2.0", "event_type": kind,
                 "summary": kind.replace(".", " ").title(), "resource": resource}  # fmt: skip
        self.events.append(event)
        self.undelivered.append(event)

    def signed(self, event: Obj, at: datetime | None = None) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(event).encode()
        return body, sign_delivery(self.key, body, self.webhook_id, self.cert_url, at or self.clock())

    async def deliver(self) -> list[tuple[str, int]]:
        """Post the undelivered events to ``webhook_url``; a non-2xx answer keeps one."""
        sent: list[tuple[str, int]] = []
        async with httpx.AsyncClient(timeout=10) as client:
            for event in list(self.undelivered):
                body, headers = self.signed(event)
                response = await client.post(self.webhook_url, content=body, headers=headers)
                sent.append((event["event_type"], response.status_code))
                if 200 <= response.status_code < 300:
                    self.undelivered.remove(event)
        return sent


class RunningFake:
    """Serves an ASGI fake on a free loopback port in a background thread."""

    def __init__(self, app: FakePayPal) -> None:
        self.app = app
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        app.base_url = self.base_url
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningFake:
        self.thread.start()
        started = threading.Event()
        while not self.server.started:
            started.wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
