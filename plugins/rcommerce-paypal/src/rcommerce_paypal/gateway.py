"""The ``paypal`` payment gateway: PayPal Checkout through the Orders v2 REST API.

Flow: ``initiate`` creates an order (``POST /v2/checkout/orders``, intent ``CAPTURE`` or
``AUTHORIZE``) and answers ``REQUIRES_ACTION`` with PayPal's approval link (``payer-action``
or ``approve``); the buyer approves at PayPal and comes back to ``return_url``; then
``complete_action`` captures (or authorizes) the order. A returning buyer's vaulted wallet
(``method_data["vault_id"]``) is charged without a redirect. Manual capture, void and
(partial) refunds go through the Payments v2 API.

Authentication is OAuth 2 client credentials (``POST /v1/oauth2/token``); the access token
is cached until shortly before it expires and fetched again after a 401. Every mutating
call forwards the core's idempotency key as ``PayPal-Request-Id``, so a retry returns
PayPal's first answer instead of charging twice.

Webhooks are verified offline with PayPal's certificate scheme (see :mod:`.webhooks`).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from rcommerce.money import to_decimal
from rcommerce.plugins.providers import (
    CaptureRequest,
    CompleteActionRequest,
    GatewayConfig,
    GatewayError,
    InitiateRequest,
    MethodDetails,
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
    UnsupportedOperation,
    VoidRequest,
    WebhookEvent,
    WebhookRequest,
)
from rcommerce_paypal.webhooks import CertificateStore, averify_and_map, parse_money

__all__ = ["CURRENCIES", "PAYPAL", "PayPalGateway"]

Obj = dict[str, Any]

#: The method type this gateway offers: the buyer pays with their PayPal account.
PAYPAL = "paypal"
#: Currencies PayPal accepts whose decimals match ISO 4217 (HUF and TWD do not: left out).
CURRENCIES = (
    "USD",
    "EUR",
    "GBP",
    "AUD",
    "CAD",
    "JPY",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "HKD",
    "SGD",
    "NZD",
    "MXN",
)
#: 422 issues that are a refusal of the buyer's instrument (the buyer may pick another).
_DECLINES = frozenset({"INSTRUMENT_DECLINED", "PAYER_ACTION_REQUIRED", "PAYER_CANNOT_PAY", "TRANSACTION_REFUSED",
                       "PAYEE_BLOCKED_TRANSACTION", "COMPLIANCE_VIOLATION", "DUPLICATE_INVOICE_ID"})  # fmt: skip


class _Refused(Exception):
    """PayPal answered 400/404/422: the request was understood and refused."""

    def __init__(self, status: int, body: Obj) -> None:
        details = body.get("details") or [{}]
        self.issue = str(details[0].get("issue") or body.get("name") or "REFUSED")
        self.description = str(details[0].get("description") or body.get("message") or "")
        super().__init__(f"{self.issue}: {self.description}")
        self.status = status

    @property
    def code(self) -> str:
        return self.issue.lower()


def _money(amount: int, currency: str) -> Obj:
    """Minor units -> PayPal's ``{"currency_code", "value"}`` (value in major units)."""
    return {"currency_code": currency, "value": f"{to_decimal(amount, currency):f}"}


