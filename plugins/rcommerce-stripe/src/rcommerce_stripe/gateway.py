"""The ``stripe`` payment gateway: PaymentIntents over Stripe's REST API.

Every call is form-encoded, authenticated with ``Authorization: Bearer sk_...`` and pinned
to one API version (``Stripe-Version``), so a change of the account's default version
never changes what this code reads. Mutating calls forward the core's idempotency key as
``Idempotency-Key`` (derived keys for the auxiliary calls of one operation), so a retry
after a lost answer replays Stripe's first answer instead of charging twice.

Outcomes: a decline (HTTP 402 ``card_error``, or an intent back in
``requires_payment_method``) is a ``FAILED`` result with Stripe's decline code; a refused
capture, void or refund (HTTP 400) is a ``FAILED`` operation. Authentication errors, 409,
429, 5xx, timeouts and unreadable answers raise :class:`GatewayError`: the outcome is
unknown and the core retries with the same key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx

from rcommerce.plugins.providers import (
    CARD,
    CaptureRequest,
    CompleteActionRequest,
    GatewayConfig,
    GatewayError,
    InitiateRequest,
    MethodDetails,
    MethodNotSaved,
    OffSessionRequest,
    OperationResult,
    OperationStatus,
    PaymentMethodConfig,
    PaymentOutcome,
    PaymentRef,
    PaymentResult,
    RefundRequest,
    RequiredAction,
    SaveMethodRequest,
    VoidRequest,
    WebhookEvent,
    WebhookEventType,
    WebhookRequest,
    WebhookSignatureError,
)

__all__ = ["API_VERSION", "CURRENCIES", "StripeGateway", "parse_signature_header"]

Obj = dict[str, Any]

#: The Stripe API version every request is pinned to (``latest_charge`` on intents).
API_VERSION = "2024-06-20"
#: Currencies offered by default (Stripe supports many more; settings can widen this).
CURRENCIES = ("USD", "EUR", "GBP", "AUD", "CAD", "JPY", "CNY", "HKD", "SGD")
#: Stripe's minimum charge per currency, minor units.
MINIMUMS = {"USD": 50, "EUR": 50, "GBP": 30, "AUD": 50, "CAD": 50, "JPY": 50, "CNY": 400, "HKD": 400, "SGD": 50}
#: Our refund reasons -> Stripe's. Stripe knows no "other": its closest value is
#: requested_by_customer (the free text goes along as ``metadata[rcommerce_note]``).
REFUND_REASONS = {
    "requested_by_customer": "requested_by_customer",
    "duplicate": "duplicate",
    "fraudulent": "fraudulent",
    "other": "requested_by_customer",
}
#: Card fields a storefront may send instead of a token (test mode; raw card data means PCI scope).
_CARD_FIELDS = ("number", "exp_month", "exp_year", "cvc")
_EXPAND = ("payment_method", "latest_charge")
#: Decline codes after which the customer should not try again (Stripe: "do not retry").
_FINAL_DECLINES = frozenset({"fraudulent", "lost_card", "stolen_card", "pickup_card", "restricted_card",
                             "security_violation", "merchant_blacklist", "revocation_of_all_authorizations"})  # fmt: skip


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """``t=1700000000,v1=abc,v1=def,v0=...`` -> (timestamp, [v1 signatures])."""
    timestamp, signatures = None, []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError("the Stripe-Signature header has no timestamp or no v1 signature")
    return timestamp, signatures


def _flatten(params: Mapping[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stripe's form encoding: nested mappings as ``a[b]``, lists as ``a[]``; None dropped."""
    out: list[tuple[str, str]] = []
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else key
        if value is None:
            continue
        if isinstance(value, Mapping):
            out += _flatten(value, name)
        elif isinstance(value, list | tuple):
            out += [(f"{name}[]", str(v)) for v in value]
        elif isinstance(value, bool):
            out.append((name, "true" if value else "false"))
        else:
            out.append((name, str(value)))
    return out


