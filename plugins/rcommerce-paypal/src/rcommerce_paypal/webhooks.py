"""PayPal webhook verification (the certificate scheme PayPal documents) and event mapping.

PayPal signs each delivery with the headers ``PAYPAL-TRANSMISSION-ID``,
``PAYPAL-TRANSMISSION-TIME``, ``PAYPAL-TRANSMISSION-SIG`` (base64), ``PAYPAL-CERT-URL`` and
``PAYPAL-AUTH-ALGO`` (``SHA256withRSA``). The signed message is::

    <transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, decimal>

verified with the public key of the X.509 certificate at the cert URL. The webhook id is
the id of *our* subscription, so a delivery meant for another endpoint never verifies.
The certificate is fetched only from PayPal's own HTTPS hosts (``cert_url_prefixes``),
checked for its validity period and cached per URL.

This is the scheme PayPal documents for verifying deliveries yourself ("verify the
signature on your own"), and it is the one kept even though ``parse_webhook`` may now be
``async``: PayPal's alternative, ``POST /v1/notifications/verify-webhook-signature``, is a
remote call per delivery that needs an OAuth token, adds PayPal's latency and availability
to every webhook, and only repeats this very check on PayPal's side. Here the certificate
is fetched once per certificate URL, asynchronously (:func:`averify_and_map`, used by the
gateway), and every delivery after that is verified locally.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import zlib
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from rcommerce.money import from_decimal
from rcommerce.plugins.providers import WebhookEvent, WebhookEventType, WebhookRequest, WebhookSignatureError

__all__ = [
    "PAYPAL_CERT_PREFIXES",
    "CertificateStore",
    "averify_and_map",
    "parse_money",
    "signed_message",
    "verify_and_map",
]

#: Where PayPal serves its webhook signing certificates.
PAYPAL_CERT_PREFIXES = (
    "https://api.paypal.com/",
    "https://api-m.paypal.com/",
    "https://api.sandbox.paypal.com/",
    "https://api-m.sandbox.paypal.com/",
)


def signed_message(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> bytes:
    """The exact bytes PayPal signs for one delivery."""
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body)}".encode()


class CertificateStore:
    """PayPal's signing certificates by URL: fetched once (with a short timeout) from an
    allowed prefix, then served from memory. :meth:`aget` fetches without blocking the
    event loop; :meth:`get` is the synchronous form."""

    def __init__(self, prefixes: tuple[str, ...] | None = None, *, timeout: float = 10.0) -> None:
        self.prefixes = prefixes or PAYPAL_CERT_PREFIXES
        self.timeout = timeout
        self._certs: dict[str, x509.Certificate] = {}
        self._lock = threading.Lock()

    def add(self, url: str, pem: bytes) -> None:
        """Pre-load a certificate (tests, or pinning one known certificate)."""
        self._certs[url] = x509.load_pem_x509_certificate(pem)

    def _allowed(self, url: str) -> None:
        if not url.startswith(self.prefixes) or ".." in url or "@" in url:
            raise WebhookSignatureError(f"the certificate URL {url!r} is not one of PayPal's")

    async def aget(self, url: str) -> x509.Certificate:
        """The certificate at ``url``, fetched with an async client the first time."""
        self._allowed(url)
        cert = self._certs.get(url)
        if cert is not None:
            return cert
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                response = await client.get(url)
            response.raise_for_status()
            cert = x509.load_pem_x509_certificate(response.content)
        except (httpx.HTTPError, ValueError) as exc:
            raise WebhookSignatureError(f"could not load PayPal's certificate from {url}: {exc!r}") from exc
        self._certs[url] = cert
        return cert

    def get(self, url: str) -> x509.Certificate:
        self._allowed(url)
        with self._lock:
            cert = self._certs.get(url)
            if cert is None:
                try:
                    response = httpx.get(url, timeout=self.timeout)
                    response.raise_for_status()
                    cert = x509.load_pem_x509_certificate(response.content)
                except (httpx.HTTPError, ValueError) as exc:
                    raise WebhookSignatureError(f"could not load PayPal's certificate from {url}: {exc!r}") from exc
                self._certs[url] = cert
        return cert


def _cert_url(request: WebhookRequest) -> str:
    return request.headers.get("paypal-cert-url", "")


def _verify(request: WebhookRequest, webhook_id: str, cert_of: Callable[[str], x509.Certificate]) -> None:
    h = request.headers
    tid, when, sig = (
        h.get("paypal-transmission-id", ""),
        h.get("paypal-transmission-time", ""),
        h.get("paypal-transmission-sig", ""),
    )
    url, algo = h.get("paypal-cert-url", ""), h.get("paypal-auth-algo", "")
    if not (tid and when and sig and url):
        raise WebhookSignatureError("the PayPal transmission headers are missing")
    if algo != "SHA256withRSA":
        raise WebhookSignatureError(f"unsupported PAYPAL-AUTH-ALGO {algo!r}")
    try:
        sent = datetime.fromisoformat(when.replace("Z", "+00:00"))
        signature = base64.b64decode(sig, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise WebhookSignatureError(f"unreadable transmission headers: {exc}") from exc
    if sent.tzinfo is None:
        raise WebhookSignatureError("PAYPAL-TRANSMISSION-TIME has no time zone")
    age = (request.received_at - sent).total_seconds()
    if abs(age) > request.tolerance_s:
        raise WebhookSignatureError(
            f"the transmission time is {int(age)} s away from now (tolerance {request.tolerance_s} s)"
        )
    cert = cert_of(url)
    if not cert.not_valid_before_utc <= request.received_at <= cert.not_valid_after_utc:
        raise WebhookSignatureError("PayPal's signing certificate is not valid at this time")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise WebhookSignatureError("PayPal's signing certificate does not hold an RSA key")
    try:
        key.verify(signature, signed_message(tid, when, webhook_id, request.body), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise WebhookSignatureError("the signature does not match the body") from exc


def verify_and_map(request: WebhookRequest, webhook_id: str, store: CertificateStore) -> WebhookEvent:
    """Verify a delivery and map it to a normalized event (a certificate not cached yet is
    fetched synchronously: prefer :func:`averify_and_map` inside an event loop)."""
    if not webhook_id:
        raise WebhookSignatureError("no webhook_id is configured for the paypal gateway")
    _verify(request, webhook_id, store.get)
    return _mapped(request)


async def averify_and_map(request: WebhookRequest, webhook_id: str, store: CertificateStore) -> WebhookEvent:
    """:func:`verify_and_map` with the certificate fetched asynchronously. Every check that
    needs no certificate runs first, so a forged delivery never makes us fetch anything."""
    if not webhook_id:
        raise WebhookSignatureError("no webhook_id is configured for the paypal gateway")
    url = _cert_url(request)
    fetched: dict[str, x509.Certificate] = {}

    def precheck(found: str) -> x509.Certificate:
        raise _NeedsCertificate(found)

    try:
        _verify(request, webhook_id, precheck)
    except _NeedsCertificate:
        fetched[url] = await store.aget(url)
    _verify(request, webhook_id, fetched.__getitem__)
    return _mapped(request)


class _NeedsCertificate(Exception):
    """Raised by the pre-check once every header check passed."""


def _mapped(request: WebhookRequest) -> WebhookEvent:
    try:
        event = json.loads(request.body)
        kind, resource, event_id = str(event["event_type"]), event.get("resource") or {}, str(event["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise WebhookSignatureError(f"the body is not a PayPal event: {exc!r}") from exc
    created = _time(event.get("create_time"))
    return _map(event_id, kind, resource if isinstance(resource, Mapping) else {}, created)


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_money(money: Any) -> tuple[int | None, str]:
    """PayPal's ``{"currency_code", "value"}`` -> (minor units, currency); None when absent."""
    if not isinstance(money, Mapping):
        return None, ""
    currency = str(money.get("currency_code") or "")
    try:
        return from_decimal(Decimal(str(money["value"])), currency), currency
    except (KeyError, InvalidOperation):
        return None, currency


