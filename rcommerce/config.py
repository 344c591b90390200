"""Typed settings: ``rcommerce.toml`` plus ``RCOMMERCE_<SECTION>__<KEY>`` environment overrides.

Precedence, lowest first: built-in defaults, the TOML file, the environment. Nested keys
use double underscores all the way down: ``RCOMMERCE_DATABASE__URL``,
``RCOMMERCE_PLUGINS__EXAMPLE__GREETING``. Values from the environment are parsed as TOML
scalars or arrays when they look like one (``8080``, ``true``, ``["a","b"]``) and kept
as strings otherwise. Invalid settings stop start-up with every problem listed.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

ENV_PREFIX = "RCOMMERCE_"
DEFAULT_CONFIG_FILE = "rcommerce.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    """``[server]``: listeners and process model."""

    host: str = "127.0.0.1"
    grpc_port: int = Field(50051, ge=0, le=65535)
    http_port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    #: Largest accepted request, on both transports.
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    #: Seconds to let in-flight requests finish after SIGTERM.
    shutdown_grace_s: float = Field(10.0, ge=0)
    #: "asyncio" or "uvloop" (faster; grpc.aio on uvloop is not officially supported).
    event_loop: Literal["asyncio", "uvloop"] = "asyncio"
    #: Print every field of REST responses, defaults included (proto3 EmitUnpopulated).
    emit_unpopulated: bool = True
    #: Run the outbox dispatcher and jobs inside `rcommerce serve`.
    run_workers_in_process: bool = True
    #: Let this process's job workers (in process, or `rcommerce worker`) enqueue the
    #: recurring jobs: the checkout reconciler and the payment, reservation and quote
    #: sweeps. Safe in every process (each slot is enqueued once); turn it off where
    #: another process should be the only one to schedule them.
    run_schedules: bool = True
    #: Reverse proxies (CIDRs) whose X-Forwarded-For is believed: the client address is
    #: the right-most entry not in this list. Empty: X-Forwarded-For is ignored.
    trusted_proxies: list[str] = []

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value, strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP address or CIDR block") from None
        return values


class DatabaseSettings(_Section):
    """``[database]``: where the data lives. SQLite, PostgreSQL or MySQL/MariaDB by URL."""

    url: str = "sqlite+aiosqlite:///./var/rcommerce.db"
    pool_size: int = Field(10, ge=1)
    max_overflow: int = Field(10, ge=0)
    #: A pooled connection idle this long is checked with a round trip before use.
    ping_after_idle_s: float = Field(5.0, ge=0)
    #: SQLite: how long a write transaction waits for the database's one write lock.
    sqlite_busy_timeout_s: float = Field(30.0, gt=0)
    echo: bool = False
    #: Apply migrations at start when the database is the embedded SQLite file.
    auto_migrate_embedded: bool = True

    @field_validator("url")
    @classmethod
    def _known_driver(cls, url: str) -> str:
        allowed = ("sqlite+aiosqlite://", "postgresql+asyncpg://", "mysql+asyncmy://", "mariadb+asyncmy://")
        if not url.startswith(allowed):
            raise ValueError(f"must start with one of {', '.join(allowed)}")
        return url

    @property
    def dialect(self) -> str:
        return self.url.split("+", 1)[0].split(":", 1)[0].replace("mariadb", "mysql")

    @property
    def embedded(self) -> bool:
        return self.dialect == "sqlite"


class CacheSettings(_Section):
    """``[cache]``: "memory://" or a redis:// URL. Redis down degrades to memory."""

    url: str = "memory://"
    #: Lifetime of cached catalog reads, seconds.
    catalog_ttl_s: float = Field(300, gt=0)
    #: Lifetime of memoised reference data (regions, tax zones, shipping tables), seconds:
    #: the safety net when an invalidation was lost (writes invalidate it at once).
    reference_ttl_s: float = Field(300, gt=0)
    #: Reference entries kept per process.
    reference_max_entries: int = Field(10_000, ge=100)
    #: Lifetime of a verified API key in the cache, seconds (revocation clears it at once).
    auth_ttl_s: float = Field(60, gt=0)
    #: Seconds before retrying Redis after it failed.
    redis_retry_s: float = Field(5, gt=0)
    #: Entries kept by the memory backend.
    memory_max_entries: int = Field(50_000, ge=100)

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        if not url.startswith(("memory://", "redis://", "rediss://", "unix://")):
            raise ValueError("must be memory:// or a redis://, rediss:// or unix:// URL")
        return url


