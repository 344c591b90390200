"""rcommerce-smtp: the ``smtp`` notification channel. Settings: ``[plugins.smtp]``."""

from __future__ import annotations

import ssl

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from rcommerce import hookimpl
from rcommerce.plugins.hookspecs import PluginConfig
from rcommerce.plugins.providers import NotificationChannel
from rcommerce_smtp.channel import SMTPChannel, SMTPDeliveryError

__all__ = ["SMTPChannel", "SMTPDeliveryError", "SMTPSettings", "rcommerce_requires"]

__version__ = "0.1.0"

rcommerce_requires = ">=0.1,<0.2"


class SMTPSettings(BaseModel):
    """``[plugins.smtp]``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    host: str = Field("localhost", min_length=1)
    port: int = Field(587, ge=1, le=65535)
    username: str = ""
    password: SecretStr = SecretStr("")
    #: Upgrade the connection with STARTTLS (required when true).
    starttls: bool = True
    #: Implicit TLS (port 465); excludes ``starttls``.
    ssl: bool = False
    sender: str = Field("rcommerce@localhost", alias="from", min_length=3)
    #: PEM bundle of the CA that signed the server's certificate, for servers behind a
    #: private CA. Empty: the system trust store. Verification is never switched off.
    ca_file: str = ""
    timeout: float = Field(30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _one_tls_mode(self) -> SMTPSettings:
        if self.ssl and self.starttls:
            raise ValueError("set either ssl (implicit TLS) or starttls, not both")
        return self


settings_model = SMTPSettings


def _settings(config: PluginConfig) -> SMTPSettings:
    return config if isinstance(config, SMTPSettings) else SMTPSettings.model_validate(config)


def channel_from_settings(settings: SMTPSettings) -> SMTPChannel:
    tls_context = ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else None
    return SMTPChannel(
        host=settings.host, port=settings.port, username=settings.username,
        password=settings.password.get_secret_value(), starttls=settings.starttls, ssl=settings.ssl,
        sender=settings.sender, timeout=settings.timeout, tls_context=tls_context,
    )  # fmt: skip


@hookimpl
def rcommerce_notification_channels(config: PluginConfig) -> list[NotificationChannel]:
    return [channel_from_settings(_settings(config))]
