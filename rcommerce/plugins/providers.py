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
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "BANK_TRANSFER",
    "CARD",
    "CASH_ON_DELIVERY",
    "DIGITAL_WALLET",
    "REDIRECT",
    "REFUND_REASONS",
    "Address",
    "CaptureRequest",
    "CompleteActionRequest",
    "Event",
    "FraudAssessment",
    "FraudCheckRequest",
    "FraudDecision",
    "FraudProvider",
    "GatewayConfig",
    "GatewayError",
    "InitiateRequest",
    "LineTax",
    "MethodDetails",
    "MethodNotSaved",
    "NotificationChannel",
    "NotificationMessage",
    "OffSessionRequest",
    "OperationResult",
    "OperationStatus",
    "Parcel",
    "PaymentGateway",
    "PaymentMethodConfig",
    "PaymentOutcome",
    "PaymentRef",
    "PaymentResult",
    "RateItem",
    "RateQuote",
    "RateRequest",
    "RefundRequest",
    "RequiredAction",
    "SaveMethodRequest",
    "SendResult",
    "ShippingCarrier",
    "StorageBackend",
    "StoredObject",
    "TaxComponent",
    "TaxLine",
    "TaxProvider",
    "TaxRequest",
    "TaxResult",
    "UnsupportedOperation",
    "VatCheck",
    "VatValidator",
    "VoidRequest",
    "WebhookEvent",
    "WebhookEventType",
    "WebhookRequest",
    "WebhookSignatureError",
    "channel_medium",
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
#
# The gateway contract (DECISIONS 15a, docs/plugins.md "Payment gateways"). The core owns the
# payment record, its state machine, the ledger and idempotency; a gateway only talks to its
# provider. Amounts are minor units of ``currency`` with the currency's own exponent (USD
# 10.00 is 1000, JPY 1000 is 1000): convert with :mod:`rcommerce.money`, never by x100.


class PaymentOutcome(enum.StrEnum):
    """Where a payment stands at the gateway after a call."""

    #: The customer must act (3-D Secure, a redirect); see ``PaymentResult.action``.
    REQUIRES_ACTION = "requires_action"
    #: Funds are reserved, not yet captured.
    AUTHORIZED = "authorized"
    #: Funds are captured (``PaymentResult.amount_captured``).
    CAPTURED = "captured"
    #: Not known yet (async settlement); a webhook settles it.
    PENDING = "pending"
    #: Declined or failed; final. ``error_code`` says why ("card_declined").
    FAILED = "failed"
    #: Voided or expired at the gateway; final.
    CANCELLED = "cancelled"


class OperationStatus(enum.StrEnum):
    """Outcome of a capture, void or refund."""

    SUCCEEDED = "succeeded"
    #: Accepted, settles later (a webhook reports the result).
    PENDING = "pending"
    #: Refused by the gateway; final. ``error_code`` says why.
    FAILED = "failed"


#: Payment method types the core knows; gateways may offer others (lower_snake strings).
CARD = "card"
BANK_TRANSFER = "bank_transfer"
CASH_ON_DELIVERY = "cash_on_delivery"
DIGITAL_WALLET = "digital_wallet"
REDIRECT = "redirect"

#: Refund reasons the core accepts; a gateway maps them to its own vocabulary. Any other
#: text a caller sends becomes ``other`` and is kept as the refund's ``note``.
REFUND_REASONS = ("requested_by_customer", "duplicate", "fraudulent", "other")


class GatewayError(Exception):
    """The outcome is unknown: timeout, connection error, HTTP 5xx, unreadable answer.

    The core records the attempt, leaves the payment as it was and answers
    ``PAYMENT_GATEWAY_ERROR``; the client retries with the same idempotency key, which the
    gateway forwards, so the provider never moves money twice.
    """


class UnsupportedOperation(Exception):
    """The gateway does not offer this operation (its ``config()`` says so too)."""


class WebhookSignatureError(Exception):
    """An inbound webhook is not authentic: bad or missing signature, or a timestamp
    outside the tolerance window. The core answers 400 and processes nothing."""