class SecuritySettings(_Section):
    """``[security]``: secrets. Empty ``secret_key`` means: generate one and keep it in the
    database, so every process shares it."""

    secret_key: SecretStr = SecretStr("")
    #: Allowed CORS origins for the REST bridge; empty disables CORS.
    cors_origins: list[str] = []


class WebhooksSettings(_Section):
    """``[webhooks]``: outbound webhook delivery."""

    #: Allow endpoints on private, loopback and link-local addresses (for tests and
    #: private networks). Off by default: a merchant-supplied URL must not reach inside.
    allow_private_targets: bool = False
    #: Seconds to wait for a receiver's answer.
    timeout_s: float = Field(10.0, gt=0, le=60)
    #: Consecutive finally-failed deliveries after which an endpoint is disabled.
    disable_after_failures: int = Field(5, ge=1)


class NotificationsSettings(_Section):
    """``[notifications]``: notification templates."""

    #: Directory of template files overriding the built-ins (``<name>.subject.j2``,
    #: ``<name>.txt.j2``, ``<name>.html.j2``); empty uses the built-ins only.
    template_dir: str = ""
    #: Available to every template as ``company_name``.
    company_name: str = "rcommerce store"
    #: Available to every template as ``support_email``.
    support_email: str = "support@example.com"
    #: The storefront's base URL: templates link to it (``shop_url``, ``login_url``,
    #: ``help_center_url``, a payment's ``retry_url``; docs/notifications.md).
    shop_url: str = "http://localhost:3000"


class ShippingSettings(_Section):
    """``[shipping]``: quoting (docs/shipping.md)."""

    #: How long a stored shipping quote can be selected, minutes.
    quote_ttl_minutes: int = Field(30, ge=1, le=7 * 24 * 60)
    #: Seconds a carrier may take to answer a quote before it counts as failed (CARRIER_ERROR).
    carrier_timeout_s: float = Field(10.0, gt=0, le=60)
    #: Heaviest parcel the packer fills, grams; heavier shipments are split into parcels.
    max_parcel_weight_grams: int = Field(30000, ge=1)
    #: Where shipments leave from (sent to carriers as the origin).
    origin_country: str = "US"
    origin_region: str = "CA"
    origin_postal_code: str = "94102"
    origin_city: str = "San Francisco"


class TaxRateSeed(_Section):
    """One rate of a ``[[tax.zones]]`` seed."""

    name: str = Field(min_length=1, max_length=255)
    #: Decimal fraction as a string: "0.0875".
    rate: str = Field(pattern=r"^(0(\.\d{1,6})?|1(\.0{1,6})?)$")
    #: Category code ("" = the zone's standard rate); created when missing.
    category: str = ""
    applies_to_shipping: bool = True


class TaxZoneSeed(_Section):
    """A ``[[tax.zones]]`` entry, created at start-up when no zone has its code."""

    code: str = Field(min_length=1, max_length=64)
    name: str = ""
    country: str = Field(pattern=r"^[A-Z]{2}$")
    region: str = ""
    postal_patterns: list[str] = []
    rates: list[TaxRateSeed] = []


class TaxSettings(_Section):
    """``[tax]``: provider, seller country and seeded zones (docs/tax.md)."""

    #: Seller's country (ISO alpha-2) for EU B2B reverse charge; "" never applies it.
    origin_country: str = Field("", pattern=r"^([A-Z]{2})?$")
    #: Tax provider used when a region names none.
    default_provider: str = "builtin"
    #: Days a registry validator's answer for a VAT id is reused.
    vat_cache_days: int = Field(30, ge=0, le=365)
    #: Zones and rates created at start-up when missing (existing codes are left alone).
    zones: list[TaxZoneSeed] = []


class InventorySettings(_Section):
    """``[inventory]``: stock reservations and low-stock alerts (docs/inventory.md)."""

    #: Minutes a reservation made without an explicit expiry (CreateReservation) is held.
    reservation_timeout_minutes: int = Field(30, ge=1)
    #: Units: a variant with fewer available is low; below half of it, critical.
    low_stock_threshold: int = Field(20, ge=0)


