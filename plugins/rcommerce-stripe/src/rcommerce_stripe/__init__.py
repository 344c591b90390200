"""rcommerce-stripe: the ``stripe`` payment gateway (PaymentIntents). Settings: ``[plugins.stripe]``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from rcommerce import hookimpl
from rcommerce.money import is_currency
from rcommerce.plugins.hookspecs import PluginConfig
from rcommerce.plugins.providers import PaymentGateway
from rcommerce_stripe.gateway import API_VERSION, CURRENCIES, StripeGateway, parse_signature_header

__all__ = [
    "API_VERSION",
    "StripeGateway",
    "StripeSettings",
    "gateway_from_settings",
    "parse_signature_header",
    "rcommerce_requires",
]

__version__ = "0.1.0"

rcommerce_requires = ">=0.1,<0.2"


class StripeSettings(BaseModel):
    """``[plugins.stripe]``: the account's secret key, the webhook endpoint secret and the
    pinned API version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Secret (``sk_live_``/``sk_test_``) or restricted (``rk_``) key.
    secret_key: SecretStr
    #: The webhook endpoint's signing secret (``whsec_...``); empty: webhooks are refused.
    webhook_secret: SecretStr = SecretStr("")
    #: Every request carries ``Stripe-Version: <api_version>``; the code reads this version's shapes.
    api_version: str = API_VERSION
    base_url: str = "https://api.stripe.com"
    #: Currencies offered at checkout (upper-case ISO 4217).
    currencies: tuple[str, ...] = CURRENCIES
    #: Appended to the account's statement descriptor on card statements (optional).
    statement_descriptor_suffix: str = Field("", max_length=22)
    timeout: float = Field(30.0, gt=0, le=120)

    @field_validator("currencies")
    @classmethod
    def _currencies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in value if not is_currency(c)]
        if bad or not value:
            raise ValueError(f"currencies must be upper-case ISO 4217 codes; not {', '.join(bad) or 'empty'}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> StripeSettings:
        if not self.secret_key.get_secret_value().startswith(("sk_", "rk_")):
            raise ValueError("secret_key must be a Stripe secret key (sk_...) or restricted key (rk_...)")
        secret = self.webhook_secret.get_secret_value()
        if secret and not secret.startswith("whsec_"):
            raise ValueError("webhook_secret must be the endpoint's signing secret (whsec_...)")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        return self


settings_model = StripeSettings


def gateway_from_settings(settings: StripeSettings) -> StripeGateway:
    return StripeGateway(
        secret_key=settings.secret_key.get_secret_value(), webhook_secret=settings.webhook_secret.get_secret_value(),
        base_url=settings.base_url, api_version=settings.api_version, currencies=settings.currencies,
        statement_descriptor_suffix=settings.statement_descriptor_suffix, timeout=settings.timeout,
    )  # fmt: skip


@hookimpl
def rcommerce_payment_gateways(config: PluginConfig) -> list[PaymentGateway]:
    settings = config if isinstance(config, StripeSettings) else StripeSettings.model_validate(config)
    return [gateway_from_settings(settings)]
