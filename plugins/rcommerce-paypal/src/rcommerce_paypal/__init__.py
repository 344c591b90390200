"""rcommerce-paypal: the ``paypal`` payment gateway (Orders v2). Settings: ``[plugins.paypal]``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from rcommerce import hookimpl
from rcommerce.money import is_currency
from rcommerce.plugins.hookspecs import PluginConfig
from rcommerce.plugins.providers import PaymentGateway
from rcommerce_paypal.gateway import CURRENCIES, PAYPAL, PayPalGateway
from rcommerce_paypal.webhooks import PAYPAL_CERT_PREFIXES, CertificateStore, signed_message

__all__ = [
    "PAYPAL",
    "CertificateStore",
    "PayPalGateway",
    "PayPalSettings",
    "gateway_from_settings",
    "rcommerce_requires",
    "signed_message",
]

__version__ = "0.1.0"

rcommerce_requires = ">=0.1,<0.2"

LIVE = "https://api-m.paypal.com"
SANDBOX = "https://api-m.sandbox.paypal.com"


class PayPalSettings(BaseModel):
    """``[plugins.paypal]``: the REST app's credentials and the webhook subscription id."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    #: The id PayPal gave the webhook subscription of this shop ("WH-..." / a 17-character id);
    #: part of every signed message. Empty: webhooks are refused.
    webhook_id: str = ""
    #: Use PayPal's sandbox (``api-m.sandbox.paypal.com``) unless ``base_url`` is set.
    sandbox: bool = False
    #: The API host; empty means live or sandbox per ``sandbox``.
    base_url: str = ""
    #: Shown to the buyer on PayPal's pages.
    brand_name: str = Field("", max_length=127)
    currencies: tuple[str, ...] = CURRENCIES
    #: Where signing certificates may be fetched from (PayPal's own HTTPS hosts by default).
    cert_url_prefixes: tuple[str, ...] = PAYPAL_CERT_PREFIXES
    timeout: float = Field(30.0, gt=0, le=120)

    @field_validator("currencies")
    @classmethod
    def _currencies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in value if not is_currency(c) or c in ("HUF", "TWD")]
        if bad or not value:
            raise ValueError(
                f"currencies must be ISO 4217 codes PayPal takes with ISO decimals; not {', '.join(bad) or 'empty'}"
            )
        return value

    @model_validator(mode="after")
    def _complete(self) -> PayPalSettings:
        if not self.client_secret.get_secret_value():
            raise ValueError("client_secret is required")
        if self.base_url and not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        if not all(p.startswith(("https://", "http://")) for p in self.cert_url_prefixes):
            raise ValueError("cert_url_prefixes must be http(s) URL prefixes")
        return self

    @property
    def api_url(self) -> str:
        return self.base_url or (SANDBOX if self.sandbox else LIVE)


settings_model = PayPalSettings


def gateway_from_settings(settings: PayPalSettings) -> PayPalGateway:
    return PayPalGateway(
        client_id=settings.client_id, client_secret=settings.client_secret.get_secret_value(),
        webhook_id=settings.webhook_id, base_url=settings.api_url, brand_name=settings.brand_name,
        currencies=settings.currencies, cert_url_prefixes=settings.cert_url_prefixes, timeout=settings.timeout,
    )  # fmt: skip


@hookimpl
def rcommerce_payment_gateways(config: PluginConfig) -> list[PaymentGateway]:
    settings = config if isinstance(config, PayPalSettings) else PayPalSettings.model_validate(config)
    return [gateway_from_settings(settings)]