class PaymentsSettings(_Section):
    """``[payments]``: payment sessions and inbound gateway webhooks (docs/payments.md)."""

    #: Inbound webhook signatures older or newer than this many seconds are rejected.
    webhook_tolerance_s: int = Field(300, ge=1, le=3600)
    #: Seconds a customer action (3-D Secure, redirect) may take before the payment is
    #: cancelled, when the gateway gives no expiry of its own (30 minutes).
    action_expiry_s: int = Field(1800, ge=60, le=7 * 86_400)
    #: Seconds a gateway may take to answer before the call counts as failed
    #: (PAYMENT_GATEWAY_ERROR; retrying with the same idempotency key is safe).
    gateway_timeout_s: float = Field(30.0, gt=0, le=300)
    #: Seconds after which an operation that never finished (a crashed process) no longer
    #: blocks its payment or its idempotency key.
    lock_timeout_s: int = Field(120, ge=1, le=3600)
    #: Days a stored idempotency key (and its answer) is kept; older keys are deleted by
    #: the every-minute payments sweep, and a retry after that is a new request.
    idempotency_key_ttl_days: int = Field(30, ge=1, le=365)
    #: What a background sweep finishes at the gateway (the checkout reconciler's
    #: captures and voids, the void of an expired customer action) is tried again this
    #: many seconds after a gateway error, doubling after each further error ...
    gateway_retry_s: int = Field(60, ge=0, le=86_400)
    #: ... up to this many seconds between tries, for as long as it is still to do (an
    #: answer the gateway declines is not retried).
    gateway_retry_max_s: int = Field(3600, ge=0, le=7 * 86_400)


class CartsSettings(_Section):
    """``[carts]``: cart lifetime (docs/carts-and-pricing.md)."""

    #: Days a cart lives after its last change; then it is expired (CART_EXPIRED, 410).
    ttl_days: int = Field(30, ge=1, le=365)


class OrdersSettings(_Section):
    """``[orders]``: the built-in fraud rules and thresholds (docs/orders.md, core-domain §3.15)."""

    #: Orders whose total reaches this amount (major units of the order currency) score +30.
    fraud_high_value_threshold: str = Field("1000.00", pattern=r"^\d{1,12}(\.\d{1,3})?$")
    #: Score a first order at or above the threshold adds 50 (off by default, as in the spec).
    fraud_new_customer_rule: bool = False
    #: Scores: at or above block_at the order is held as payment_blocked_by_fraud; at or
    #: above review_at it is held for review (on_hold); at or above monitor_at it is watched.
    fraud_block_at: int = Field(75, ge=0, le=100)
    fraud_review_at: int = Field(50, ge=0, le=100)
    fraud_monitor_at: int = Field(25, ge=0, le=100)
    #: Days after the last delivery during which a customer may request a return of their
    #: own order (RequestReturn; RETURN_WINDOW_CLOSED after). 0 closes self-service returns.
    return_window_days: int = Field(30, ge=0, le=3650)


class CheckoutSettings(_Section):
    """``[checkout]``: checkout completion and the reconciler (docs/checkout.md)."""

    #: Seconds after which an authorization that no order took is voided by the
    #: reconciler (a crash between authorization and order placement).
    orphan_timeout_s: int = Field(900, ge=0, le=7 * 86_400)
    #: Seconds a completion holds its cart's lease; a crashed completion blocks the cart
    #: (CHECKOUT_IN_PROGRESS) at most this long.
    lease_timeout_s: int = Field(120, ge=1, le=3600)
    #: Seconds a repeated completion with the same idempotency key waits for the one in
    #: flight before it answers CHECKOUT_IN_PROGRESS.
    in_progress_wait_s: float = Field(10.0, ge=0, le=120)
    #: Testing only: "crash_after_authorize" ends the process right after the gateway
    #: authorized a checkout payment, "crash_after_placement" right after the order (with
    #: the automatic capture's claim) committed (the crash tests of the reconciler). Keep "".
    fault_injection: Literal["", "crash_after_authorize", "crash_after_placement"] = ""


class CustomersSettings(_Section):
    """``[customers]``: customer sign-in sessions and password resets."""

    #: Lifetime of a customer access token, seconds (15 minutes).
    access_token_ttl_s: int = Field(900, ge=60, le=86_400)
    #: Lifetime of a sign-in session and its refresh tokens, seconds (30 days).
    refresh_token_ttl_s: int = Field(2_592_000, ge=3600)
    #: Lifetime of a password-reset token, seconds (1 hour).
    password_reset_ttl_s: int = Field(3600, ge=300, le=86_400)
    #: Link mailed for a password reset; ``{token}`` is replaced by the token.
    password_reset_url: str = "http://localhost:3000/account/reset-password?token={token}"  # noqa: S105 - a URL template
    #: Sign-in attempts allowed per minute, per client address and per email.
    sign_in_limit_per_minute: int = Field(10, ge=1)
    #: Sign-in attempts allowed at once before the per-minute pace applies.
    sign_in_burst: int = Field(10, ge=1)

    @field_validator("password_reset_url")
    @classmethod
    def _has_token(cls, url: str) -> str:
        if "{token}" not in url:
            raise ValueError("must contain {token}")
        return url


