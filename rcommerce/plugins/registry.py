"""What the plugin host hands out and reports: provider kinds, the registry of collected
providers, plugin descriptions and errors, and entry-point discovery."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, Literal

from rcommerce.plugins.providers import (
    FraudProvider,
    NotificationChannel,
    PaymentGateway,
    ShippingCarrier,
    StorageBackend,
    TaxProvider,
    VatValidator,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PROVIDER_KINDS",
    "HookFailure",
    "PluginError",
    "PluginInfo",
    "PluginNotConfigured",
    "PluginSource",
    "ProviderKind",
    "ProviderRegistry",
    "discover_entry_points",
]

ENTRY_POINT_GROUP = "rcommerce"


def singular(kind: str) -> str:
    """A provider kind in words, for messages ("payment_gateways" -> "payment gateway")."""
    return kind.removesuffix("s").replace("_", " ")


ProviderKind = Literal[
    "payment_gateways",
    "shipping_carriers",
    "storage_backends",
    "notification_channels",
    "tax_providers",
    "fraud_providers",
    "vat_validators",
]

#: Provider kind -> the Protocol each provider must satisfy. The hook is ``rcommerce_<kind>``.
PROVIDER_KINDS: Mapping[ProviderKind, type] = MappingProxyType(
    {
        "payment_gateways": PaymentGateway,
        "shipping_carriers": ShippingCarrier,
        "storage_backends": StorageBackend,
        "notification_channels": NotificationChannel,
        "tax_providers": TaxProvider,
        "fraud_providers": FraudProvider,
        "vat_validators": VatValidator,
    }
)


class PluginError(Exception):
    """A plugin cannot be loaded or used: not importable, incompatible with this rcommerce,
    invalid settings, an unknown hook, a failing factory or a duplicate provider code.
    Raised at start-up; the message names the plugin and the fix."""


class PluginNotConfigured(PluginError):
    """An installed plugin has no ``[plugins.<name>]`` table and its settings have
    required values. Autoload skips it with a warning unless ``enabled`` names it."""


@dataclass(frozen=True, slots=True)
class PluginSource:
    """A plugin found by discovery, not yet imported."""

    name: str
    #: Imports and returns the plugin object (a module or an instance).
    load: Callable[[], object]
    distribution: str = "unknown"
    version: str = "unknown"
    #: "module:attr" as written in the entry point, for messages.
    value: str = ""


@dataclass(frozen=True, slots=True)
class PluginInfo:
    """One loaded plugin, for ``rcommerce plugins list``."""

    name: str
    distribution: str
    version: str
    requires: str
    builtin: bool
    #: Hook names it implements, sorted.
    hooks: tuple[str, ...]
    #: Provider kind -> codes it offers (only kinds with at least one code).
    providers: Mapping[str, tuple[str, ...]]

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (lists and dicts), for ``rcommerce plugins list --json``."""
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "requires": self.requires,
            "builtin": self.builtin,
            "hooks": list(self.hooks),
            "providers": {kind: list(codes) for kind, codes in self.providers.items()},
        }


@dataclass(frozen=True, slots=True)
class HookFailure:
    """An event or shutdown hook implementation that raised or timed out."""

    plugin: str
    hook: str
    error: BaseException


@dataclass(slots=True)
class ProviderRegistry:
    """Providers keyed by kind, then ``code``; each entry remembers its plugin."""

    by_kind: dict[str, dict[str, object]] = field(default_factory=lambda: {kind: {} for kind in PROVIDER_KINDS})
    owners: dict[tuple[str, str], str] = field(default_factory=dict)

    def get(self, kind: ProviderKind, code: str) -> object:
        """The provider of ``kind`` with ``code``; ``KeyError`` names the known codes."""
        found = self.by_kind[kind]
        if code not in found:
            known = ", ".join(sorted(found)) or "none"
            raise KeyError(f"no {singular(kind)} with code {code!r}; known: {known}")
        return found[code]

    @property
    def payment_gateways(self) -> dict[str, PaymentGateway]:
        return self.by_kind["payment_gateways"]  # type: ignore[return-value]

    @property
    def shipping_carriers(self) -> dict[str, ShippingCarrier]:
        return self.by_kind["shipping_carriers"]  # type: ignore[return-value]

    @property
    def storage_backends(self) -> dict[str, StorageBackend]:
        return self.by_kind["storage_backends"]  # type: ignore[return-value]

    @property
    def notification_channels(self) -> dict[str, NotificationChannel]:
        return self.by_kind["notification_channels"]  # type: ignore[return-value]

    @property
    def tax_providers(self) -> dict[str, TaxProvider]:
        return self.by_kind["tax_providers"]  # type: ignore[return-value]

    @property
    def fraud_providers(self) -> dict[str, FraudProvider]:
        return self.by_kind["fraud_providers"]  # type: ignore[return-value]

    @property
    def vat_validators(self) -> dict[str, VatValidator]:
        return self.by_kind["vat_validators"]  # type: ignore[return-value]


def discover_entry_points(group: str = ENTRY_POINT_GROUP) -> list[PluginSource]:
    """The installed plugins advertised under the entry-point ``group``, not yet imported.

    Tests replace this function (``monkeypatch.setattr(manager, "discover_entry_points",
    ...)``) to simulate installed distributions.
    """
    found: dict[tuple[str, str, str], PluginSource] = {}
    for ep in entry_points(group=group):
        dist = ep.dist.name if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "unknown"
        # The same distribution can be seen twice (editable install plus a build dir).
        found.setdefault((ep.name, ep.value, dist), PluginSource(ep.name, ep.load, dist, version, ep.value))
    return list(found.values())
