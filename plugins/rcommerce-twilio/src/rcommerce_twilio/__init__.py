"""rcommerce-twilio: the ``twilio`` SMS notification channel. Settings: ``[plugins.twilio]``."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from rcommerce import hookimpl
from rcommerce.plugins.hookspecs import PluginConfig
from rcommerce.plugins.providers import NotificationChannel
from rcommerce_twilio.channel import TwilioDeliveryError, TwilioSMSChannel

__all__ = ["TwilioDeliveryError", "TwilioSMSChannel", "TwilioSettings", "rcommerce_requires"]

__version__ = "0.1.0"

rcommerce_requires = ">=0.1,<0.2"

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_API_KEY_SID = re.compile(r"^SK[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")


class TwilioSettings(BaseModel):
    """``[plugins.twilio]``: the account, how to authenticate, and who the sender is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    account_sid: str = Field(min_length=34, max_length=34)
    #: The account's auth token, or leave empty and set an API key pair.
    auth_token: SecretStr = SecretStr("")
    api_key_sid: str = ""
    api_key_secret: SecretStr = SecretStr("")
    #: Sender: an E.164 number ("+15005550006") or alphanumeric sender id ...
    from_number: str = ""
    #: ... or a Messaging Service, which picks the sender itself.
    messaging_service_sid: str = ""
    #: Where Twilio posts delivery status updates (optional).
    status_callback: str = ""
    base_url: str = "https://api.twilio.com"
    timeout: float = Field(15.0, gt=0, le=120)

    @model_validator(mode="after")
    def _complete(self) -> TwilioSettings:
        if not _ACCOUNT_SID.match(self.account_sid):
            raise ValueError("account_sid must be 'AC' followed by 32 hex digits")
        has_token = bool(self.auth_token.get_secret_value())
        has_key = bool(self.api_key_sid or self.api_key_secret.get_secret_value())
        if has_token == has_key:
            raise ValueError("set either auth_token or api_key_sid + api_key_secret")
        if has_key and (not _API_KEY_SID.match(self.api_key_sid) or not self.api_key_secret.get_secret_value()):
            raise ValueError("api_key_sid must be 'SK' followed by 32 hex digits, with api_key_secret")
        if bool(self.from_number) == bool(self.messaging_service_sid):
            raise ValueError("set exactly one of from_number or messaging_service_sid")
        if self.messaging_service_sid and not _SERVICE_SID.match(self.messaging_service_sid):
            raise ValueError("messaging_service_sid must be 'MG' followed by 32 hex digits")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")
        return self


settings_model = TwilioSettings


def _settings(config: PluginConfig) -> TwilioSettings:
    return config if isinstance(config, TwilioSettings) else TwilioSettings.model_validate(config)


def channel_from_settings(settings: TwilioSettings) -> TwilioSMSChannel:
    if settings.api_key_sid:
        username, password = settings.api_key_sid, settings.api_key_secret.get_secret_value()
    else:
        username, password = settings.account_sid, settings.auth_token.get_secret_value()
    return TwilioSMSChannel(
        account_sid=settings.account_sid, username=username, password=password,
        from_number=settings.from_number, messaging_service_sid=settings.messaging_service_sid,
        status_callback=settings.status_callback, base_url=settings.base_url, timeout=settings.timeout,
    )  # fmt: skip


@hookimpl
def rcommerce_notification_channels(config: PluginConfig) -> list[NotificationChannel]:
    return [channel_from_settings(_settings(config))]