class MethodNotSaved(Exception):
    """``save_method`` was refused by the provider (the outcome is known, nothing was saved).

    ``code`` is the provider's reason, lower_snake ("card_declined"). ``requires_action``
    is True when the provider wants the customer to authenticate the card (3-D Secure at
    setup): the core answers ``SAVED_METHOD_REQUIRES_ACTION`` and the storefront saves the
    card while paying instead (``save_method`` on CreatePayment), where the action has a
    payment to complete through. Any other refusal is ``PAYMENT_DECLINED``.
    """

    def __init__(self, message: str, *, code: str = "", requires_action: bool = False) -> None:
        super().__init__(message)
        self.code = code or ("authentication_required" if requires_action else "card_declined")
        self.requires_action = requires_action


@dataclass(frozen=True, slots=True)
class PaymentMethodConfig:
    """One way to pay that a gateway offers."""

    #: ``card``, ``bank_transfer``, ``cash_on_delivery``, ...
    method_type: str
    display_name: str
    #: ISO codes this method accepts; empty means every currency of the gateway.
    currencies: tuple[str, ...] = ()
    #: Minimum amount per currency, minor units; a currency not listed has no minimum.
    min_amount: Mapping[str, int] = field(default_factory=dict)
    #: Maximum amount per currency, minor units; a currency not listed has no maximum.
    max_amount: Mapping[str, int] = field(default_factory=dict)
    supports_3ds: bool = False
    requires_redirect: bool = False
    #: Can be saved for later off-session charges.
    supports_saving: bool = False


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """What a gateway can do; the core checks requests against it before calling."""

    #: ISO 4217 codes, upper case; empty means every currency.
    currencies: tuple[str, ...]
    methods: tuple[PaymentMethodConfig, ...]
    #: Authorize now, capture later (``InitiateRequest.capture=False``).
    supports_manual_capture: bool = True
    #: The gateway takes the money itself, so a region with automatic capture captures
    #: right after the order is placed. False where money moves by hand (bank transfer,
    #: cash on delivery): the payment stays authorized until staff capture what arrived.
    supports_automatic_capture: bool = True
    supports_partial_capture: bool = False
    supports_refunds: bool = True
    supports_partial_refunds: bool = False
    supports_saved_methods: bool = False
    supports_off_session: bool = False
    supports_webhooks: bool = False

    def method(self, method_type: str) -> PaymentMethodConfig | None:
        """The method of this type, or ``None``."""
        return next((m for m in self.methods if m.method_type == method_type), None)


@dataclass(frozen=True, slots=True)
class PaymentRef:
    """A payment the gateway already knows: our id, the gateway's id and the
    ``provider_data`` it returned last time (stored by the core, handed back unread)."""

    payment_id: str
    gateway_ref: str
    amount: int
    currency: str
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    #: The core's record when the call is made (the provider's own record wins).
    amount_captured: int = 0
    amount_refunded: int = 0


@dataclass(frozen=True, slots=True)
class RequiredAction:
    """What the customer must do before the payment can go on."""

    #: ``three_d_secure``, ``redirect``, ``verification``.
    type: str
    #: Safe to show the storefront: a redirect URL, a client secret, a QR code URL.
    data: Mapping[str, str] = field(default_factory=dict)
    #: When the gateway gives up on it; the core expires it after ``[payments]
    #: action_expiry_s`` when this is ``None``.
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MethodDetails:
    """Displayable facts about the instrument used (never a full card number)."""

    method_type: str
    brand: str = ""
    last4: str = ""
    exp_month: int = 0
    exp_year: int = 0
    #: Reusable token when the method was saved ("pm_...").
    token: str = ""
    #: ``save_method`` only: the provider's customer the method is attached to ("cus_..."
    #: at Stripe). The core stores it per (customer, gateway) and sends it back as
    #: ``gateway_customer_id`` on later requests.
    gateway_customer_id: str = ""