class PayPalGateway:
    """PayPal Checkout (Orders v2): approval redirect, capture or authorize, capture of
    authorizations (partial), void, (partial) refunds, verified webhooks."""

    code = "paypal"
    display_name = "PayPal"

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        webhook_id: str = "",
        base_url: str = "https://api-m.paypal.com",
        brand_name: str = "",
        currencies: tuple[str, ...] = CURRENCIES,
        cert_url_prefixes: tuple[str, ...] = (),
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        certificates: CertificateStore | None = None,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.webhook_id = webhook_id
        self.base_url = base_url.rstrip("/")
        self.brand_name = brand_name
        self.currencies = currencies
        self.timeout = timeout
        self._transport = transport
        self._token = ""
        self._token_expires = 0.0
        self.certificates = certificates or CertificateStore(cert_url_prefixes or None, timeout=timeout)

    def __repr__(self) -> str:
        return f"PayPalGateway(base_url={self.base_url!r}, client_id={self.client_id!r})"

    def config(self) -> GatewayConfig:
        method = PaymentMethodConfig(
            PAYPAL, "PayPal", requires_redirect=True, min_amount={c: 1 for c in self.currencies}
        )
        return GatewayConfig(
            currencies=self.currencies, methods=(method,), supports_manual_capture=True, supports_partial_capture=True,
            supports_refunds=True, supports_partial_refunds=True, supports_saved_methods=False,
            supports_off_session=False, supports_webhooks=bool(self.webhook_id),
        )  # fmt: skip

    # -- HTTP -------------------------------------------------------------------------------
    async def _access_token(self, client: httpx.AsyncClient, *, fresh: bool = False) -> str:
        if self._token and not fresh and time.monotonic() < self._token_expires:
            return self._token
        url = f"{self.base_url}/v1/oauth2/token"
        response = await client.post(
            url, data={"grant_type": "client_credentials"}, auth=(self.client_id, self._client_secret),
            headers={"Accept": "application/json"},
        )  # fmt: skip
        body = _json(response)
        if response.status_code != 200 or not body.get("access_token"):
            raise GatewayError(
                f"PayPal refused the client credentials ({response.status_code}): {body.get('error_description', '')}"
            )
        self._token = str(body["access_token"])
        # Renew a minute early so a token never expires between the check and the call.
        self._token_expires = time.monotonic() + max(0.0, float(body.get("expires_in", 0)) - 60)
        return self._token

    async def _call(self, method: str, path: str, body: Obj | None = None, *, key: str = "") -> Obj:
        url = f"{self.base_url}{path}"
        headers = {"Content-Type": "application/json", "Prefer": "return=representation"}
        if key:
            headers["PayPal-Request-Id"] = key[:108]
        try:
            async with httpx.AsyncClient(timeout=self.timeout, transport=self._transport) as client:
                for attempt in (0, 1):
                    token = await self._access_token(client, fresh=attempt == 1)
                    headers["Authorization"] = f"Bearer {token}"
                    response = await client.request(method, url, json=body, headers=headers)
                    if response.status_code != 401:
                        break
        except httpx.HTTPError as exc:
            raise GatewayError(f"could not reach PayPal at {url}: {exc!r}") from exc
        if response.status_code == 204:
            return {}
        payload = _json(response)
        if response.status_code in (200, 201):
            return payload
        if response.status_code in (400, 404, 422):
            raise _Refused(response.status_code, payload)
        raise GatewayError(
            f"PayPal {response.status_code} {payload.get('name', payload.get('error', ''))}: "
            f"{payload.get('message', payload.get('error_description', ''))} (debug_id {payload.get('debug_id', '-')})"
        )

    # -- payments ---------------------------------------------------------------------------
    async def initiate(self, request: InitiateRequest) -> PaymentResult:
        unit: Obj = {
            "reference_id": request.payment_id, "custom_id": request.payment_id,
            "amount": _money(request.amount, request.currency),
        }  # fmt: skip
        if request.description:
            unit["description"] = request.description[:127]
        vault_id = request.method_data.get("vault_id", "")
        if vault_id:
            source: Obj = {"paypal": {"vault_id": vault_id}}
        else:
            context: Obj = {"user_action": "PAY_NOW", "shipping_preference": "NO_SHIPPING"}
            if request.return_url:
                context["return_url"] = request.return_url
                context["cancel_url"] = request.method_data.get("cancel_url") or request.return_url
            if self.brand_name:
                context["brand_name"] = self.brand_name[:127]
            source = {"paypal": {"experience_context": context}}
            if request.customer_email:
                source["paypal"]["email_address"] = request.customer_email
        body = {
            "intent": "CAPTURE" if request.capture else "AUTHORIZE",
            "purchase_units": [unit],
            "payment_source": source,
        }
        try:
            order = await self._call("POST", "/v2/checkout/orders", body, key=request.idempotency_key)
            if order.get("status") == "APPROVED":  # nothing left for the buyer to do
                order = await self._settle(order, request.idempotency_key)
        except _Refused as exc:
            return _failed(exc)
        return _result(order)

    async def _settle(self, order: Obj, key: str) -> Obj:
        step = "capture" if order.get("intent", "CAPTURE") == "CAPTURE" else "authorize"
        return await self._call("POST", f"/v2/checkout/orders/{order['id']}/{step}", {}, key=f"{key}:{step}")

    async def complete_action(self, request: CompleteActionRequest) -> PaymentResult:
        """The buyer is back from PayPal: capture (or authorize) the approved order. An
        order not approved yet stays ``REQUIRES_ACTION`` with the same approval link."""
        ref = request.payment.gateway_ref
        try:
            order = await self._call("GET", f"/v2/checkout/orders/{ref}")
            if order.get("status") == "APPROVED":
                order = await self._settle(order, request.idempotency_key)
        except _Refused as exc:
            return _failed(exc, ref)
        return _result(order)

    async def status(self, payment: PaymentRef) -> PaymentResult:
        try:
            return _result(await self._call("GET", f"/v2/checkout/orders/{payment.gateway_ref}"))
        except _Refused as exc:
            return _failed(exc, payment.gateway_ref)

    async def capture(self, request: CaptureRequest) -> OperationResult:
        auth = str(request.payment.provider_data.get("authorization_id") or "")
        if not auth:
            return OperationResult(
                OperationStatus.FAILED, error_code="no_authorization", error_message="nothing is authorized"
            )
        body = {"amount": _money(request.amount, request.payment.currency), "final_capture": True}
        try:
            capture = await self._call(
                "POST", f"/v2/payments/authorizations/{auth}/capture", body, key=request.idempotency_key
            )
        except _Refused as exc:
            return OperationResult(OperationStatus.FAILED, error_code=exc.code, error_message=exc.description)
        amount, _ = parse_money(capture.get("amount"))
        status = _operation_status(capture.get("status"))
        return OperationResult(status, amount if amount is not None else request.amount, str(capture.get("id", "")),
                               provider_data={"capture_id": capture.get("id", ""), "status": capture.get("status", "")})  # fmt: skip

    async def void(self, request: VoidRequest) -> OperationResult:
        auth = str(request.payment.provider_data.get("authorization_id") or "")
        if not auth:  # an order never approved holds no money; PayPal lets it expire
            return OperationResult(OperationStatus.SUCCEEDED, reference=request.payment.gateway_ref)
        try:
            await self._call("POST", f"/v2/payments/authorizations/{auth}/void", None, key=request.idempotency_key)
        except _Refused as exc:
            return OperationResult(OperationStatus.FAILED, error_code=exc.code, error_message=exc.description)
        return OperationResult(OperationStatus.SUCCEEDED, reference=auth)

    async def refund(self, request: RefundRequest) -> OperationResult:
        # The core stores what capture() returned, so a manual capture's id is at hand; the
        # order is read only for payments recorded before the core stored capture results.
        capture = str(request.payment.provider_data.get("capture_id") or "")
        try:
            if not capture:
                order = await self._call("GET", f"/v2/checkout/orders/{request.payment.gateway_ref}")
                capture = str(_result(order).provider_data.get("capture_id") or "")
        except _Refused as exc:
            return OperationResult(OperationStatus.FAILED, error_code=exc.code, error_message=exc.description)
        if not capture:
            return OperationResult(OperationStatus.FAILED, error_code="no_capture", error_message="nothing is captured")
        body: Obj = {"amount": _money(request.amount, request.payment.currency), "custom_id": request.refund_id or None,
                     "note_to_payer": _NOTES.get(request.reason)}  # fmt: skip
        body = {k: v for k, v in body.items() if v is not None}
        try:
            refund = await self._call(
                "POST", f"/v2/payments/captures/{capture}/refund", body, key=request.idempotency_key
            )
        except _Refused as exc:
            return OperationResult(OperationStatus.FAILED, error_code=exc.code, error_message=exc.description)
        amount, _ = parse_money(refund.get("amount"))
        return OperationResult(
            _operation_status(refund.get("status")), amount if amount is not None else request.amount,
            str(refund.get("id", "")), provider_data={"refund_id": refund.get("id", ""), "status": refund.get("status", "")},
        )  # fmt: skip

    # -- not offered --------------------------------------------------------------------------
    async def save_method(self, request: SaveMethodRequest) -> MethodDetails:
        raise UnsupportedOperation(
            "saving a PayPal wallet needs the buyer's approval (Vault setup tokens); not offered"
        )

    async def list_methods(self, customer_id: str) -> list[MethodDetails]:
        raise UnsupportedOperation("the paypal gateway keeps no saved methods")

    async def delete_method(self, customer_id: str, token: str) -> None:
        raise UnsupportedOperation("the paypal gateway keeps no saved methods")

    async def charge_off_session(self, request: OffSessionRequest) -> PaymentResult:
        raise UnsupportedOperation("the paypal gateway does not charge off-session")

    # -- webhooks ---------------------------------------------------------------------------
    async def parse_webhook(self, request: WebhookRequest) -> WebhookEvent:
        """Verify with PayPal's certificate scheme (see :mod:`rcommerce_paypal.webhooks`);
        async, so fetching a new signing certificate never blocks the event loop."""
        return await averify_and_map(request, self.webhook_id, self.certificates)


