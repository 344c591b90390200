"""A local stand-in for the Stripe API, written from Stripe's API reference.

It speaks what the ``stripe`` gateway uses, the way Stripe documents it: form-encoded
bodies with bracketed keys (``metadata[order_id]``, ``expand[]``), ``Authorization: Bearer
sk_...``, the ``Stripe-Version`` header (recorded), ``Idempotency-Key`` (a replay returns
the stored answer with ``Idempotent-Replayed: true``; the same key with other parameters
is a 400 ``idempotency_error``), and Stripe's error shape ``{"error": {"type", "code",
"decline_code", "message", "param", "payment_intent"}}``.

Resources: PaymentMethods (create from card fields, retrieve, attach, detach, list),
Customers (create, search by metadata), PaymentIntents (create with ``confirm``,
retrieve, confirm, capture with ``amount_to_capture``, cancel) and Refunds (capped at what
is left on the charge). Stripe's test cards and ``pm_card_*`` tokens decide the outcome:
a decline is a 402 ``card_error`` and leaves the intent in ``requires_payment_method``;
3-D Secure cards put it in ``requires_action`` until the customer passes the challenge
(:meth:`FakeStripe.authenticate`, or confirming again when ``auto_authenticate`` is on).

Webhook events are recorded for every state change and sent by :meth:`FakeStripe.deliver`
to ``webhook_url``, signed with Stripe's scheme (``Stripe-Signature: t=...,v1=...``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, parse_qsl

import httpx
import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Obj = dict[str, Any]

#: Test card number -> (brand, behaviour). Behaviour: "" succeeds, "3ds_setup" asks for
#: 3-D Secure on session (off session fine once set up), "3ds_always" asks every time
#: (off session declines with authentication_required), "fail_on_charge" attaches but
#: declines, else "code/decline_code" of the decline.
TEST_CARDS: dict[str, tuple[str, str]] = {
    "4242424242424242": ("visa", ""),
    "5555555555554444": ("mastercard", ""),
    "4000000000000002": ("visa", "card_declined/generic_decline"),
    "4000000000009995": ("visa", "card_declined/insufficient_funds"),
    "4000000000000069": ("visa", "expired_card/expired_card"),
    "4000000000000127": ("visa", "incorrect_cvc/incorrect_cvc"),
    "4000000000000119": ("visa", "processing_error/processing_error"),
    "4000000000009979": ("visa", "card_declined/stolen_card"),
    "4000002500003155": ("visa", "3ds_setup"),
    "4000002760003184": ("visa", "3ds_always"),
    "4000000000003220": ("visa", "3ds_always"),
    "4000000000000341": ("visa", "fail_on_charge"),
}
#: Stripe's test PaymentMethod tokens and the card each one stands for.
TEST_TOKENS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_authenticationRequiredOnSetup": "4000002500003155",
    "pm_card_authenticationRequired": "4000002760003184",
    "pm_card_threeDSecure2Required": "4000000000003220",
    "pm_card_chargeCustomerFail": "4000000000000341",
}
_MESSAGES = {
    "generic_decline": "Your card was declined.",
    "insufficient_funds": "Your card has insufficient funds.",
    "expired_card": "Your card has expired.",
    "incorrect_cvc": "Your card's security code is incorrect.",
    "processing_error": "An error occurred while processing your card. Try again in a little bit.",
    "authentication_required": "Your card was declined. This transaction requires authentication.",
}
#: Stripe's minimum charge amounts (minor units); others default to 50.
MINIMUMS = {"gbp": 30, "jpy": 50, "hkd": 400, "usd": 50, "eur": 50}
_SEARCH = re.compile(r"^metadata\['([^']+)'\]:'([^']*)'$")


class StripeError(Exception):
    def __init__(self, status: int, error: Obj) -> None:
        super().__init__(error.get("message", ""))
        self.status, self.error = status, error


def _invalid(message: str, param: str = "", code: str = "parameter_invalid") -> StripeError:
    return StripeError(400, {"type": "invalid_request_error", "code": code, "message": message, "param": param})


def _missing(kind: str, ident: str, param: str) -> StripeError:
    return StripeError(
        404, {"type": "invalid_request_error", "code": "resource_missing", "param": param,
              "message": f"No such {kind}: '{ident}'"},
    )  # fmt: skip


def _nest(pairs: list[tuple[str, str]]) -> Obj:
    """Stripe's form encoding: ``a[b]=1`` -> {"a": {"b": "1"}}, ``a[]=x`` -> {"a": ["x"]}."""
    out: Obj = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        target: Any = out
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            nxt = parts[i + 1] if not last else None
            if part == "[]":
                continue
            if last:
                target[part] = value
            elif nxt == "[]":
                target.setdefault(part, []).append(value)
                break
            else:
                target = target.setdefault(part, {})
    return out