@dataclass(frozen=True, slots=True)
class InitiateRequest:
    """Start a payment of ``amount`` minor units of ``currency`` for ``payment_id``."""

    payment_id: str
    amount: int
    currency: str
    method_type: str
    #: Stable across retries of this call; forward it in the provider's own form
    #: (Stripe ``Idempotency-Key`` header, Airwallex ``request_id``, ...).
    idempotency_key: str
    #: What the storefront collected for this gateway: a provider token (``{"token":
    #: "pm_card_visa"}``), or test card fields; never stored by the core.
    method_data: Mapping[str, str] = field(default_factory=dict)
    #: True: capture at once (automatic capture); False: authorize only.
    capture: bool = True
    customer_id: str = ""
    customer_email: str = ""
    #: Save the method for later off-session charges (``MethodDetails.token``).
    save_method: bool = False
    return_url: str = ""
    description: str = ""
    #: "carts/..." or "orders/..." and other references for the provider's dashboard.
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: The provider's customer of ``customer_id`` stored by the core ("" when none yet):
    #: use it instead of looking the customer up.
    gateway_customer_id: str = ""


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """Where the payment stands after initiate, complete_action, status or an off-session
    charge. A decline is a result (``FAILED``); raise :class:`GatewayError` only when the
    outcome is unknown."""

    outcome: PaymentOutcome
    #: The provider's id of the payment ("pi_..."); required unless FAILED before creation.
    gateway_ref: str = ""
    amount_authorized: int = 0
    amount_captured: int = 0
    action: RequiredAction | None = None
    #: Provider's reason for FAILED, lower_snake ("card_declined", "insufficient_funds").
    error_code: str = ""
    error_message: str = ""
    #: FAILED only: trying again (another card, later) can succeed.
    retry_allowed: bool = True
    method: MethodDetails | None = None
    #: Stored on the payment and handed back in ``PaymentRef``; never shown publicly.
    provider_data: Mapping[str, Any] = field(default_factory=dict)
    #: The provider's id of the money movement ("ch_..." charge, PayPal capture id); shown
    #: on the payment as ``transaction_id``.
    transaction_id: str = ""
    #: The provider's receipt page, shown on the payment as ``receipt_url``.
    receipt_url: str = ""
    #: The provider's customer the payment's method was saved to ("cus_..."); the core
    #: stores it per (customer, gateway) like ``MethodDetails.gateway_customer_id``.
    gateway_customer_id: str = ""


@dataclass(frozen=True, slots=True)
class CompleteActionRequest:
    payment: PaymentRef
    idempotency_key: str
    #: What the storefront got back from the action (``{"payment_intent": "pi_1"}``).
    action_data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    payment: PaymentRef
    #: Minor units; at most the authorized amount; less only with partial capture. The
    #: rest of the authorization is released.
    amount: int
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class VoidRequest:
    payment: PaymentRef
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class RefundRequest:
    payment: PaymentRef
    #: Minor units; never more than captured less already refunded (checked by the core).
    amount: int
    idempotency_key: str
    #: One of :data:`REFUND_REASONS`.
    reason: str = "requested_by_customer"
    #: Our id of this refund ("ptx_..."), for the provider's reference.
    refund_id: str = ""
    #: Free text of the refund (the caller's own reason when it was not one of
    #: :data:`REFUND_REASONS`); "" when none.
    note: str = ""


@dataclass(frozen=True, slots=True)
class OperationResult:
    """Answer to capture, void and refund."""

    status: OperationStatus
    #: Amount the operation moved (captured or refunded), minor units.
    amount: int = 0
    #: The provider's id of the capture, refund or void ("re_...").
    reference: str = ""
    error_code: str = ""
    error_message: str = ""
    #: Merged into what the core stores (the keys given replace the stored ones) and
    #: handed back in ``PaymentRef.provider_data`` on later calls.
    provider_data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SaveMethodRequest:
    customer_id: str
    method_type: str
    method_data: Mapping[str, str]
    idempotency_key: str
    customer_email: str = ""
    #: The provider's customer stored by the core for ``customer_id`` ("" when none yet).
    gateway_customer_id: str = ""


@dataclass(frozen=True, slots=True)
class OffSessionRequest:
    """Charge a saved method without the customer present (renewals, dunning)."""

    payment_id: str
    customer_id: str
    token: str
    amount: int
    currency: str
    idempotency_key: str
    description: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: The provider's customer stored by the core for ``customer_id`` ("" when none yet).
    gateway_customer_id: str = ""


