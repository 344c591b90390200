"""Every rcommerce extension point, grouped by lifecycle phase.

Implement a hook with a function (or method) of the same name marked with
``@rcommerce.hookimpl``. Implementations may accept fewer parameters than the spec
declares; the host always calls with keywords, so specs gain parameters without breaking
plugins. Parameters are added, never renamed or removed; retired hooks warn through
``warn_on_impl``.

pluggy never awaits (pluggy issue 320), so provider factories are plain sync functions,
and the host itself awaits coroutines returned by ``rcommerce_on_event``,
``rcommerce_startup`` and ``rcommerce_shutdown``. No hook here is ``firstresult``.

The host calls each plugin's implementation separately, with that plugin's own settings,
so hook wrappers (``wrapper=True``/``hookwrapper=True``) are refused at registration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import pluggy
from pydantic import BaseModel

from rcommerce.plugins.providers import (
    Event,
    FraudProvider,
    NotificationChannel,
    PaymentGateway,
    ShippingCarrier,
    StorageBackend,
    TaxProvider,
    VatValidator,
)

__all__ = ["PluginConfig", "hookspec"]

hookspec = pluggy.HookspecMarker("rcommerce")

#: What provider factories receive: the plugin's ``settings_model`` instance validated from
#: ``[plugins.<name>]`` (and ``RCOMMERCE_PLUGINS__<NAME>__<KEY>``), or ``{}`` when the
#: plugin declares no ``settings_model``.
PluginConfig: TypeAlias = BaseModel | Mapping[str, Any]


# -- provider factories: called once per process at start-up ---------------------------------


@hookspec
def rcommerce_payment_gateways(config: PluginConfig) -> list[PaymentGateway]:  # type: ignore[empty-body]
    """Return the payment gateways this plugin offers for ``config``.

    Called once per process at start-up, before the first request, with this plugin's
    own settings; sync and without I/O (connect lazily on first use). All plugins'
    results are collected; gateway ``code`` values must be unique across plugins, and a
    duplicate stops start-up naming both plugins. Raising, returning a coroutine or
    returning an object that is not a :class:`~rcommerce.plugins.providers.PaymentGateway`
    stops start-up with a ``PluginError`` naming the plugin. The contract each method
    honours is in docs/plugins.md ("Payment gateways"); run the conformance kit
    :mod:`rcommerce.testing.payments` against your gateway. Since 0.1.

    :param config: This plugin's validated settings (see ``PluginConfig``).
    :returns: The gateways to register; ``[]`` when unconfigured.

    Implemented by plugins; called only by the plugin host.
    """


@hookspec
def rcommerce_shipping_carriers(config: PluginConfig) -> list[ShippingCarrier]:  # type: ignore[empty-body]
    """Return the shipping carriers this plugin offers for ``config``.

    Called once per process at start-up with this plugin's own settings; sync, no I/O.
    All plugins' results are collected; carrier ``code`` values must be unique. Raising
    stops start-up with a ``PluginError`` naming the plugin. Since 0.1.

    :param config: This plugin's validated settings.
    :returns: The carriers to register; ``[]`` when unconfigured.

    Implemented by plugins; called only by the plugin host.
    """


@hookspec
def rcommerce_storage_backends(config: PluginConfig) -> list[StorageBackend]:  # type: ignore[empty-body]
    """Return the storage backends (media, exports) this plugin offers for ``config``.

    Called once per process at start-up with this plugin's own settings; sync, no I/O
    (create directories or buckets lazily). All plugins' results are collected; backend
    ``code`` values must be unique. Raising stops start-up with a ``PluginError``
    naming the plugin. Since 0.1.

    :param config: This plugin's validated settings.
    :returns: The backends to register; ``[]`` when unconfigured.

    Implemented by plugins; called only by the plugin host.
    """


@hookspec
def rcommerce_notification_channels(config: PluginConfig) -> list[NotificationChannel]:  # type: ignore[empty-body]
    """Return the notification channels (e-mail, SMS, chat) this plugin offers.

    Called once per process at start-up with this plugin's own settings; sync, no I/O.
    All plugins' results are collected; channel ``code`` values must be unique. Raising
    stops start-up with a ``PluginError`` naming the plugin. Since 0.1.

    :param config: This plugin's validated settings.
    :returns: The channels to register; ``[]`` when unconfigured.

    Implemented by plugins; called only by the plugin host.
    """


@hookspec
def rcommerce_tax_providers(config: PluginConfig) -> list[TaxProvider]:  # type: ignore[empty-body]
    """Return the tax providers this plugin offers for ``config``.

    Called once per process at start-up with this plugin's own settings; sync, no I/O.
    All plugins' results are collected; provider ``code`` values must be unique. Raising
    stops start-up with a ``PluginError`` naming the plugin. Since 0.1.

    :param config: This plugin's validated settings.
    :returns: The tax providers to register; ``[]`` when unconfigured.

    Implemented by plugins; called only by the plugin host.
    """


@hookspec
def rcommerce_fraud_providers(config: PluginConfig) -> list[FraudProvider]:  # type: ignore[empty-body]
    """Return the fraud screening providers this plugin offers for ``config``.

    Called once per process at start-up with this plugin's own settings; sync, no I/O.
    All plugins' results are collected; provider ``code`` values must be unique. Raising
    stops start-up with a ``PluginError`` naming the plugin. Since 0.1.

    :param config: This plugin's validated settings.
    :returns: The fraud providers to register; ``[]`` when unconfigured.

    Implemented by plugins; called only by the plugin host.
    """


@hookspec
def rcommerce_vat_validators(config: PluginConfig) -> list[VatValidator]:  # type: ignore[empty-body]
    """Return the EU VAT id validators (for example a VIES client) this plugin offers.

    Called once per process at start-up with this plugin's own settings; sync, no I/O.
    The built-in ``format`` validator (national format and check digits) always runs
    first; the others are asked in registration order for ids that pass it. Validator
    ``code`` values must be unique. Raising stops start-up with a ``PluginError`` naming
    the plugin. Since 0.1.

    :param config: This plugin's validated settings.
    :returns: The validators to register; ``[]`` when unconfigured.

    Implemented by plugins; called only by the plugin host.
    """


# -- lifecycle: once per process, around serving ---------------------------------------------


@hookspec
def rcommerce_startup(app: Any) -> None:
    """Prepare the plugin's own resources (open clients, warm caches).

    Called once per process after providers are collected and before the server
    accepts requests, in plugin registration order; may be ``async def`` (the host
    awaits it). Results are ignored. Raising stops start-up with a ``PluginError``
    naming the plugin. Since 0.1.

    :param app: The running application (composition root); treat it as read-only.

    Implemented by plugins; called only by the plugin host.
    """


@hookspec
def rcommerce_shutdown(app: Any) -> None:
    """Release what ``rcommerce_startup`` acquired.

    Called once per process after the server stopped accepting requests, in reverse
    registration order; may be ``async def`` (the host awaits it). Results are ignored.
    Raising is logged with the plugin's name and the remaining plugins still shut down.
    Since 0.1.

    :param app: The application being stopped.

    Implemented by plugins; called only by the plugin host.
    """


# -- events: the dispatcher, after commit ----------------------------------------------------


@hookspec
def rcommerce_on_event(event: Event) -> None:
    """React to a committed domain event.

    Called by the outbox dispatcher after the transaction that recorded ``event``
    committed, at least once per event and plugin (dedupe on ``event.id``), one plugin
    after another in registration order. May be ``async def``: the dispatcher awaits
    the coroutine, under a deadline. All implementations are called; results are
    ignored; never ``firstresult``. Raising (or timing out) is logged with the plugin's
    name and reported to the dispatcher; the other plugins still receive the event.
    Since 0.1.

    :param event: The event: ``id``, ``type`` ("order.placed"), ``subject``, ``data``,
        ``created_at``.

    Implemented by plugins; called only by the event dispatcher.
    """
