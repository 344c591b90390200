"""Provider interfaces: what each provider factory hook returns (DESIGN 5).

Every provider is a small object with a ``code`` (unique per kind across all plugins,
lower-kebab, for example ``"stripe"``) and a ``display_name`` for staff, plus a few
``async`` methods that take one frozen request dataclass and return one frozen result
(STYLE rule 6). Amounts are always ``int`` minor units next to an ISO 4217 ``currency``
(DECISIONS 5: USD 10.00 is ``1000``, JPY 1000 is ``1000``).

Expected outcomes are *results* (a declined card, an undeliverable address); an exception
means "we could not find out" (gateway unreachable, timeout) and the core retries or
leaves the operation pending.

This module is a sketch of 0.1: the shapes are real and checked at registration, and
later releases extend them by adding fields with defaults and new optional capability
Protocols, never by renaming or removing anything.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "Address",
    "AuthorizeRequest",
    "AuthorizeResult",
    "CaptureRequest",
    "CaptureResult",
    "Event",
    "FraudAssessment",
    "FraudCheckRequest",
    "FraudDecision",
    "FraudProvider",
    "LineTax",
    "NotificationChannel",
    "NotificationMessage",
    "Parcel",
    "PaymentGateway",
    "PaymentRef",
    "PaymentStatus",
    "RateQuote",
    "RateRequest",
    "RefundRequest",
    "RefundResult",
    "SendResult",
    "ShippingCarrier",
    "StorageBackend",
    "StoredObject",
    "TaxLine",
    "TaxProvider",
    "TaxRequest",
    "TaxResult",
    "VoidRequest",
    "VoidResult",
]


# -- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """A committed domain event, as handed to ``rcommerce_on_event`` by the dispatcher.

    Delivery is at least once: dedupe on ``id``.
    """

    #: "evt_..."; stable across redeliveries.
    id: str
    #: "<resource>.<past_tense>", for example "order.placed".
    type: str
    #: Resource name of the subject, for example "orders/ord_01J9ZQ3K8M".
    subject: str
    #: ``{"object": <proto3 JSON of the resource>, ...}``; the API's schema.
    data: Mapping[str, Any]
    #: When the change was committed, UTC.
    created_at: datetime


# -- shared shapes ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Address:
    """A postal address; ``country`` is ISO 3166-1 alpha-2 ("DE")."""

    country: str
    postal_code: str = ""
    region: str = ""
    city: str = ""
    lines: tuple[str, ...] = ()


# -- payments --------------------------------------------------------------------------------


class PaymentStatus(enum.StrEnum):
    """Outcome of a payment operation."""

    #: Funds are reserved (authorize) or moved (capture, refund, void).
    SUCCEEDED = "succeeded"
    #: The gateway said no; final. ``decline_code`` says why.
    DECLINED = "declined"
    #: Not known yet (3-D Secure, async settlement); a webhook or the reconciler settles it.
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class PaymentRef:
    """Our payment id plus the ``provider_data`` the gateway returned last time."""

    payment_id: str
    provider_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """Reserve ``amount`` minor units of ``currency`` for ``payment_id``."""

    payment_id: str
    amount: int
    currency: str
    #: Stable across retries of this authorization; forward it to the gateway.
    idempotency_key: str
    #: Opaque data the storefront collected for this gateway (a token, never a card number).
    method_data: Mapping[str, Any] = field(default_factory=dict)
    customer_email: str = ""


@dataclass(frozen=True, slots=True)
class AuthorizeResult:
    status: PaymentStatus
    #: Stored on the payment row and handed back unread in later requests; never public.
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    #: Safe to show the storefront (for example a client secret for 3-D Secure).
    client_data: Mapping[str, Any] = field(default_factory=dict)
    #: Gateway's reason for a DECLINED status ("insufficient_funds").
    decline_code: str = ""


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    payment: PaymentRef
    #: Minor units; may be less than authorized, never more.
    amount: int
    currency: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class CaptureResult:
    status: PaymentStatus
    provider_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VoidRequest:
    payment: PaymentRef
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class VoidResult:
    status: PaymentStatus
    provider_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment: PaymentRef
    #: Minor units; never exceeds captured less already refunded.
    amount: int
    currency: str
    idempotency_key: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RefundResult:
    status: PaymentStatus
    provider_data: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class PaymentGateway(Protocol):
    """Moves money for orders. Returned by ``rcommerce_payment_gateways``.

    The core calls ``authorize`` at checkout, ``capture`` on fulfilment (or at once for
    auto-capture), ``void`` when an uncaptured order is cancelled and ``refund`` when
    staff approve one. Each mutating call carries an ``idempotency_key`` and may be
    retried: "already done" answers from the gateway must come back as SUCCEEDED.
    A decline is a result; raise only when the outcome is unknown. Sketch: 0.2 adds
    webhooks and optional capabilities as separate Protocols.
    """

    code: str
    display_name: str

    async def authorize(self, request: AuthorizeRequest) -> AuthorizeResult: ...

    async def capture(self, request: CaptureRequest) -> CaptureResult: ...

    async def void(self, request: VoidRequest) -> VoidResult: ...

    async def refund(self, request: RefundRequest) -> RefundResult: ...


# -- shipping --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parcel:
    weight_g: int
    length_mm: int = 0
    width_mm: int = 0
    height_mm: int = 0


@dataclass(frozen=True, slots=True)
class RateRequest:
    origin: Address
    destination: Address
    parcels: tuple[Parcel, ...]
    #: Currency the quotes should be in.
    currency: str


@dataclass(frozen=True, slots=True)
class RateQuote:
    #: The carrier's service ("express"); unique within one carrier's answer.
    service_code: str
    display_name: str
    #: Minor units of ``currency``.
    amount: int
    currency: str
    min_days: int | None = None
    max_days: int | None = None


@runtime_checkable
class ShippingCarrier(Protocol):
    """Prices shipments. Returned by ``rcommerce_shipping_carriers``.

    ``quote`` is called on the request path when a cart needs shipping options, possibly
    many times per cart; it must be fast and side-effect free. An empty list means the
    carrier does not serve the destination (a result); raise when it could not answer.
    """

    code: str
    display_name: str

    async def quote(self, request: RateRequest) -> list[RateQuote]: ...


# -- storage ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredObject:
    key: str
    size_bytes: int
    content_type: str


@runtime_checkable
class StorageBackend(Protocol):
    """Stores media and exports by key. Returned by ``rcommerce_storage_backends``.

    Keys are relative, "/"-separated paths ("products/prod_1/hero.jpg"); a key that
    escapes the backend's root (``..``, absolute paths) raises ``ValueError``. ``put``
    overwrites; ``get`` of a missing key raises ``KeyError``; ``delete`` of a missing key
    is a no-op so retries are safe. ``url`` needs no I/O.
    """

    code: str
    display_name: str

    async def put(self, key: str, data: bytes, *, content_type: str) -> StoredObject: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...

    def url(self, key: str) -> str: ...


# -- notifications ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotificationMessage:
    #: Addresses in the channel's own format (e-mail addresses, phone numbers, chat ids).
    to: tuple[str, ...]
    subject: str
    text: str
    html: str = ""
    #: Stable across redeliveries of the same notification; forward it when possible.
    idempotency_key: str = ""
    #: The event or template that caused it, for logs ("order.placed").
    topic: str = ""


@dataclass(frozen=True, slots=True)
class SendResult:
    #: False when the channel refused the message for good (bad address); not retried.
    accepted: bool
    #: The channel's id for the message, if it has one.
    message_id: str = ""
    error: str = ""


@runtime_checkable
class NotificationChannel(Protocol):
    """Delivers notifications. Returned by ``rcommerce_notification_channels``.

    ``send`` is called by the dispatcher after commit, at least once per message (dedupe
    on ``idempotency_key``). A refused message is a result (``accepted=False``); raise for
    a transient failure and the dispatcher retries with backoff.
    """

    code: str
    display_name: str

    async def send(self, message: NotificationMessage) -> SendResult: ...


# -- tax -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxLine:
    line_id: str
    #: Taxable amount of the line in minor units, after discounts (DECISIONS 12).
    amount: int
    #: Product tax code ("" for the standard rate).
    tax_code: str = ""


@dataclass(frozen=True, slots=True)
class TaxRequest:
    currency: str
    destination: Address
    lines: tuple[TaxLine, ...]
    #: True when ``amount`` already includes tax (gross prices).
    prices_include_tax: bool = False


@dataclass(frozen=True, slots=True)
class LineTax:
    line_id: str
    #: Minor units of tax on this line.
    tax_amount: int
    #: Rate in basis points (1900 = 19%).
    rate_bps: int


@dataclass(frozen=True, slots=True)
class TaxResult:
    lines: tuple[LineTax, ...]

    @property
    def total_tax(self) -> int:
        """Sum of the lines' tax, minor units."""
        return sum(line.tax_amount for line in self.lines)