class WebhookEventType(enum.StrEnum):
    """Normalized inbound webhook events."""

    PAYMENT_AUTHORIZED = "payment_authorized"
    PAYMENT_SUCCEEDED = "payment_succeeded"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_CANCELLED = "payment_cancelled"
    #: ``amount`` is the *cumulative* refunded total, so redelivery and reordering are safe.
    PAYMENT_REFUNDED = "payment_refunded"
    DISPUTE_CREATED = "dispute_created"
    #: ``data["outcome"]`` is "won" or "lost".
    DISPUTE_RESOLVED = "dispute_resolved"
    #: Authentic but of no interest: acknowledged and ignored.
    IGNORED = "ignored"


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    #: The body exactly as received: signatures cover these bytes.
    body: bytes
    #: Request headers, lower-case names.
    headers: Mapping[str, str]
    received_at: datetime
    #: Reject signatures older (or newer) than this many seconds (``[payments]``).
    tolerance_s: int = 300


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified inbound event."""

    #: The provider's event id ("evt_..."); deliveries are deduplicated on it.
    event_id: str
    type: WebhookEventType
    #: The provider's payment id the event is about ("pi_..."); "" for IGNORED.
    gateway_ref: str = ""
    #: Minor units: captured amount, or the cumulative refunded total.
    amount: int | None = None
    currency: str = ""
    occurred_at: datetime | None = None
    #: The provider's event type as sent ("payment_intent.succeeded").
    provider_type: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class PaymentGateway(Protocol):
    """Moves money. Returned by ``rcommerce_payment_gateways``; the semantics every method
    must honour are in docs/plugins.md ("Payment gateways"), and
    :mod:`rcommerce.testing.payments` is the conformance kit that checks them.

    Every mutating call carries an ``idempotency_key``: the same key with the same request
    must not move money twice (forward it to the provider). Declines are results; raise
    :class:`GatewayError` when the outcome is unknown, :class:`UnsupportedOperation` for
    what ``config()`` says is not offered.
    """

    code: str
    display_name: str

    def config(self) -> GatewayConfig: ...

    async def initiate(self, request: InitiateRequest) -> PaymentResult: ...

    async def complete_action(self, request: CompleteActionRequest) -> PaymentResult: ...

    async def capture(self, request: CaptureRequest) -> OperationResult: ...

    async def void(self, request: VoidRequest) -> OperationResult: ...

    async def refund(self, request: RefundRequest) -> OperationResult: ...

    async def status(self, payment: PaymentRef) -> PaymentResult: ...

    async def save_method(self, request: SaveMethodRequest) -> MethodDetails: ...

    async def list_methods(self, customer_id: str) -> list[MethodDetails]: ...

    async def delete_method(self, customer_id: str, token: str) -> None: ...

    async def charge_off_session(self, request: OffSessionRequest) -> PaymentResult: ...

    def parse_webhook(self, request: WebhookRequest) -> WebhookEvent | Awaitable[WebhookEvent]:
        """Verify and map an inbound webhook. May be ``async`` (return an awaitable) when
        verification needs the provider's API; the core awaits it under the gateway timeout."""
        ...


# -- shipping --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parcel:
    weight_g: int
    length_mm: int = 0
    width_mm: int = 0
    height_mm: int = 0


@dataclass(frozen=True, slots=True)
class RateItem:
    """One line of the shipment, for carriers that price by content (since 0.2)."""

    variant_id: str
    quantity: int
    #: Minor units per unit, after price lists.
    unit_price: int
    weight_g: int
    sku: str = ""
    product_id: str = ""