_NOTES = {"requested_by_customer": "Refund as requested", "duplicate": "Duplicate payment refunded"}


def _json(response: httpx.Response) -> Obj:
    try:
        data = response.json()
    except ValueError:
        raise GatewayError(f"PayPal answered {response.status_code} with a body that is not JSON") from None
    if not isinstance(data, dict):
        raise GatewayError(f"PayPal answered {response.status_code} with an unexpected body")
    return data


def _operation_status(status: Any) -> OperationStatus:
    return {
        "COMPLETED": OperationStatus.SUCCEEDED,
        "PENDING": OperationStatus.PENDING,
        "CREATED": OperationStatus.PENDING,
    }.get(str(status), OperationStatus.FAILED)


def _failed(exc: _Refused, ref: str = "") -> PaymentResult:
    """A refusal: the buyer's instrument was declined (they may retry with another), or the
    request was invalid (retrying the same cannot help)."""
    declined = exc.issue in _DECLINES
    return PaymentResult(PaymentOutcome.FAILED, ref, error_code=exc.code, error_message=exc.description,
                         retry_allowed=declined, provider_data={"issue": exc.issue})  # fmt: skip


def _result(order: Obj) -> PaymentResult:
    """An order as a result. ``gateway_ref`` is the order id; the capture or authorization
    id is kept in ``provider_data`` for capture, void and refund."""
    ref = str(order.get("id", ""))
    status = str(order.get("status", ""))
    units = order.get("purchase_units") or [{}]
    payments = units[0].get("payments") or {}
    captures, auths = payments.get("captures") or [], payments.get("authorizations") or []
    data: Obj = {"order_id": ref, "status": status}
    payer = (order.get("payment_source") or {}).get("paypal") or {}
    method = MethodDetails(PAYPAL, "paypal", token=str((payer.get("attributes") or {}).get("vault", {}).get("id", "")))
    if captures:
        capture = captures[-1]
        data["capture_id"] = str(capture.get("id", ""))
        amount, _ = parse_money(capture.get("amount"))
        state = str(capture.get("status", ""))
        if state == "COMPLETED":
            return PaymentResult(
                PaymentOutcome.CAPTURED, ref, amount or 0, amount or 0, method=method, provider_data=data,
                transaction_id=data["capture_id"],
            )  # fmt: skip
        if state == "PENDING":
            return PaymentResult(PaymentOutcome.PENDING, ref, method=method, provider_data=data)
        reason = str((capture.get("status_details") or {}).get("reason") or state or "declined").lower()
        return PaymentResult(PaymentOutcome.FAILED, ref, error_code=reason, error_message=f"PayPal capture {state}",
                             method=method, provider_data=data)  # fmt: skip
    if auths:
        auth = auths[-1]
        data["authorization_id"] = str(auth.get("id", ""))
        amount, _ = parse_money(auth.get("amount"))
        state = str(auth.get("status", ""))
        if state in ("CREATED", "PARTIALLY_CAPTURED"):
            return PaymentResult(PaymentOutcome.AUTHORIZED, ref, amount or 0, method=method, provider_data=data)
        if state in ("VOIDED", "EXPIRED"):
            return PaymentResult(PaymentOutcome.CANCELLED, ref, error_code=state.lower(), provider_data=data)
        if state == "PENDING":
            return PaymentResult(PaymentOutcome.PENDING, ref, provider_data=data)
        return PaymentResult(PaymentOutcome.FAILED, ref, error_code=state.lower() or "denied", provider_data=data)
    if status in ("PAYER_ACTION_REQUIRED", "CREATED", "SAVED", "APPROVED"):
        links = {str(link.get("rel")): str(link.get("href")) for link in order.get("links") or []}
        url = links.get("payer-action") or links.get("approve") or ""
        return PaymentResult(PaymentOutcome.REQUIRES_ACTION, ref,
                             action=RequiredAction("redirect", {"redirect_url": url, "order_id": ref}), provider_data=data)  # fmt: skip
    if status == "VOIDED":
        return PaymentResult(PaymentOutcome.CANCELLED, ref, error_code="voided", provider_data=data)
    return PaymentResult(PaymentOutcome.PENDING, ref, provider_data=data)