@runtime_checkable
class TaxProvider(Protocol):
    """Computes tax for a cart or order. Returned by ``rcommerce_tax_providers``.

    ``calculate`` runs on the request path whenever totals change; it returns one
    ``LineTax`` per request line. Raise when the provider could not answer.
    """

    code: str
    display_name: str

    async def calculate(self, request: TaxRequest) -> TaxResult: ...


# -- fraud -----------------------------------------------------------------------------------


class FraudDecision(enum.StrEnum):
    ALLOW = "allow"
    #: Hold the order for a person to look at.
    REVIEW = "review"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class FraudCheckRequest:
    #: Resource name "orders/{order}".
    order: str
    amount: int
    currency: str
    customer_email: str = ""
    ip_address: str = ""
    billing: Address | None = None
    shipping: Address | None = None


@dataclass(frozen=True, slots=True)
class FraudAssessment:
    decision: FraudDecision
    #: 0 (clean) to 100 (certain fraud).
    score: int = 0
    reasons: tuple[str, ...] = ()


@runtime_checkable
class FraudProvider(Protocol):
    """Scores an order before payment capture. Returned by ``rcommerce_fraud_providers``.

    ``assess`` runs once per placed order; the strictest decision of all providers
    wins. Raise when the provider could not answer (the order goes to REVIEW).
    """

    code: str
    display_name: str

    async def assess(self, order: FraudCheckRequest) -> FraudAssessment: ...