class RateLimitSettings(_Section):
    """``[rate_limits]``: requests per minute and burst per caller class (DECISIONS 23,
    docs/rate-limits.md). Anonymous and publishable-key callers are counted per client
    address, secret keys per key, customers per customer. Sign-in has its own limit
    (``[customers]``)."""

    enabled: bool = True
    anonymous_per_minute: int = Field(60, ge=1)
    anonymous_burst: int = Field(20, ge=1)
    publishable_per_minute: int = Field(300, ge=1)
    publishable_burst: int = Field(50, ge=1)
    customer_per_minute: int = Field(500, ge=1)
    customer_burst: int = Field(50, ge=1)
    secret_key_per_minute: int = Field(1000, ge=1)
    secret_key_burst: int = Field(100, ge=1)


class LoggingSettings(_Section):
    """``[logging]``."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"
    #: Log one line per request (method, code, latency, request id).
    access_log: bool = True


class PluginsSettings(BaseModel):
    """``[plugins]``: discovery switches; ``[plugins.<name>]`` tables hold each plugin's
    own settings, validated by that plugin's settings model."""

    model_config = ConfigDict(extra="allow", frozen=True)

    #: Load plugins found through the ``rcommerce`` entry-point group.
    autoload: bool = True
    #: When non-empty, only these plugins are loaded (built-ins always are).
    enabled: list[str] = []
    #: Plugins never loaded.
    disabled: list[str] = []

    def table(self, name: str) -> dict[str, Any]:
        """The raw ``[plugins.<name>]`` table ({} when absent)."""
        extra = self.model_extra or {}
        value = extra.get(name, {})
        table: dict[str, Any] = {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}
        return table


class Settings(BaseModel):
    """All settings. Build with :func:`load_settings`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    cache: CacheSettings = CacheSettings()
    security: SecuritySettings = SecuritySettings()
    logging: LoggingSettings = LoggingSettings()
    webhooks: WebhooksSettings = WebhooksSettings()
    notifications: NotificationsSettings = NotificationsSettings()
    inventory: InventorySettings = InventorySettings()
    shipping: ShippingSettings = ShippingSettings()
    tax: TaxSettings = TaxSettings()
    carts: CartsSettings = CartsSettings()
    checkout: CheckoutSettings = CheckoutSettings()
    orders: OrdersSettings = OrdersSettings()
    payments: PaymentsSettings = PaymentsSettings()
    customers: CustomersSettings = CustomersSettings()
    rate_limits: RateLimitSettings = RateLimitSettings()
    plugins: PluginsSettings = PluginsSettings()

    #: The file the settings came from, if any (not a setting).
    source_file: str | None = None

    def redacted(self) -> dict[str, Any]:
        """The settings as plain data with secrets replaced by "**********"."""
        shown: dict[str, Any] = _redact(self.model_dump(mode="json", exclude={"source_file"}))
        return shown


class ConfigError(Exception):
    """Settings are missing or invalid; the message lists every problem."""


_SECRET_WORDS = ("secret", "password", "token", "api_key", "apikey", "private_key")


def _redact(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, key) for v in value]
    if isinstance(value, str) and value and any(w in key.lower() for w in _SECRET_WORDS):
        return "**********"
    if isinstance(value, str) and "://" in value and "@" in value:
        scheme, rest = value.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:**********@{host}" if ":" in creds else value
    return value


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, raw in environ.items():
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX) :].split("__")]
        if not all(path):
            raise ConfigError(f"{key}: empty section or key in the variable name")
        node = tree
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key}: {part} is both a value and a section")
        node[path[-1]] = _parse_env_value(raw)
    return tree


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(dict(merged[key]), value)
        else:
            merged[key] = value
    return merged


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read settings from ``path`` (default: ``$RCOMMERCE_CONFIG`` or ./rcommerce.toml
    when it exists), then the environment, then ``overrides``."""
    environ = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    chosen = path or environ.get("RCOMMERCE_CONFIG")
    file = Path(chosen) if chosen else Path(DEFAULT_CONFIG_FILE)
    if chosen and not file.is_file():
        raise ConfigError(f"config file {file} does not exist")
    if file.is_file():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    data = _merge(data, _env_overrides(environ))
    if overrides:
        data = _merge(data, overrides)
    try:
        return Settings(**data, source_file=str(file) if file.is_file() else None)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)]
        where = f" in {file}" if file.is_file() else ""
        raise ConfigError(f"invalid settings{where}:\n  " + "\n  ".join(problems)) from None