@dataclass(frozen=True, slots=True)
class RateRequest:
    origin: Address
    destination: Address
    #: The shipment packed into parcels (greedy first fit, see docs/shipping.md).
    parcels: tuple[Parcel, ...]
    #: Currency the quotes should be in; quotes in another currency are refused.
    currency: str
    #: Merchandise subtotal after discounts, minor units (since 0.2).
    subtotal: int = 0
    #: The lines that need shipping (since 0.2).
    items: tuple[RateItem, ...] = ()


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

    Optional attribute ``medium: str``: what the channel delivers, one of "email",
    "sms", "push", "log" or "other". Customer preferences switch media off and hold
    email/sms/push during quiet hours; a channel without it counts as "other" (only the
    customer's topic opt-outs apply). Read it with :func:`channel_medium`. It is not a
    protocol member so that channels written before it still satisfy the protocol.
    """

    code: str
    display_name: str

    async def send(self, message: NotificationMessage) -> SendResult: ...


def channel_medium(channel: object) -> str:
    """The channel's ``medium`` ("email", "sms", "push", "log"), "other" when it declares
    none or an unknown one."""
    medium = getattr(channel, "medium", "")
    return medium if isinstance(medium, str) and medium in ("email", "sms", "push", "log") else "other"


# -- tax -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaxLine:
    line_id: str
    #: Taxable base of the line in minor units, after discounts (DECISIONS 12): net, or
    #: gross when ``prices_include_tax``.
    amount: int
    #: Tax category code ("" for the standard rate).
    tax_category: str = ""
    quantity: int = 1


@dataclass(frozen=True, slots=True)
class TaxRequest:
    currency: str
    destination: Address
    lines: tuple[TaxLine, ...]
    #: Shipping charged, minor units, after shipping discounts; taxed at the destination's
    #: combined rate (DECISIONS 12).
    shipping_amount: int = 0
    #: True when amounts already include tax (gross prices): tax = gross x r / (1 + r).
    prices_include_tax: bool = False
    customer_id: str = ""
    #: The customer is exempt: zero tax, ``TaxResult.exempt``.
    customer_tax_exempt: bool = False
    #: Buyer VAT id for EU B2B reverse charge ("" when none); checked by the core.
    vat_id: str = ""
    #: Seller's country (ISO alpha-2), from ``[tax] origin_country``.
    origin_country: str = ""


@dataclass(frozen=True, slots=True)
class TaxComponent:
    """One jurisdiction's share of a line's (or shipping's) tax."""

    #: "NY State", "DE VAT 19%".
    name: str
    #: Fraction: 0.0875 is 8.75 %.
    rate: Decimal
    #: Minor units, rounded half up for this component alone (DECISIONS 5).
    amount: int
    #: Zone code.
    jurisdiction: str = ""
    rate_id: str = ""


@dataclass(frozen=True, slots=True)
class LineTax:
    line_id: str
    taxable_amount: int
    components: tuple[TaxComponent, ...]

    @property
    def tax_amount(self) -> int:
        """Sum of the components, minor units."""
        return sum(c.amount for c in self.components)


@dataclass(frozen=True, slots=True)
class TaxResult:
    lines: tuple[LineTax, ...]
    shipping: tuple[TaxComponent, ...] = ()
    #: EU B2B reverse charge: no tax, the buyer accounts for it.
    reverse_charge_applied: bool = False
    #: The customer is exempt: no tax.
    exempt: bool = False

    @property
    def shipping_tax(self) -> int:
        """Tax on shipping, minor units."""
        return sum(c.amount for c in self.shipping)

    @property
    def total_tax(self) -> int:
        """Lines plus shipping, minor units."""
        return sum(line.tax_amount for line in self.lines) + self.shipping_tax


@runtime_checkable
class TaxProvider(Protocol):
    """Computes tax for a cart or order. Returned by ``rcommerce_tax_providers``.

    ``calculate`` runs on the request path whenever totals change; it returns one
    ``LineTax`` per request line (components per jurisdiction, each rounded half up) and
    the shipping components. The core handles exemptions and reverse charge before it
    calls a provider. Raise when the provider could not answer.
    """

    code: str
    display_name: str

    async def calculate(self, request: TaxRequest) -> TaxResult: ...


@dataclass(frozen=True, slots=True)
class VatCheck:
    """Answer of a :class:`VatValidator` for one VAT id."""

    #: Normalised id: country prefix plus number, upper case, no spaces ("DE136695976").
    vat_id: str
    #: Two-letter prefix as written in the id ("EL" for Greece).
    country: str
    valid: bool
    #: Why it is invalid ("format", "checksum", "not_registered"); "" when valid.
    reason: str = ""
    business_name: str = ""
    business_address: str = ""


@runtime_checkable
class VatValidator(Protocol):
    """Checks EU VAT ids. Returned by ``rcommerce_vat_validators``.

    The built-in ``format`` validator checks the national format and check digits with no
    I/O; a registry-backed validator (VIES-style) is called after it for ids that pass, and
    the first ``valid=False`` answer wins. An unknown id is a result (``valid=False``);
    raise when the registry could not answer (the core reports ``VAT_SERVICE_UNAVAILABLE``
    and never applies reverse charge on an unchecked id).
    """

    code: str
    display_name: str

    async def validate(self, vat_id: str) -> VatCheck: ...


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
