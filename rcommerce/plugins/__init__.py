"""The plugin host (DESIGN 5): hook specs, provider interfaces and the manager.

Plugin authors need ``from rcommerce import hookimpl``, :mod:`rcommerce.plugins.hookspecs`
for the hooks and :mod:`rcommerce.plugins.providers` for the interfaces; the application
uses :class:`PluginHost`. See docs/plugins.md.
"""

from rcommerce.plugins.hookspecs import PluginConfig, hookspec
from rcommerce.plugins.manager import (
    ENTRY_POINT_GROUP,
    PROVIDER_KINDS,
    HookFailure,
    PluginError,
    PluginHost,
    PluginInfo,
    PluginSource,
    ProviderKind,
    ProviderRegistry,
    discover_entry_points,
)
from rcommerce.plugins.providers import (
    Event,
    FraudProvider,
    NotificationChannel,
    PaymentGateway,
    ShippingCarrier,
    StorageBackend,
    TaxProvider,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROVIDER_KINDS",
    "Event",
    "FraudProvider",
    "HookFailure",
    "NotificationChannel",
    "PaymentGateway",
    "PluginConfig",
    "PluginError",
    "PluginHost",
    "PluginInfo",
    "PluginSource",
    "ProviderKind",
    "ProviderRegistry",
    "ShippingCarrier",
    "StorageBackend",
    "TaxProvider",
    "discover_entry_points",
    "hookspec",
]