class _Declined(Exception):
    """HTTP 402 or a 400 that refuses the operation (not a transport problem)."""

    def __init__(self, status: int, error: Obj) -> None:
        super().__init__(str(error.get("message", "")))
        self.status, self.error = status, error

    @property
    def code(self) -> str:
        return decline_code(self.error) or "payment_failed"


def decline_code(error: Mapping[str, Any] | None) -> str:
    """Stripe's most specific reason: ``decline_code`` for a generic ``card_declined``
    ("insufficient_funds"), else ``code`` ("expired_card", "card_declined")."""
    if not error:
        return ""
    code, decline = str(error.get("code") or ""), str(error.get("decline_code") or "")
    if code == "card_declined" and decline and decline != "generic_decline":
        return decline
    return code or decline or str(error.get("type") or "")


class StripeGateway:
    """Payments through Stripe PaymentIntents (cards, 3-D Secure, manual capture, refunds,
    saved methods on Stripe Customers and off-session charges)."""

    code = "stripe"
    display_name = "Stripe"

    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str = "",
        base_url: str = "https://api.stripe.com",
        api_version: str = API_VERSION,
        currencies: tuple[str, ...] = CURRENCIES,
        statement_descriptor_suffix: str = "",
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._secret_key = secret_key
        self._webhook_secret = webhook_secret
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self.currencies = currencies
        self.statement_descriptor_suffix = statement_descriptor_suffix
        self.timeout = timeout
        self._transport = transport

    def __repr__(self) -> str:
        return f"StripeGateway(base_url={self.base_url!r}, api_version={self.api_version!r})"

    def config(self) -> GatewayConfig:
        card = PaymentMethodConfig(
            CARD, "Credit/Debit Card", min_amount={c: MINIMUMS.get(c, 50) for c in self.currencies},
            supports_3ds=True, supports_saving=True,
        )  # fmt: skip
        return GatewayConfig(
            currencies=self.currencies, methods=(card,), supports_manual_capture=True, supports_partial_capture=True,
            supports_refunds=True, supports_partial_refunds=True, supports_saved_methods=True,
            supports_off_session=True, supports_webhooks=bool(self._webhook_secret),
        )  # fmt: skip

    # -- HTTP -------------------------------------------------------------------------------
    async def _request(self, method: str, path: str, params: Mapping[str, Any] | None = None, *, key: str = "") -> Obj:
        headers = {"Authorization": f"Bearer {self._secret_key}", "Stripe-Version": self.api_version}
        if key:
            headers["Idempotency-Key"] = key
        form = _flatten(params or {})
        url = f"{self.base_url}{path}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                if method == "GET":
                    response = await client.get(url, params=tuple(form), headers=headers)
                else:
                    response = await client.post(url, data=dict(_group(form)), headers=headers)
        except httpx.HTTPError as exc:
            raise GatewayError(f"could not reach Stripe at {url}: {exc!r}") from exc
        try:
            payload = response.json()
        except ValueError:
            raise GatewayError(f"Stripe answered {response.status_code} with a body that is not JSON") from None
        if not isinstance(payload, dict):
            raise GatewayError(f"Stripe answered {response.status_code} with an unexpected body")
        if response.status_code == 200:
            return payload
        error = payload.get("error") if isinstance(payload.get("error"), dict) else {}
        assert isinstance(error, dict)
        detail = (
            f"Stripe {response.status_code} {error.get('type', '')} {error.get('code', '')}: {error.get('message', '')}"
        )
        if response.status_code in (400, 402, 404) and error.get("type") != "idempotency_error":
            raise _Declined(response.status_code, error)
        # 401/403 (keys), 409 (concurrent use of a key), 429, 5xx, idempotency_error.
        raise GatewayError(detail.strip())

    # -- payments ---------------------------------------------------------------------------
    async def _payment_method(self, data: Mapping[str, str], key: str) -> tuple[str, bool]:
        """The PaymentMethod id to charge, and whether it was just made from card fields
        (a token is used as given)."""
        token = data.get("token") or data.get("payment_method") or ""
        if token:
            return token, False
        if not all(data.get(f) for f in _CARD_FIELDS):
            raise _Declined(
                400, {"code": "payment_method_missing", "message": "send a token or number, exp_month, exp_year, cvc"}
            )
        card = {f: str(data[f]).replace(" ", "") if f == "number" else data[f] for f in _CARD_FIELDS}
        params: Obj = {"type": "card", "card": card}
        if data.get("name"):
            params["billing_details"] = {"name": data["name"]}
        pm = await self._request("POST", "/v1/payment_methods", params, key=f"{key}:pm")
        return str(pm["id"]), True

    async def _owner(self, token: str) -> str | None:
        """The Stripe customer a saved PaymentMethod belongs to (None for one-time tokens)."""
        if not token.startswith("pm_") or token.startswith("pm_card_"):
            return None
        pm = await self._request("GET", f"/v1/payment_methods/{token}")
        owner = pm.get("customer")
        return str(owner) if owner else None

    async def initiate(self, request: InitiateRequest) -> PaymentResult:
        try:
            pm, fresh = await self._payment_method(request.method_data, request.idempotency_key)
            customer = None if fresh else await self._owner(pm)
            if request.save_method and request.customer_id:
                customer = customer or await self._customer(
                    request.customer_id, request.customer_email, create=True, known=request.gateway_customer_id
                )
        except _Declined as exc:
            return _failed(exc)
        params: Obj = {
            "amount": request.amount, "currency": request.currency.lower(), "payment_method": pm,
            "payment_method_types": ["card"], "confirm": True, "confirmation_method": "manual",
            "capture_method": "automatic" if request.capture else "manual", "customer": customer,
            "description": request.description or None, "receipt_email": request.customer_email or None,
            "return_url": request.return_url or None,
            "setup_future_usage": "off_session" if request.save_method and customer else None,
            "statement_descriptor_suffix": self.statement_descriptor_suffix or None,
            "metadata": {**_metadata(request.metadata), "rcommerce_payment_id": request.payment_id},
            "expand": list(_EXPAND),
        }  # fmt: skip
        return await self._intent_call("POST", "/v1/payment_intents", params, request.idempotency_key)

    async def _intent_call(self, method: str, path: str, params: Obj, key: str = "") -> PaymentResult:
        try:
            intent = await self._request(method, path, params, key=key)
        except _Declined as exc:
            return _failed(exc)
        return _result(intent)

    async def complete_action(self, request: CompleteActionRequest) -> PaymentResult:
        """After the customer's 3-D Secure step: confirm the intent again (server-side
        confirmation), or report where it stands if it moved on already."""
        ref = request.payment.gateway_ref
        current = await self._intent_call("GET", f"/v1/payment_intents/{ref}", {"expand": list(_EXPAND)})
        if current.outcome is not PaymentOutcome.REQUIRES_ACTION:
            return current
        path = f"/v1/payment_intents/{ref}/confirm"
        return await self._intent_call("POST", path, {"expand": list(_EXPAND)}, request.idempotency_key)

    async def status(self, payment: PaymentRef) -> PaymentResult:
        return await self._intent_call("GET", f"/v1/payment_intents/{payment.gateway_ref}", {"expand": list(_EXPAND)})

    async def capture(self, request: CaptureRequest) -> OperationResult:
        path = f"/v1/payment_intents/{request.payment.gateway_ref}/capture"
        try:
            intent = await self._request(
                "POST", path, {"amount_to_capture": request.amount}, key=request.idempotency_key
            )
        except _Declined as exc:
            return _refused(exc)
        return OperationResult(
            OperationStatus.SUCCEEDED, int(intent.get("amount_received") or 0), _id(intent.get("latest_charge")),
            provider_data={"payment_intent": intent["id"], "status": intent.get("status", "")},
        )  # fmt: skip

    async def void(self, request: VoidRequest) -> OperationResult:
        path = f"/v1/payment_intents/{request.payment.gateway_ref}/cancel"
        if not request.payment.gateway_ref:  # never reached Stripe: nothing to release
            return OperationResult(OperationStatus.SUCCEEDED)
        try:
            intent = await self._request(
                "POST", path, {"cancellation_reason": "abandoned"}, key=request.idempotency_key
            )
        except _Declined as exc:
            return _refused(exc)
        return OperationResult(
            OperationStatus.SUCCEEDED, 0, str(intent["id"]), provider_data={"status": intent.get("status", "")}
        )

    async def refund(self, request: RefundRequest) -> OperationResult:
        params: Obj = {
            "payment_intent": request.payment.gateway_ref, "amount": request.amount,
            "reason": REFUND_REASONS.get(request.reason, "requested_by_customer"),
            "metadata": {"rcommerce_payment_id": request.payment.payment_id, "rcommerce_refund_id": request.refund_id or None,
                         "rcommerce_note": request.note[:500] or None},
        }  # fmt: skip
        try:
            refund = await self._request("POST", "/v1/refunds", params, key=request.idempotency_key)
        except _Declined as exc:
            return _refused(exc)
        status = {"succeeded": OperationStatus.SUCCEEDED, "pending": OperationStatus.PENDING,
                  "requires_action": OperationStatus.PENDING}.get(str(refund.get("status")), OperationStatus.FAILED)  # fmt: skip
        return OperationResult(
            status, int(refund.get("amount") or 0), str(refund["id"]),
            error_code=str(refund.get("failure_reason") or "") if status is OperationStatus.FAILED else "",
            provider_data={"refund": refund["id"], "status": refund.get("status", "")},
        )  # fmt: skip

    # -- saved methods ----------------------------------------------------------------------
    async def _customer(self, customer_id: str, email: str = "", *, create: bool, known: str = "") -> str | None:
        """The Stripe Customer of our customer: the id the core stored (``known``), else
        one found by metadata search (customers created before the core stored ids), else
        a new one (with an idempotency key derived from our id, so two racing creates give
        one). The core stores what the results report, so the search runs once per customer."""
        if known:
            return known
        query = f"metadata['rcommerce_customer_id']:'{customer_id}'"
        found = await self._request("GET", "/v1/customers/search", {"query": query})
        data = found.get("data") or []
        if data:
            return str(data[0]["id"])
        if not create:
            return None
        params = {"email": email or None, "metadata": {"rcommerce_customer_id": customer_id}}
        created = await self._request("POST", "/v1/customers", params, key=f"rcommerce-customer-{customer_id}")
        return str(created["id"])

    async def save_method(self, request: SaveMethodRequest) -> MethodDetails:
        """Save a card for off-session use with a SetupIntent (``usage=off_session``): Stripe
        checks the card and attaches it to the customer's Stripe Customer. A refusal raises
        :class:`MethodNotSaved`; a card that asks for 3-D Secure on setup (SetupIntent
        ``requires_action``) raises it with ``requires_action=True``: the storefront saves
        it while paying (``save_method`` on the payment), where the action completes."""
        try:
            customer = await self._customer(
                request.customer_id, request.customer_email, create=True, known=request.gateway_customer_id
            )
            pm, _ = await self._payment_method(request.method_data, request.idempotency_key)
            params: Obj = {
                "customer": customer, "payment_method": pm, "confirm": True, "usage": "off_session",
                "payment_method_types": ["card"], "expand": ["payment_method"],
            }  # fmt: skip
            setup = await self._request("POST", "/v1/setup_intents", params, key=f"{request.idempotency_key}:seti")
        except _Declined as exc:
            raise MethodNotSaved(f"Stripe refused to save the card: {exc.code}: {exc}", code=exc.code) from exc
        status = str(setup.get("status") or "")
        if status in ("requires_action", "requires_confirmation"):
            raise MethodNotSaved(
                f"Stripe asks the customer to authenticate this card (SetupIntent {status})", requires_action=True
            )
        if status != "succeeded":
            error = setup.get("last_setup_error") or {}
            code = decline_code(error) or "setup_failed"
            raise MethodNotSaved(f"Stripe could not set the card up ({status}): {code}", code=code)
        details = _details(setup.get("payment_method"))
        if details is None:
            raise GatewayError("Stripe answered the setup without a payment method")
        return replace(details, gateway_customer_id=customer or "")

    async def list_methods(self, customer_id: str, *, gateway_customer_id: str = "") -> list[MethodDetails]:
        try:
            customer = await self._customer(customer_id, create=False, known=gateway_customer_id)
            if customer is None:
                return []
            found = await self._request(
                "GET", "/v1/payment_methods", {"customer": customer, "type": "card", "limit": 100}
            )
        except _Declined as exc:
            raise GatewayError(f"Stripe refused to list methods: {exc.code}: {exc}") from exc
        return [d for d in (_details(pm) for pm in found.get("data") or []) if d is not None]

    async def delete_method(self, customer_id: str, token: str, *, gateway_customer_id: str = "") -> None:
        try:
            customer = await self._customer(customer_id, create=False, known=gateway_customer_id)
            if customer is None or await self._owner(token) != customer:
                raise GatewayError(f"{token} is not a saved method of {customer_id}")
            await self._request("POST", f"/v1/payment_methods/{token}/detach", {})
        except _Declined as exc:
            raise GatewayError(f"Stripe refused to detach {token}: {exc.code}: {exc}") from exc

    async def charge_off_session(self, request: OffSessionRequest) -> PaymentResult:
        """A renewal or dunning charge: ``off_session=true``, so Stripe declines with
        ``authentication_required`` instead of asking an absent customer for 3-D Secure."""
        try:
            customer = request.gateway_customer_id or await self._owner(request.token)
        except _Declined as exc:
            return _failed(exc)
        params: Obj = {
            "amount": request.amount, "currency": request.currency.lower(), "payment_method": request.token,
            "customer": customer, "payment_method_types": ["card"], "confirm": True, "off_session": True,
            "description": request.description or None,
            "metadata": {**_metadata(request.metadata), "rcommerce_payment_id": request.payment_id},
            "expand": list(_EXPAND),
        }  # fmt: skip
        return await self._intent_call("POST", "/v1/payment_intents", params, request.idempotency_key)

    # -- webhooks ---------------------------------------------------------------------------
    def parse_webhook(self, request: WebhookRequest) -> WebhookEvent:
        """Verify ``Stripe-Signature`` (HMAC-SHA256 of ``"{t}.{raw body}"`` with the
        endpoint's ``whsec_`` secret, any ``v1`` may match, ``t`` within the tolerance) and
        map the event."""
        if not self._webhook_secret:
            raise WebhookSignatureError("no webhook_secret is configured for the stripe gateway")
        header = request.headers.get("stripe-signature", "")
        if not header:
            raise WebhookSignatureError("the Stripe-Signature header is missing")
        timestamp, signatures = parse_signature_header(header)
        expected = hmac.new(
            self._webhook_secret.encode(), f"{timestamp}.".encode() + request.body, hashlib.sha256
        ).hexdigest()
        if not any(hmac.compare_digest(expected, s) for s in signatures):
            raise WebhookSignatureError("no v1 signature matches the body")
        age = request.received_at.timestamp() - timestamp
        if abs(age) > request.tolerance_s:
            raise WebhookSignatureError(
                f"the signature timestamp is {int(age)} s away from now (tolerance {request.tolerance_s} s)"
            )
        try:
            event = json.loads(request.body)
            kind, obj = str(event["type"]), event["data"]["object"]
            event_id = str(event["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise WebhookSignatureError(f"the body is not a Stripe event: {exc!r}") from exc
        return _webhook_event(event_id, kind, obj, int(event.get("created") or timestamp))


def _group(pairs: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """httpx form data: repeated keys (``expand[]``) as lists."""
    out: dict[str, str | list[str]] = {}
    for key, value in pairs:
        if key in out:
            existing = out[key]
            out[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[key] = [value] if key.endswith("[]") else value
    return out


def _metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    """Our references as Stripe metadata (keys ≤ 40 chars, values ≤ 500)."""
    return {k[:40]: str(v)[:500] for k, v in list(metadata.items())[:40]}


def _id(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("id") or "")
    return str(value or "")


def _charge(intent: Obj) -> Any:
    """The intent's charge: ``latest_charge`` (expanded or an id) on current API versions,
    else the first of the legacy ``charges.data`` list (older pinned versions, spec S1)."""
    charge = intent.get("latest_charge")
    if charge:
        return charge
    charges = intent.get("charges")
    listed = charges.get("data") if isinstance(charges, Mapping) else None
    return listed[0] if isinstance(listed, list) and listed else None


def _details(pm: Any) -> MethodDetails | None:
    if not isinstance(pm, Mapping):
        return None
    card = pm.get("card") or {}
    return MethodDetails(
        CARD, str(card.get("brand") or ""), str(card.get("last4") or ""), int(card.get("exp_month") or 0),
        int(card.get("exp_year") or 0), str(pm.get("id") or ""),
    )  # fmt: skip


def _result(intent: Obj) -> PaymentResult:
    """A PaymentIntent as a result (statuses per Stripe's PaymentIntent lifecycle)."""
    status = str(intent.get("status", ""))
    charge = _charge(intent)
    data = {
        "payment_intent": intent.get("id", ""), "status": status, "client_secret": intent.get("client_secret", ""),
        "latest_charge": _id(charge), "receipt_url": charge.get("receipt_url", "") if isinstance(charge, Mapping) else "",
        "customer": intent.get("customer") or "",
    }  # fmt: skip
    common: Obj = {
        "gateway_ref": str(intent.get("id", "")),
        "method": _details(intent.get("payment_method")),
        "provider_data": data,
        "gateway_customer_id": _id(intent.get("customer")),
    }
    if status in ("succeeded", "requires_capture"):
        common["transaction_id"] = str(data["latest_charge"])
        common["receipt_url"] = str(data["receipt_url"])
    amount = int(intent.get("amount") or 0)
    if status == "succeeded":
        received = int(intent.get("amount_received") or amount)
        return PaymentResult(PaymentOutcome.CAPTURED, amount_authorized=received, amount_captured=received, **common)
    if status == "requires_capture":
        capturable = int(intent.get("amount_capturable") or amount)
        return PaymentResult(PaymentOutcome.AUTHORIZED, amount_authorized=capturable, **common)
    if status in ("requires_action", "requires_source_action", "requires_confirmation"):
        return PaymentResult(PaymentOutcome.REQUIRES_ACTION, action=_action(intent), **common)
    if status == "processing":
        return PaymentResult(PaymentOutcome.PENDING, **common)
    if status == "canceled":
        reason = str(intent.get("cancellation_reason") or "canceled")
        return PaymentResult(PaymentOutcome.CANCELLED, error_code=reason, **common)
    error = intent.get("last_payment_error") or {}
    code = decline_code(error) or "payment_method_failed"
    message = str(error.get("message") or "The payment method was declined")
    return PaymentResult(PaymentOutcome.FAILED, error_code=code, error_message=message,
                         retry_allowed=code not in _FINAL_DECLINES, **common)  # fmt: skip


def _action(intent: Obj) -> RequiredAction:
    """3-D Secure: the redirect URL when a ``return_url`` was given, else the client
    secret for Stripe.js (``use_stripe_sdk``)."""
    action = intent.get("next_action") or {}
    kind = str(action.get("type") or "")
    data = {"type": kind or "confirm", "payment_intent": str(intent.get("id", "")),
            "client_secret": str(intent.get("client_secret") or "")}  # fmt: skip
    if kind == "redirect_to_url":
        redirect = action.get("redirect_to_url") or {}
        data["redirect_url"] = str(redirect.get("url") or "")
        data["return_url"] = str(redirect.get("return_url") or "")
    return RequiredAction("three_d_secure", data)


def _failed(exc: _Declined) -> PaymentResult:
    intent = exc.error.get("payment_intent")
    ref = str(intent.get("id", "")) if isinstance(intent, Mapping) else ""
    last_error = (intent.get("last_payment_error") if isinstance(intent, Mapping) else None) or {}
    method = _details(exc.error.get("payment_method") or last_error.get("payment_method"))
    code = exc.code
    status = str(intent.get("status", "")) if isinstance(intent, Mapping) else ""
    data = {"payment_intent": ref, "status": status, "http_status": exc.status}
    return PaymentResult(
        PaymentOutcome.FAILED, ref, error_code=code, error_message=str(exc.error.get("message") or code),
        retry_allowed=exc.status == 402 and code not in _FINAL_DECLINES, method=method, provider_data=data,
    )  # fmt: skip


def _refused(exc: _Declined) -> OperationResult:
    return OperationResult(
        OperationStatus.FAILED, 0, error_code=exc.code, error_message=str(exc.error.get("message") or "")
    )


def _amount(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None


def _webhook_event(event_id: str, kind: str, obj: Obj, created: int) -> WebhookEvent:
    """Stripe event types -> normalized events; ``gateway_ref`` is always the intent id."""
    at = datetime.fromtimestamp(created, UTC)
    currency = str(obj.get("currency") or "").upper()
    t = WebhookEventType
    base: Obj = {"event_id": event_id, "occurred_at": at, "provider_type": kind, "currency": currency}
    if kind == "payment_intent.succeeded":
        return WebhookEvent(
            type=t.PAYMENT_SUCCEEDED, gateway_ref=str(obj["id"]), amount=_amount(obj.get("amount_received")), **base
        )
    if kind == "payment_intent.amount_capturable_updated":
        return WebhookEvent(
            type=t.PAYMENT_AUTHORIZED, gateway_ref=str(obj["id"]), amount=_amount(obj.get("amount_capturable")), **base
        )
    if kind == "payment_intent.payment_failed":
        code = decline_code(obj.get("last_payment_error")) or "payment_failed"
        return WebhookEvent(type=t.PAYMENT_FAILED, gateway_ref=str(obj["id"]), data={"error_code": code}, **base)
    if kind == "payment_intent.canceled":
        return WebhookEvent(type=t.PAYMENT_CANCELLED, gateway_ref=str(obj["id"]), **base)
    if kind == "charge.refunded" and obj.get("payment_intent"):
        # amount_refunded is the charge's cumulative refunded total, as the contract wants.
        return WebhookEvent(
            type=t.PAYMENT_REFUNDED,
            gateway_ref=str(obj["payment_intent"]),
            amount=_amount(obj.get("amount_refunded")),
            **base,
        )
    if kind == "charge.dispute.created" and obj.get("payment_intent"):
        return WebhookEvent(
            type=t.DISPUTE_CREATED, gateway_ref=str(obj["payment_intent"]), amount=_amount(obj.get("amount")), **base
        )
    if kind == "charge.dispute.closed" and obj.get("payment_intent"):
        outcome = "won" if obj.get("status") == "won" else "lost"
        return WebhookEvent(type=t.DISPUTE_RESOLVED, gateway_ref=str(obj["payment_intent"]), amount=_amount(obj.get("amount")),
                            data={"outcome": outcome}, **base)  # fmt: skip
    return WebhookEvent(type=t.IGNORED, **base)
