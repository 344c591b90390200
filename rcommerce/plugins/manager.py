"""The plugin host: discovery, checks, provider collection and async-aware hook calls.

Built-ins are registered first, through the same path as third-party plugins; then the
``rcommerce`` entry points (unless autoload is off); every plugin must declare a
compatible ``rcommerce_requires`` and have valid settings, or start-up stops with a
``PluginError`` that names it. Typo'd hook names fail at registration (``check_pending``).
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import inspect
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pluggy
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ValidationError

import rcommerce
from rcommerce.config import PluginsSettings
from rcommerce.plugins import hookspecs
from rcommerce.plugins.hookspecs import PluginConfig
from rcommerce.plugins.providers import Event
from rcommerce.plugins.registry import (
    ENTRY_POINT_GROUP,
    PROVIDER_KINDS,
    HookFailure,
    PluginError,
    PluginInfo,
    PluginNotConfigured,
    PluginSource,
    ProviderKind,
    ProviderRegistry,
    discover_entry_points,
    singular,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PROVIDER_KINDS",
    "HookFailure",
    "PluginError",
    "PluginHost",
    "PluginInfo",
    "PluginNotConfigured",
    "PluginSource",
    "ProviderKind",
    "ProviderRegistry",
    "discover_entry_points",
]

log = logging.getLogger("rcommerce.plugins")

DISABLE_AUTOLOAD_ENV = "RCOMMERCE_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugins: always registered (``enabled`` and autoload do not apply), but
#: ``disabled`` can turn them off. Their entry points are skipped during discovery.
BUILTIN_PLUGINS: Mapping[str, str] = MappingProxyType({"builtin": "rcommerce.plugins.builtin"})


@dataclass(slots=True)
class _Loaded:
    name: str
    plugin: object
    distribution: str
    version: str
    requires: str
    builtin: bool
    config: PluginConfig


class PluginHost:
    """Owns the ``pluggy.PluginManager("rcommerce")`` and everything plugins provide.

    Typical use at start-up::

        host = PluginHost(settings.plugins)
        host.load()
        providers = host.collect_providers()
        await host.startup(app)
        ...
        await host.emit_event(event)   # from the dispatcher
        await host.shutdown(app)
    """

    def __init__(
        self,
        settings: PluginsSettings | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        running_version: str = rcommerce.__version__,
    ) -> None:
        self.settings = settings if settings is not None else PluginsSettings()
        self.environ = os.environ if environ is None else environ
        self.running_version = running_version
        self.pm = pluggy.PluginManager("rcommerce")
        self.pm.add_hookspecs(hookspecs)
        self._loaded: dict[str, _Loaded] = {}
        self._providers: ProviderRegistry | None = None

    # -- loading --------------------------------------------------------------------------------

    @property
    def autoload(self) -> bool:
        """Whether entry points are loaded: ``[plugins] autoload`` and not disabled by env."""
        flag = self.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower()
        return self.settings.autoload and flag in ("", "0", "false", "no")

    def load(self) -> None:
        """Register the built-ins, then the entry-point plugins the switches allow.

        Raises ``PluginError`` for the first plugin that cannot be loaded, for a name in
        ``enabled`` that no installed plugin has, and for two distributions that use the
        same plugin name.
        """
        disabled = set(self.settings.disabled)
        for name, module in BUILTIN_PLUGINS.items():
            if name not in disabled:
                load = functools.partial(importlib.import_module, module)
                source = PluginSource(name, load, "rcommerce", rcommerce.__version__, module)
                self._load_source(source, builtin=True)
        if self.autoload:
            sources = [
                s for s in discover_entry_points() if not (s.name in BUILTIN_PLUGINS and s.distribution == "rcommerce")
            ]
            self._check_names(sources)
            enabled = set(self.settings.enabled)
            for source in sources:
                if source.name in disabled or (enabled and source.name not in enabled):
                    log.info(
                        "plugin %s (%s %s) not loaded: switched off in [plugins]",
                        source.name,
                        source.distribution,
                        source.version,
                    )
                    continue
                try:
                    self._load_source(source, builtin=False)
                except PluginNotConfigured as exc:
                    if source.name in enabled:
                        raise
                    # Installed but never configured (credentials it cannot default): a
                    # configuration step not yet taken, not a broken plugin. Configured
                    # but wrong, or listed in ``enabled``, still stops start-up.
                    log.warning("%s; not loaded until [plugins.%s] is configured", exc, source.name)
        elif self.settings.enabled:
            log.warning("[plugins] enabled is set but autoload is off; only built-ins are loaded")
        self._warn_orphan_tables()

    def _check_names(self, sources: list[PluginSource]) -> None:
        seen: dict[str, PluginSource] = {}
        for source in sources:
            if source.name in seen or source.name in BUILTIN_PLUGINS:
                other = seen.get(source.name)
                first = f"{other.distribution} {other.version}" if other else "rcommerce (built-in)"
                raise PluginError(
                    f"plugin name {source.name!r} is used by both {first} and "
                    f"{source.distribution} {source.version}; uninstall one of them"
                )
            seen[source.name] = source
        missing = sorted(set(self.settings.enabled) - set(seen) - set(BUILTIN_PLUGINS))
        if missing:
            installed = ", ".join(sorted(seen)) or "none"
            raise PluginError(
                f"[plugins] enabled lists {', '.join(missing)}, but no installed plugin has "
                f"that name (installed: {installed}); install it or fix the name"
            )

    def _warn_orphan_tables(self) -> None:
        extra = self.settings.model_extra or {}
        for name in sorted(set(extra) - set(self._loaded) - set(self.settings.disabled)):
            log.warning("[plugins.%s] is configured but no plugin named %s is loaded", name, name)

    def _load_source(self, source: PluginSource, *, builtin: bool) -> None:
        label = f"{source.name} ({source.distribution} {source.version})"
        try:
            plugin = source.load()
        except Exception as exc:
            raise PluginError(f"plugin {label} failed to load: {type(exc).__name__}: {exc}") from exc
        self.register(
            plugin,
            source.name,
            distribution=source.distribution,
            version=source.version,
            builtin=builtin,
        )

    def register(
        self,
        plugin: object,
        name: str,
        *,
        distribution: str = "unknown",
        version: str = "unknown",
        builtin: bool = False,
    ) -> None:
        """Check and register one plugin object (a module or an instance) under ``name``.

        Used by :meth:`load`; tests and embedding applications call it directly. Checks,
        in order: ``rcommerce_requires``, settings (``[plugins.<name>]`` against the
        plugin's ``settings_model``), then pluggy registration and unknown hook names.
        """
        label = f"{name} ({distribution} {version})"
        if name in self._loaded:
            raise PluginError(f"plugin {label}: a plugin named {name!r} is already registered")
        requires = self._check_requires(plugin, label)
        config = self._validate_settings(plugin, name, label)
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            raise PluginError(f"plugin {label} failed to load: {type(exc).__name__}: {exc}") from exc
        try:
            self._check_hooks(plugin, label)
        except PluginError:
            self.pm.unregister(plugin)
            raise
        self._loaded[name] = _Loaded(name, plugin, distribution, version, requires, builtin, config)
        self._providers = None

    def unregister(self, name: str) -> None:
        """Remove the plugin registered as ``name`` (tests)."""
        self.pm.unregister(name=name)
        del self._loaded[name]
        self._providers = None

    def _check_requires(self, plugin: object, label: str) -> str:
        requires = getattr(plugin, "rcommerce_requires", None)
        example = '">=0.1,<0.2"'
        if not isinstance(requires, str) or not requires.strip():
            raise PluginError(
                f"plugin {label} does not declare which rcommerce versions it supports; "
                f"add rcommerce_requires = {example} (a PEP 440 specifier) to the plugin "
                f"(running rcommerce {self.running_version})"
            )
        try:
            spec = SpecifierSet(requires)
            ok = spec.contains(Version(self.running_version), prereleases=True)
        except (InvalidSpecifier, InvalidVersion) as exc:
            raise PluginError(
                f"plugin {label} has an invalid rcommerce_requires {requires!r}: {exc}; "
                f"use a PEP 440 specifier such as {example}"
            ) from exc
        if not ok:
            raise PluginError(
                f"plugin {label} requires rcommerce{requires}, but this is rcommerce "
                f"{self.running_version}; install a release of the plugin that supports "
                f"rcommerce {self.running_version}, or disable it in [plugins] disabled"
            )
        return requires

    def _validate_settings(self, plugin: object, name: str, label: str) -> PluginConfig:
        table = self.settings.table(name)
        model = getattr(plugin, "settings_model", None)
        if model is None:
            if table:
                keys = ", ".join(sorted(table))
                raise PluginError(f"plugin {label} takes no settings, but [plugins.{name}] sets {keys}; remove them")
            return MappingProxyType({})
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(f"plugin {label}: settings_model must be a pydantic BaseModel subclass")
        problems: list[str] = []
        try:
            config = model.model_validate(table)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in err['loc']) or '(table)'}: {err['msg']}"
                for err in exc.errors(include_url=False)
            ]
        known = set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
        # Unknown keys are typos even when the model tolerates extras.
        for key in sorted(set(table) - known):
            if not any(p.startswith(f"{key}:") for p in problems):
                problems.append(f"{key}: unknown setting (known: {', '.join(sorted(known)) or 'none'})")
        if problems:
            env = f"RCOMMERCE_PLUGINS__{name.upper()}__<KEY>"
            error = PluginNotConfigured if not table else PluginError
            raise error(f"plugin {label}: invalid settings in [plugins.{name}] (or {env}):\n  " + "\n  ".join(problems))
        return config

    def _check_hooks(self, plugin: object, label: str) -> None:
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {label}: {exc}; known hooks: {', '.join(_hook_names())}") from exc
        for caller in self.pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper):
                    raise PluginError(
                        f"plugin {label}: {caller.name} is a hook wrapper; rcommerce calls "
                        f"each plugin's implementation itself, so wrappers are not supported"
                    )
        for attr in _hook_names():
            if callable(getattr(plugin, attr, None)) and self.pm.parse_hookimpl_opts(plugin, attr) is None:
                raise PluginError(f"plugin {label}: {attr} is not marked with @rcommerce.hookimpl; add the decorator")

    # -- introspection --------------------------------------------------------------------------

    @property
    def names(self) -> list[str]:
        """Registered plugin names, in registration order."""
        return list(self._loaded)

    def config(self, name: str) -> PluginConfig:
        """The validated settings of plugin ``name``."""
        return self._loaded[name].config

    def describe(self) -> list[PluginInfo]:
        """One record per registered plugin, for ``rcommerce plugins list``.

        Collects providers first (calling the factories) when that has not happened yet.
        """
        registry = self.collect_providers()
        infos = []
        for rec in self._loaded.values():
            hooks = tuple(sorted(c.name for c in self.pm.get_hookcallers(rec.plugin) or []))
            providers = {
                kind: tuple(sorted(code for code in codes if registry.owners[(kind, code)] == rec.name))
                for kind, codes in registry.by_kind.items()
            }
            offered = MappingProxyType({k: v for k, v in providers.items() if v})
            infos.append(
                PluginInfo(
                    rec.name,
                    rec.distribution,
                    rec.version,
                    rec.requires,
                    rec.builtin,
                    hooks,
                    offered,
                )
            )
        return infos

    # -- providers ------------------------------------------------------------------------------

    def _impls(self, hook: str) -> list[tuple[_Loaded, pluggy.HookImpl]]:
        """Implementations of ``hook`` in registration order, with their plugin record."""
        by_plugin = {id(impl.plugin): impl for impl in getattr(self.pm.hook, hook).get_hookimpls()}
        return [(rec, by_plugin[id(rec.plugin)]) for rec in self._loaded.values() if id(rec.plugin) in by_plugin]

    def collect_providers(self) -> ProviderRegistry:
        """Call every provider factory once per plugin with that plugin's own settings.

        The result is cached until a plugin is registered or unregistered. Raises
        ``PluginError`` when a factory raises, returns something that is not a list of
        providers of its kind, or two plugins offer the same code for one kind.
        """
        if self._providers is not None:
            return self._providers
        registry = ProviderRegistry()
        for kind, protocol in PROVIDER_KINDS.items():
            hook = f"rcommerce_{kind}"
            for rec, impl in self._impls(hook):
                label = f"{rec.name} ({rec.distribution} {rec.version})"
                try:
                    result = _call(impl, config=rec.config)
                except Exception as exc:
                    raise PluginError(f"plugin {label}: {hook} raised {type(exc).__name__}: {exc}") from exc
                if inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()
                    raise PluginError(f"plugin {label}: {hook} must be a sync function without I/O, not async")
                if result is None:
                    continue
                if not isinstance(result, list | tuple):
                    raise PluginError(f"plugin {label}: {hook} must return a list, got {type(result).__name__}")
                for provider in result:
                    self._add_provider(registry, kind, protocol, provider, rec, label)
        self._providers = registry
        return registry

    def _add_provider(
        self,
        registry: ProviderRegistry,
        kind: str,
        protocol: type,
        provider: object,
        rec: _Loaded,
        label: str,
    ) -> None:
        code = getattr(provider, "code", None)
        if not isinstance(code, str) or not code:
            raise PluginError(f"plugin {label}: a {singular(kind)} has no string code: {provider!r}")
        if not isinstance(provider, protocol):
            missing = [m for m in dir(protocol) if not m.startswith("_") and not hasattr(provider, m)]
            raise PluginError(
                f"plugin {label}: {singular(kind)} {code!r} does not implement "
                f"{protocol.__name__} (missing: {', '.join(missing) or 'display_name'})"
            )
        if code in registry.by_kind[kind]:
            other = self._loaded[registry.owners[(kind, code)]]
            raise PluginError(
                f"{singular(kind)} code {code!r} is offered by both plugin {other.name} "
                f"({other.distribution} {other.version}) and plugin {label}; "
                f"disable one of them in [plugins] disabled"
            )
        registry.by_kind[kind][code] = provider
        registry.owners[(kind, code)] = rec.name

    # -- async hooks ----------------------------------------------------------------------------

    async def emit_event(self, event: Event, *, timeout_s: float | None = 30.0) -> list[HookFailure]:
        """Deliver ``event`` to every ``rcommerce_on_event`` implementation, one after another.

        Coroutines are awaited under ``timeout_s`` each. A raising or timed-out plugin is
        logged and skipped; the others still run. Returns the failures (empty when all
        succeeded) so the dispatcher can retry. Cancellation propagates.
        """
        return await self._call_each("rcommerce_on_event", {"event": event}, timeout_s=timeout_s)

    async def startup(self, app: Any, *, timeout_s: float | None = 60.0) -> None:
        """Run ``rcommerce_startup`` for every plugin in registration order; the first
        failure raises ``PluginError`` naming the plugin."""
        for rec, impl in self._impls("rcommerce_startup"):
            try:
                await _await_maybe(_call(impl, app=app), timeout_s)
            except Exception as exc:
                raise PluginError(
                    f"plugin {rec.name} ({rec.distribution} {rec.version}): rcommerce_startup "
                    f"raised {type(exc).__name__}: {exc}"
                ) from exc

    async def shutdown(self, app: Any, *, timeout_s: float | None = 30.0) -> list[HookFailure]:
        """Run ``rcommerce_shutdown`` in reverse registration order; failures are logged,
        returned, and do not stop the other plugins."""
        return await self._call_each("rcommerce_shutdown", {"app": app}, timeout_s=timeout_s, reverse=True)

    async def _call_each(
        self, hook: str, kwargs: dict[str, Any], *, timeout_s: float | None, reverse: bool = False
    ) -> list[HookFailure]:
        failures: list[HookFailure] = []
        impls = self._impls(hook)
        for rec, impl in reversed(impls) if reverse else impls:
            try:
                await _await_maybe(_call(impl, **kwargs), timeout_s)
            except Exception as exc:
                log.exception("plugin %s (%s %s): %s failed", rec.name, rec.distribution, rec.version, hook)
                failures.append(HookFailure(rec.name, hook, exc))
        return failures


def _hook_names() -> list[str]:
    return sorted(n for n in vars(hookspecs) if n.startswith("rcommerce_"))


def _call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one implementation with the arguments it declares (it may take fewer)."""
    return impl.function(**{name: kwargs[name] for name in impl.argnames})


async def _await_maybe(result: Any, timeout_s: float | None) -> None:
    if inspect.isawaitable(result):
        async with asyncio.timeout(timeout_s):
            await result