def sign(body: bytes, timestamp: int, secret: str) -> str:
    """The ``Stripe-Signature`` header value Stripe sends with ``body`` at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class Recorded:
    method: str
    path: str
    params: Obj
    headers: dict[str, str]


@dataclass
class FakeStripe:
    secret_key: str = "sk_test_x"
    #: Where the fake is served (set by the test), and where it sends webhooks.
    base_url: str = ""
    webhook_url: str = ""
    webhook_secret: str = "whsec_test"
    #: Confirming an intent that waits for 3-D Secure counts as a passed challenge.
    auto_authenticate: bool = False
    clock: Callable[[], int] = field(default=lambda: int(time.time()))
    requests: list[Recorded] = field(default_factory=list)
    payment_methods: dict[str, Obj] = field(default_factory=dict)
    customers: dict[str, Obj] = field(default_factory=dict)
    intents: dict[str, Obj] = field(default_factory=dict)
    charges: dict[str, Obj] = field(default_factory=dict)
    refunds: dict[str, Obj] = field(default_factory=dict)
    events: list[Obj] = field(default_factory=list)
    undelivered: list[Obj] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)
    #: Ids as in the spec's scenarios: ``pm_1``, ``pi_1``, ``ch_1`` (a counter per prefix)
    #: and receipts at ``https://r/<n>``, so S1's exact figures can be asserted.
    spec_ids: bool = False
    _per_prefix: dict[str, int] = field(default_factory=dict)
    _idempotency: dict[str, tuple[str, Obj, int, Obj]] = field(default_factory=dict)
    _counter: int = 0

    def _id(self, prefix: str) -> str:
        if self.spec_ids:
            self._per_prefix[prefix] = self._per_prefix.get(prefix, 0) + 1
            return f"{prefix}_{self._per_prefix[prefix]}"
        self._counter += 1
        return f"{prefix}_{self._counter}{secrets.token_hex(6)}"

    def calls(self, method: str, path: str) -> list[Recorded]:
        """The requests received on ``method path`` (path may end with ``*``)."""
        if path.endswith("*"):
            return [r for r in self.requests if r.method == method and r.path.startswith(path[:-1])]
        return [r for r in self.requests if r.method == method and r.path == path]

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
        status, payload, extra = self._handle(
            scope["method"], scope["path"], scope["query_string"].decode(), body, headers
        )
        data = json.dumps(payload).encode()
        response_headers = [
            (b"content-type", b"application/json"),
            (b"request-id", f"req_{secrets.token_hex(7)}".encode()),
        ]
        response_headers += [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": data})

    def _handle(
        self, method: str, path: str, query: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, Obj, dict[str, str]]:
        if path.startswith("/3ds/"):  # the customer's browser on the challenge page
            result = parse_qs(query).get("result", ["succeed"])[0]
            self.authenticate(path.removeprefix("/3ds/"), ok=result != "fail")
            return 200, {"authenticated": result != "fail"}, {}
        if headers.get("authorization", "") != f"Bearer {self.secret_key}":
            shown = headers.get("authorization", "").removeprefix("Bearer ")[:8]
            return 401, {"error": {"type": "invalid_request_error",
                                   "message": f"Invalid API Key provided: {shown}***"}}, {}  # fmt: skip
        if (
            method == "POST"
            and not headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
            and body
        ):
            return (
                400,
                {"error": {"type": "invalid_request_error", "message": "Invalid request: use form encoding"}},
                {},
            )
        params = _nest(parse_qsl(body.decode() if method == "POST" else query, keep_blank_values=True))
        self.requests.append(Recorded(method, path, params, headers))
        if self.fail_next:
            status = self.fail_next.pop(0)
            return status, {"error": {"type": "api_error", "message": "An unknown error occurred"}}, {}
        key = headers.get("idempotency-key", "")
        if method == "POST" and key:
            stored = self._idempotency.get(key)
            if stored is not None:
                if stored[0] != f"{method} {path}" or stored[1] != params:
                    return 400, {"error": {"type": "idempotency_error", "message": (
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{key}' if you meant to execute a different request."
                    )}}, {}  # fmt: skip
                return stored[2], stored[3], {"idempotent-replayed": "true"}
        try:
            status, payload = 200, self._route(method, path, params)
        except StripeError as exc:
            status, payload = exc.status, {"error": exc.error}
        if method == "POST" and key:
            self._idempotency[key] = (f"{method} {path}", params, status, payload)
        return status, payload, {}

    def _route(self, method: str, path: str, p: Obj) -> Obj:
        parts = path.strip("/").split("/")
        if parts[:1] != ["v1"]:
            raise StripeError(
                404, {"type": "invalid_request_error", "message": f"Unrecognized request URL ({method}: {path})."}
            )
        rest = parts[1:]
        match (method, rest):
            case ("POST", ["payment_methods"]):
                return self._create_pm(p)
            case ("GET", ["payment_methods"]):
                return self._list_pms(p)
            case ("GET", ["payment_methods", pm_id]):
                return self._pm(pm_id)
            case ("POST", ["payment_methods", pm_id, "attach"]):
                return self._attach(pm_id, p)
            case ("POST", ["payment_methods", pm_id, "detach"]):
                pm = self._pm(pm_id)
                if not pm["customer"]:
                    raise _invalid(
                        f"The payment method {pm_id} is not attached to a customer.",
                        code="payment_method_unexpected_state",
                    )
                pm["customer"] = None
                return pm
            case ("POST", ["customers"]):
                customer = {"id": self._id("cus"), "object": "customer", "email": p.get("email"),
                            "metadata": p.get("metadata", {}), "created": self.clock()}  # fmt: skip
                self.customers[customer["id"]] = customer
                return customer
            case ("GET", ["customers", "search"]):
                found = _SEARCH.match(p.get("query", ""))
                if found is None:
                    raise _invalid("Invalid search query.", "query")
                data = [c for c in self.customers.values() if c["metadata"].get(found[1]) == found[2]]
                return {
                    "object": "search_result",
                    "data": data,
                    "has_more": False,
                    "next_page": None,
                    "url": "/v1/customers/search",
                }
            case ("POST", ["payment_intents"]):
                return self._create_intent(p)
            case ("GET", ["payment_intents", pi_id]):
                return self._render(self._intent(pi_id), p)
            case ("POST", ["payment_intents", pi_id, "confirm"]):
                return self._confirm_again(self._intent(pi_id), p)
            case ("POST", ["payment_intents", pi_id, "capture"]):
                return self._capture(self._intent(pi_id), p)
            case ("POST", ["payment_intents", pi_id, "cancel"]):
                return self._cancel(self._intent(pi_id), p)
            case ("POST", ["refunds"]):
                return self._refund(p)
            case ("POST", ["setup_intents"]):
                return self._setup(p)
        raise StripeError(
            404, {"type": "invalid_request_error", "message": f"Unrecognized request URL ({method}: {path})."}
        )

    # -- payment methods ------------------------------------------------------------------
    def _pm(self, pm_id: str) -> Obj:
        pm = self.payment_methods.get(pm_id)
        if pm is None:
            raise _missing("PaymentMethod", pm_id, "payment_method")
        return pm

    def _new_pm(self, number: str, exp_month: int, exp_year: int, name: str = "") -> Obj:
        brand, _ = TEST_CARDS[number]
        pm = {
            "id": self._id("pm"), "object": "payment_method", "type": "card", "customer": None, "created": self.clock(),
            "card": {"brand": brand, "last4": number[-4:], "exp_month": exp_month, "exp_year": exp_year, "funding": "credit"},
            "billing_details": {"name": name or None}, "_number": number,
        }  # fmt: skip
        self.payment_methods[pm["id"]] = pm
        return pm

    def _resolve_pm(self, pm_id: str) -> Obj:
        """A ``pm_card_*`` test token makes a fresh PaymentMethod each time, as at Stripe."""
        if pm_id in TEST_TOKENS:
            return self._new_pm(TEST_TOKENS[pm_id], 12, 2034)
        return self._pm(pm_id)

    def _create_pm(self, p: Obj) -> Obj:
        if p.get("type") != "card":
            raise _invalid("Invalid payment method type: must be card", "type")
        card = p.get("card", {})
        number = str(card.get("number", "")).replace(" ", "")
        if number not in TEST_CARDS:
            raise StripeError(402, {"type": "card_error", "code": "incorrect_number", "param": "number",
                                    "message": "Your card number is incorrect."})  # fmt: skip
        try:
            month, year = int(card.get("exp_month", "")), int(card.get("exp_year", ""))
        except ValueError:
            raise _invalid("Missing required param: card[exp_month].", "card[exp_month]") from None
        if not 1 <= month <= 12:
            raise StripeError(402, {"type": "card_error", "code": "invalid_expiry_month", "param": "exp_month",
                                    "message": "Your card's expiration month is invalid."})  # fmt: skip
        return self._public(self._new_pm(number, month, year, p.get("billing_details", {}).get("name", "")))

    def _attach(self, pm_id: str, p: Obj) -> Obj:
        customer = p.get("customer", "")
        if customer not in self.customers:
            raise _missing("customer", customer, "customer")
        pm = self._resolve_pm(pm_id)
        if pm["customer"] and pm["customer"] != customer:
            raise _invalid(
                "The payment method you provided has already been attached to a customer.",
                code="payment_method_unexpected_state",
            )
        pm["customer"] = customer
        return self._public(pm)

    def _list_pms(self, p: Obj) -> Obj:
        customer = p.get("customer", "")
        if customer and customer not in self.customers:
            raise _missing("customer", customer, "customer")
        data = [self._public(pm) for pm in self.payment_methods.values() if pm["customer"] == customer]
        return {"object": "list", "data": data, "has_more": False, "url": "/v1/payment_methods"}

    @staticmethod
    def _public(obj: Obj) -> Obj:
        return {k: v for k, v in obj.items() if not k.startswith("_")}

    # -- payment intents -------------------------------------------------------------------
    def _intent(self, pi_id: str) -> Obj:
        pi = self.intents.get(pi_id)
        if pi is None:
            raise _missing("payment_intent", pi_id, "intent")
        return pi

    def _render(self, pi: Obj, p: Obj) -> Obj:
        out = self._public(pi)
        expand = p.get("expand", [])
        if "payment_method" in expand and pi["payment_method"]:
            out["payment_method"] = self._public(self.payment_methods[pi["payment_method"]])
        if "latest_charge" in expand and pi["latest_charge"]:
            out["latest_charge"] = dict(self.charges[pi["latest_charge"]])
        return out

    def _event(self, kind: str, obj: Obj) -> None:
        event = {"id": self._id("evt"), "object": "event", "api_version": "2024-06-20", "created": self.clock(),
                 "data": {"object": json.loads(json.dumps(self._public(obj)))}, "livemode": False,
                 "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": kind}  # fmt: skip
        self.events.append(event)
        self.undelivered.append(event)

    def _create_intent(self, p: Obj) -> Obj:
        try:
            amount = int(p.get("amount", ""))
        except ValueError:
            raise _invalid("Missing required param: amount.", "amount", "parameter_missing") from None
        currency = str(p.get("currency", ""))
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise _invalid(
                f"Invalid currency: {currency}. Stripe currencies are three-letter ISO codes in lower case.", "currency"
            )
        if amount < MINIMUMS.get(currency, 50):
            raise _invalid("Amount must be at least the minimum charge amount.", "amount", "amount_too_small")
        if p.get("capture_method", "automatic") not in ("automatic", "automatic_async", "manual"):
            raise _invalid("Invalid capture_method", "capture_method")
        customer = p.get("customer") or None
        if customer is not None and customer not in self.customers:
            raise _missing("customer", customer, "customer")
        pm_id = ""
        if p.get("payment_method"):
            pm = self._resolve_pm(p["payment_method"])
            if pm["customer"] and pm["customer"] != customer:
                raise _invalid(
                    "The provided PaymentMethod was previously attached to a Customer. To use a PaymentMethod that has "
                    "been attached to a Customer, you must pass the Customer's ID in the request.", "payment_method",
                )  # fmt: skip
            pm_id = pm["id"]
        pi_id = self._id("pi")
        pi = {
            "id": pi_id, "object": "payment_intent", "amount": amount, "amount_capturable": 0, "amount_received": 0,
            "currency": currency, "status": "requires_payment_method" if not pm_id else "requires_confirmation",
            "capture_method": p.get("capture_method", "automatic"),
            "confirmation_method": p.get("confirmation_method", "automatic"),
            "client_secret": f"{pi_id}_secret_{secrets.token_hex(8)}", "customer": customer,
            "payment_method": pm_id or None, "latest_charge": None, "last_payment_error": None, "next_action": None,
            "metadata": p.get("metadata", {}), "description": p.get("description"),
            "receipt_email": p.get("receipt_email"), "setup_future_usage": p.get("setup_future_usage"),
            "created": self.clock(), "livemode": False, "canceled_at": None, "cancellation_reason": None,
            "_authenticated": False, "_return_url": p.get("return_url", ""),
        }  # fmt: skip
        self.intents[pi_id] = pi
        self._event("payment_intent.created", pi)
        if p.get("confirm") == "true":
            if not pm_id:
                raise _invalid("You cannot confirm this PaymentIntent because it's missing a payment method.", "payment_method",
                               "payment_intent_unexpected_state")  # fmt: skip
            self._confirm(pi, off_session=p.get("off_session") == "true")
        return self._render(pi, p)

    def _confirm_again(self, pi: Obj, p: Obj) -> Obj:
        if pi["status"] not in ("requires_payment_method", "requires_confirmation", "requires_action"):
            raise _invalid(
                f"This PaymentIntent's status is {pi['status']}, so it cannot be confirmed.",
                code="payment_intent_unexpected_state",
            )
        if p.get("payment_method"):
            pi["payment_method"] = self._resolve_pm(p["payment_method"])["id"]
            pi["_authenticated"] = False
        if not pi["payment_method"]:
            raise _invalid("You cannot confirm this PaymentIntent because it's missing a payment method.",
                           code="payment_intent_unexpected_state")  # fmt: skip
        if pi["status"] == "requires_action" and self.auto_authenticate:
            pi["_authenticated"] = True
        self._confirm(pi, off_session=p.get("off_session") == "true")
        return self._render(pi, p)

    def authenticate(self, pi_id: str, *, ok: bool = True) -> None:
        """The customer passes (or fails) the 3-D Secure challenge of ``pi_id``."""
        pi = self.intents[pi_id]
        if pi["status"] != "requires_action":
            return
        if not ok:
            self._decline(pi, "payment_intent_authentication_failure", "",
                          "We are unable to authenticate your payment method.", raise_=False)  # fmt: skip
            return
        pi["_authenticated"] = True
        if pi["confirmation_method"] == "manual":
            pi["status"], pi["next_action"] = "requires_confirmation", None
        else:
            self._confirm(pi, off_session=False)

    def _decline(self, pi: Obj, code: str, decline_code: str, message: str, *, raise_: bool = True) -> None:
        charge = self._charge(pi, succeeded=False)
        error = {"type": "card_error", "code": code, "message": message, "charge": charge["id"],
                 "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"}  # fmt: skip
        if decline_code:
            error["decline_code"] = decline_code
        pi.update(status="requires_payment_method", next_action=None, last_payment_error=dict(error),
                  latest_charge=charge["id"])  # fmt: skip
        pi["last_payment_error"]["payment_method"] = self._public(self.payment_methods[pi["payment_method"]])
        self._event("payment_intent.payment_failed", pi)
        if raise_:
            raise StripeError(402, {**error, "payment_intent": self._public(pi)})

    def _charge(self, pi: Obj, *, succeeded: bool) -> Obj:
        charge_id = self._id("ch")
        receipt = (
            f"https://r/{charge_id[3:]}" if self.spec_ids else f"https://pay.stripe.com/receipts/{secrets.token_hex(8)}"
        )
        charge = {
            "id": charge_id, "object": "charge", "amount": pi["amount"], "amount_captured": 0, "amount_refunded": 0,
            "captured": False, "currency": pi["currency"], "payment_intent": pi["id"], "refunded": False,
            "status": "succeeded" if succeeded else "failed", "payment_method": pi["payment_method"],
            "receipt_url": receipt, "created": self.clock(),
        }  # fmt: skip
        self.charges[charge["id"]] = charge
        return charge

    def _confirm(self, pi: Obj, *, off_session: bool) -> None:
        pm = self.payment_methods[pi["payment_method"]]
        _, behaviour = TEST_CARDS[pm["_number"]]
        if behaviour in ("3ds_setup", "3ds_always"):
            set_up = behaviour == "3ds_setup" and pm.get("_set_up", False)
            if off_session and not set_up:
                self._decline(
                    pi, "authentication_required", "authentication_required", _MESSAGES["authentication_required"]
                )
            if not off_session and not pi["_authenticated"] and not set_up:
                url = f"/3ds/{pi['id']}"
                pi["status"], pi["last_payment_error"] = "requires_action", None
                if pi["_return_url"]:
                    pi["next_action"] = {"type": "redirect_to_url",
                                         "redirect_to_url": {"url": url, "return_url": pi["_return_url"]}}  # fmt: skip
                else:
                    pi["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect",
                                                                                      "stripe_js": url}}  # fmt: skip
                self._event("payment_intent.requires_action", pi)
                return
        elif behaviour == "fail_on_charge" or "/" in behaviour:
            code, decline_code = behaviour.split("/") if "/" in behaviour else ("card_declined", "generic_decline")
            self._decline(
                pi,
                code,
                decline_code if code == "card_declined" else "",
                _MESSAGES.get(decline_code, "Your card was declined."),
            )
        charge = self._charge(pi, succeeded=True)
        pi.update(latest_charge=charge["id"], next_action=None, last_payment_error=None)
        if pi["setup_future_usage"] and pi["customer"]:
            pm["customer"], pm["_set_up"] = pi["customer"], True
        if pi["capture_method"] == "manual":
            pi.update(status="requires_capture", amount_capturable=pi["amount"])
            self._event("payment_intent.amount_capturable_updated", pi)
        else:
            charge.update(captured=True, amount_captured=pi["amount"])
            pi.update(status="succeeded", amount_received=pi["amount"])
            self._event("payment_intent.succeeded", pi)

    def _capture(self, pi: Obj, p: Obj) -> Obj:
        if pi["status"] != "requires_capture":
            raise _invalid(
                f"This PaymentIntent could not be captured because it has a status of {pi['status']}. Only a PaymentIntent "
                "with one of the following statuses may be captured: requires_capture.", code="payment_intent_unexpected_state",
            )  # fmt: skip
        amount = int(p.get("amount_to_capture", pi["amount_capturable"]))
        if amount > pi["amount_capturable"] or amount < 1:
            raise _invalid(
                f"The amount to capture ({amount}) is greater than the amount capturable ({pi['amount_capturable']}).",
                "amount_to_capture", "amount_too_large",
            )  # fmt: skip
        charge = self.charges[pi["latest_charge"]]
        charge.update(captured=True, amount_captured=amount)
        pi.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self._event("payment_intent.succeeded", pi)
        return self._render(pi, p)

    def _cancel(self, pi: Obj, p: Obj) -> Obj:
        if pi["status"] in ("succeeded", "canceled"):
            raise _invalid(
                f"You cannot cancel this PaymentIntent because it has a status of {pi['status']}. Only a PaymentIntent with "
                "one of the following statuses may be canceled: requires_payment_method, requires_capture, "
                "requires_confirmation, requires_action, processing.", code="payment_intent_unexpected_state",
            )  # fmt: skip
        pi.update(status="canceled", amount_capturable=0, next_action=None, canceled_at=self.clock(),
                  cancellation_reason=p.get("cancellation_reason") or "requested_by_customer")  # fmt: skip
        self._event("payment_intent.canceled", pi)
        return self._render(pi, p)

    # -- setup intents -------------------------------------------------------------------------
    def _setup(self, p: Obj) -> Obj:
        """Save a card for later off-session use: a card check, then attach. Cards that
        ask for 3-D Secure wait in ``requires_action``; decline cards are refused (402)."""
        customer = p.get("customer", "")
        if customer not in self.customers:
            raise _missing("customer", customer, "customer")
        pm = self._resolve_pm(p.get("payment_method", ""))
        seti_id = self._id("seti")
        seti: Obj = {
            "id": seti_id, "object": "setup_intent", "customer": customer, "payment_method": pm["id"],
            "usage": p.get("usage", "off_session"), "status": "requires_confirmation", "next_action": None,
            "last_setup_error": None, "client_secret": f"{seti_id}_secret_{secrets.token_hex(8)}", "created": self.clock(),
        }  # fmt: skip
        if p.get("confirm") == "true":
            _, behaviour = TEST_CARDS[pm["_number"]]
            if "/" in behaviour:
                code, decline_code = behaviour.split("/")
                error = {
                    "type": "card_error",
                    "code": code,
                    "message": _MESSAGES.get(decline_code, "Your card was declined."),
                }
                if code == "card_declined":
                    error["decline_code"] = decline_code
                seti.update(status="requires_payment_method", last_setup_error=error)
                raise StripeError(402, {**error, "setup_intent": seti})
            if behaviour in ("3ds_setup", "3ds_always"):
                seti.update(status="requires_action", next_action={"type": "use_stripe_sdk"})
            else:
                pm["customer"], pm["_set_up"] = customer, True
                seti["status"] = "succeeded"
        if "payment_method" in p.get("expand", []):
            seti["payment_method"] = self._public(pm)
        return seti

    # -- refunds -----------------------------------------------------------------------------
    def _refund(self, p: Obj) -> Obj:
        if p.get("payment_intent"):
            pi = self._intent(p["payment_intent"])
            if pi["status"] != "succeeded" or not pi["latest_charge"]:
                raise _invalid(f"This PaymentIntent ({pi['id']}) does not have a successful charge to refund.",
                               "payment_intent", "charge_not_captured")  # fmt: skip
            charge = self.charges[pi["latest_charge"]]
        elif p.get("charge") in self.charges:
            charge = self.charges[p["charge"]]
        else:
            raise _invalid("One of the following params should be provided for this request: payment_intent or charge.",
                           code="parameter_missing")  # fmt: skip
        reason = p.get("reason")
        if reason is not None and reason not in ("duplicate", "fraudulent", "requested_by_customer"):
            raise _invalid("Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer", "reason")
        left = charge["amount_captured"] - charge["amount_refunded"]
        if left <= 0:
            raise _invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
        amount = int(p.get("amount", left))
        if amount > left:
            raise _invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                "amount",
                "amount_too_large",
            )
        refund = {"id": self._id("re"), "object": "refund", "amount": amount, "charge": charge["id"],
                  "currency": charge["currency"], "payment_intent": charge["payment_intent"], "reason": reason,
                  "status": "succeeded", "metadata": p.get("metadata", {}), "created": self.clock()}  # fmt: skip
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        self._event("charge.refunded", charge)
        return refund

    # -- what a merchant does in the Stripe Dashboard ---------------------------------------
    def dashboard_capture(self, pi_id: str, amount: int | None = None) -> Obj:
        params = {} if amount is None else {"amount_to_capture": str(amount)}
        return self._capture(self._intent(pi_id), params)

    def dashboard_refund(self, pi_id: str, amount: int) -> Obj:
        return self._refund({"payment_intent": pi_id, "amount": str(amount), "reason": "requested_by_customer"})

    # -- webhooks ----------------------------------------------------------------------------
    def signed(self, event: Obj, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(event, indent=2).encode()
        stamp = self.clock() if timestamp is None else timestamp
        return body, {"Stripe-Signature": sign(body, stamp, self.webhook_secret), "Content-Type": "application/json"}

    async def deliver(self, types: tuple[str, ...] = ()) -> list[tuple[str, int]]:
        """Send the undelivered events (of ``types``, or all) to ``webhook_url``, as Stripe
        does; an event answered with a non-2xx status stays undelivered."""
        sent: list[tuple[str, int]] = []
        async with httpx.AsyncClient(timeout=10) as client:
            for event in list(self.undelivered):
                if types and event["type"] not in types:
                    continue
                body, headers = self.signed(event)
                response = await client.post(self.webhook_url, content=body, headers=headers)
                sent.append((event["type"], response.status_code))
                if 200 <= response.status_code < 300:
                    self.undelivered.remove(event)
        return sent


class RunningFake:
    """Serves an ASGI fake on a free loopback port in a background thread."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
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
