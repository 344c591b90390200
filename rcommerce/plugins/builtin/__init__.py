"""The built-in plugin: providers every installation has, registered through the same
hooks and the same ``builtin`` entry point as third-party plugins.

Settings live under ``[plugins.builtin]``::

    [plugins.builtin]
    mail_dir = "./var/mail"         # the "file" notification channel writes .eml files here
    media_dir = "./var/media"       # the "local" storage backend's root
    media_base_url = "/media/"      # public URL prefix of the "local" backend
    log_level = "INFO"              # level of the "log" notification channel
    test_gateway = true             # offer the "test" payment gateway (turn off in production)
    test_webhook_secret = "whsec_test"  # secret of the "test" gateway's signed webhooks
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rcommerce import hookimpl
from rcommerce.domain.tax.vat import FormatVatValidator
from rcommerce.plugins.builtin.file_channel import FileChannel
from rcommerce.plugins.builtin.local_storage import LocalStorage
from rcommerce.plugins.builtin.log_channel import LogChannel
from rcommerce.plugins.builtin.manual_gateway import ManualGateway
from rcommerce.plugins.builtin.tax_provider import BuiltinTaxProvider
from rcommerce.plugins.builtin.test_gateway import TestGateway
from rcommerce.plugins.hookspecs import PluginConfig
from rcommerce.plugins.providers import NotificationChannel, PaymentGateway, StorageBackend, TaxProvider, VatValidator

__all__ = ["BuiltinSettings", "BuiltinTaxProvider", "FileChannel", "LocalStorage", "LogChannel", "rcommerce_requires"]

rcommerce_requires = ">=0.1,<0.2"


class BuiltinSettings(BaseModel):
    """``[plugins.builtin]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mail_dir: str = Field("./var/mail", min_length=1)
    media_dir: str = Field("./var/media", min_length=1)
    media_base_url: str = "/media/"
    log_level: Literal["DEBUG", "INFO", "WARNING"] = "INFO"
    test_gateway: bool = True
    test_webhook_secret: str = Field("whsec_test", min_length=1)


settings_model = BuiltinSettings


def _settings(config: PluginConfig) -> BuiltinSettings:
    return config if isinstance(config, BuiltinSettings) else BuiltinSettings.model_validate(config)


@hookimpl
def rcommerce_notification_channels(config: PluginConfig) -> list[NotificationChannel]:
    settings = _settings(config)
    return [LogChannel(level=settings.log_level), FileChannel(settings.mail_dir)]


@hookimpl
def rcommerce_storage_backends(config: PluginConfig) -> list[StorageBackend]:
    settings = _settings(config)
    return [LocalStorage(settings.media_dir, base_url=settings.media_base_url)]


@hookimpl
def rcommerce_tax_providers(config: PluginConfig) -> list[TaxProvider]:
    return [BuiltinTaxProvider()]


@hookimpl
def rcommerce_vat_validators(config: PluginConfig) -> list[VatValidator]:
    return [FormatVatValidator()]


@hookimpl
def rcommerce_payment_gateways(config: PluginConfig) -> list[PaymentGateway]:
    settings = _settings(config)
    gateways: list[PaymentGateway] = [ManualGateway()]
    if settings.test_gateway:
        gateways.append(TestGateway(webhook_secret=settings.test_webhook_secret))
    return gateways