def _order_id(resource: Mapping[str, Any]) -> str:
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    return str(related.get("order_id") or "")


def _map(event_id: str, kind: str, resource: Mapping[str, Any], at: datetime | None) -> WebhookEvent:
    """PayPal event types -> normalized events; ``gateway_ref`` is the order id (from
    ``supplementary_data.related_ids.order_id`` on captures, authorizations and refunds)."""
    t = WebhookEventType
    base: dict[str, Any] = {"event_id": event_id, "occurred_at": at, "provider_type": kind}
    order = _order_id(resource)
    simple = {
        "PAYMENT.CAPTURE.COMPLETED": t.PAYMENT_SUCCEEDED,
        "PAYMENT.CAPTURE.DENIED": t.PAYMENT_FAILED,
        "PAYMENT.CAPTURE.DECLINED": t.PAYMENT_FAILED,
        "PAYMENT.AUTHORIZATION.CREATED": t.PAYMENT_AUTHORIZED,
        "PAYMENT.AUTHORIZATION.VOIDED": t.PAYMENT_CANCELLED,
    }
    if kind in simple and order:
        amount, currency = parse_money(resource.get("amount"))
        data = {"error_code": kind.rsplit(".", 1)[1].lower()} if simple[kind] is t.PAYMENT_FAILED else {}
        return WebhookEvent(type=simple[kind], gateway_ref=order, amount=amount, currency=currency, data=data, **base)
    if kind in ("PAYMENT.CAPTURE.REFUNDED", "PAYMENT.REFUND.COMPLETED") and order:
        # The refund resource carries the capture's cumulative refunded total.
        breakdown = resource.get("seller_payable_breakdown") or {}
        amount, currency = parse_money(breakdown.get("total_refunded_amount"))
        if amount is not None:
            return WebhookEvent(type=t.PAYMENT_REFUNDED, gateway_ref=order, amount=amount, currency=currency, **base)
    return WebhookEvent(type=t.IGNORED, **base)
