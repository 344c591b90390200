"""rcommerce-example: a complete, small rcommerce plugin to copy from.

Offers an ``example-console`` notification channel (prints messages with a greeting),
an ``example-flat`` tax provider (one flat rate for every line) and records every
event it receives. Settings, under ``[plugins.example]``::

    [plugins.example]
    greeting = "Hello"
    currency = "EUR"      # the only currency the flat tax provider accepts
    rate_bps = 1900       # 19 %
"""

from __future__ import annotations

from collections import deque

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rcommerce import hookimpl
from rcommerce.plugins.hookspecs import PluginConfig
from rcommerce.plugins.providers import Event, NotificationChannel, TaxProvider
from rcommerce_example.console import ConsoleChannel
from rcommerce_example.flat_tax import FlatTax

__all__ = ["ConsoleChannel", "ExampleSettings", "FlatTax", "rcommerce_requires", "recorded_events"]

__version__ = "0.1.0"

#: The rcommerce versions this plugin works with; checked before it is registered.
rcommerce_requires = ">=0.1,<0.2"


class ExampleSettings(BaseModel):
    """``[plugins.example]``; ``RCOMMERCE_PLUGINS__EXAMPLE__GREETING=Hi`` overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    greeting: str = Field("Hello", min_length=1)
    #: ISO 4217 code the flat tax provider accepts.
    currency: str = "USD"
    #: Flat tax rate in basis points (1900 = 19 %).
    rate_bps: int = Field(0, ge=0, le=10_000)

    @field_validator("currency")
    @classmethod
    def _upper_iso(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha() or not value.isupper():
            raise ValueError("must be an ISO 4217 code in upper case, for example USD")
        return value


#: Tells the host which model validates [plugins.example].
settings_model = ExampleSettings

#: The last events seen by rcommerce_on_event, newest last (a real plugin would act on them).
recorded_events: deque[Event] = deque(maxlen=1000)


def _settings(config: PluginConfig) -> ExampleSettings:
    return config if isinstance(config, ExampleSettings) else ExampleSettings.model_validate(config)


@hookimpl
def rcommerce_notification_channels(config: PluginConfig) -> list[NotificationChannel]:
    # A factory: build objects from settings, no I/O.
    return [ConsoleChannel(greeting=_settings(config).greeting)]


@hookimpl
def rcommerce_tax_providers(config: PluginConfig) -> list[TaxProvider]:
    settings = _settings(config)
    return [FlatTax(rate_bps=settings.rate_bps, currency=settings.currency)]


@hookimpl
async def rcommerce_on_event(event: Event) -> None:
    # Async is fine here: the dispatcher awaits it. Delivery is at least once, so dedupe.
    if all(seen.id != event.id for seen in recorded_events):
        recorded_events.append(event)
