"""The plugin host: discovery, switches, compatibility, settings, providers and hooks."""

from __future__ import annotations

import asyncio
import email
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from rcommerce import hookimpl
from rcommerce.config import PluginsSettings, load_settings
from rcommerce.plugins import (
    Event,
    PluginConfig,
    PluginError,
    PluginHost,
    PluginSource,
    manager,
)
from rcommerce.plugins.builtin import FileChannel, LocalStorage, LogChannel
from rcommerce.plugins.providers import NotificationMessage, SendResult

NO_ENV: dict[str, str] = {}


class Channel:
    """A minimal notification channel."""

    display_name = "Test channel"

    def __init__(self, code: str) -> None:
        self.code = code

    async def send(self, message: NotificationMessage) -> SendResult:
        return SendResult(accepted=True)


class ChannelPlugin:
    rcommerce_requires = ">=0.1,<0.2"

    def __init__(self, *codes: str) -> None:
        self.codes = codes

    @hookimpl
    def rcommerce_notification_channels(self) -> list[Channel]:
        return [Channel(code) for code in self.codes]


class Recorder:
    """Records events, sync or async, optionally failing."""

    rcommerce_requires = ">=0.1"

    def __init__(self, log: list[str], tag: str, *, fail: bool = False) -> None:
        self.log, self.tag, self.fail = log, tag, fail

    @hookimpl
    async def rcommerce_on_event(self, event: Event) -> None:
        await asyncio.sleep(0)
        if self.fail:
            raise RuntimeError(f"{self.tag} broke")
        self.log.append(f"{self.tag}:{event.type}")

    @hookimpl
    def rcommerce_startup(self, app: Any) -> None:
        self.log.append(f"{self.tag}:start")

    @hookimpl
    async def rcommerce_shutdown(self) -> None:
        if self.fail:
            raise RuntimeError(f"{self.tag} broke")
        self.log.append(f"{self.tag}:stop")


def make_event(type_: str = "order.placed") -> Event:
    return Event("evt_1", type_, "orders/ord_1", {"object": {}}, datetime(2026, 1, 1, tzinfo=UTC))


def source(name: str, plugin: object | Callable[[], object], dist: str = "") -> PluginSource:
    load = plugin if callable(plugin) and not hasattr(plugin, "rcommerce_requires") else (lambda: plugin)
    return PluginSource(name, load, dist or f"rcommerce-{name}", "1.2.3", name)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Pretend the given sources are the installed entry points."""

    def install(*sources: PluginSource) -> None:
        monkeypatch.setattr(manager, "discover_entry_points", lambda group="rcommerce": list(sources))

    return install


def host(**settings: Any) -> PluginHost:
    return PluginHost(PluginsSettings(**settings), environ=NO_ENV)


# -- discovery and switches --------------------------------------------------------------------


def test_builtins_are_registered_and_offer_their_providers(installed: Callable[..., None]) -> None:
    installed()
    h = host()
    h.load()
    assert h.names == ["builtin"]
    registry = h.collect_providers()
    assert set(registry.notification_channels) == {"log", "file"}
    assert set(registry.storage_backends) == {"local"}
    [info] = h.describe()
    assert (info.name, info.distribution, info.builtin) == ("builtin", "rcommerce", True)
    assert info.providers == {
        "notification_channels": ("file", "log"),
        "payment_gateways": ("manual", "test"),
        "storage_backends": ("local",),
        "tax_providers": ("builtin",),
        "vat_validators": ("format",),
    }
    assert set(registry.payment_gateways) == {"manual", "test"}
    assert set(registry.tax_providers) == {"builtin"}


def test_real_discovery_finds_the_builtin_entry_point() -> None:
    found = {s.name: s for s in manager.discover_entry_points()}
    assert found["builtin"].distribution == "rcommerce"
    assert found["builtin"].value == "rcommerce.plugins.builtin"


def test_discovered_plugins_are_loaded_with_their_distribution(
    installed: Callable[..., None],
) -> None:
    installed(source("alpha", ChannelPlugin("alpha-chat")))
    h = host()
    h.load()
    assert h.names == ["builtin", "alpha"]
    info = {i.name: i for i in h.describe()}["alpha"]
    assert (info.distribution, info.version, info.requires) == (
        "rcommerce-alpha",
        "1.2.3",
        ">=0.1,<0.2",
    )
    assert info.hooks == ("rcommerce_notification_channels",)
    assert info.providers == {"notification_channels": ("alpha-chat",)}
    assert info.as_dict()["providers"] == {"notification_channels": ["alpha-chat"]}


@pytest.mark.parametrize(
    ("settings", "environ", "expected"),
    [
        pytest.param({}, {}, ["builtin", "a", "b"], id="all-by-default"),
        pytest.param({"autoload": False}, {}, ["builtin"], id="autoload-off"),
        pytest.param({}, {"RCOMMERCE_DISABLE_PLUGIN_AUTOLOAD": "1"}, ["builtin"], id="env-off"),
        pytest.param({}, {"RCOMMERCE_DISABLE_PLUGIN_AUTOLOAD": "0"}, ["builtin", "a", "b"], id="env-0"),
        pytest.param({"enabled": ["b"]}, {}, ["builtin", "b"], id="enabled-only"),
        pytest.param({"disabled": ["a"]}, {}, ["builtin", "b"], id="disabled"),
        pytest.param({"enabled": ["a", "b"], "disabled": ["b"]}, {}, ["builtin", "a"], id="disabled-wins"),
        pytest.param({"disabled": ["builtin"]}, {}, ["a", "b"], id="builtin-disabled"),
    ],
)
def test_switches_choose_what_loads(
    installed: Callable[..., None],
    settings: dict[str, Any],
    environ: dict[str, str],
    expected: list[str],
) -> None:
    installed(source("a", ChannelPlugin("a")), source("b", ChannelPlugin("b")))
    h = PluginHost(PluginsSettings(**settings), environ=environ)
    h.load()
    assert h.names == expected


def test_enabled_name_that_is_not_installed_is_an_error(installed: Callable[..., None]) -> None:
    installed(source("a", ChannelPlugin("a")))
    with pytest.raises(PluginError, match=r"enabled lists typo, but no installed plugin .*installed: a"):
        host(enabled=["typo"]).load()


def test_two_distributions_with_one_plugin_name_are_refused(installed: Callable[..., None]) -> None:
    installed(source("a", ChannelPlugin("x"), "dist-one"), source("a", ChannelPlugin("y"), "dist-two"))
    with pytest.raises(PluginError, match=r"'a' is used by both dist-one 1.2.3 and dist-two 1.2.3"):
        host().load()


# -- compatibility and load failures -----------------------------------------------------------


def test_incompatible_plugin_is_refused_with_versions(installed: Callable[..., None]) -> None:
    class Future(ChannelPlugin):
        rcommerce_requires = ">=0.2"

    installed(source("future", Future()))
    with pytest.raises(PluginError) as err:
        host().load()
    assert str(err.value).startswith(
        "plugin future (rcommerce-future 1.2.3) requires rcommerce>=0.2, but this is rcommerce 0.1.0"
    )


def test_plugin_without_rcommerce_requires_is_refused() -> None:
    class Plugin:
        @hookimpl
        def rcommerce_on_event(self) -> None: ...

    with pytest.raises(PluginError, match=r"plugin old \(d 9\) does not declare .*rcommerce_requires"):
        host().register(Plugin(), "old", distribution="d", version="9")


@pytest.mark.parametrize(
    ("requires", "running", "ok"),
    [
        pytest.param(">=0.1,<0.2", "0.1.0", True, id="in-range"),
        pytest.param(">=0.1,<0.2", "0.1.5rc1", True, id="prerelease-allowed"),
        pytest.param(">=0.1,<0.2", "0.2.0", False, id="too-new"),
        pytest.param("~=0.1.0", "0.1.9", True, id="compatible-release"),
    ],
)
def test_rcommerce_requires_is_a_pep440_specifier(requires: str, running: str, ok: bool) -> None:
    plugin = ChannelPlugin("c")
    plugin.rcommerce_requires = requires
    h = PluginHost(PluginsSettings(), environ=NO_ENV, running_version=running)
    if ok:
        h.register(plugin, "c")
    else:
        with pytest.raises(PluginError, match=f"but this is rcommerce {running}"):
            h.register(plugin, "c")


def test_invalid_specifier_is_refused() -> None:
    plugin = ChannelPlugin("c")
    plugin.rcommerce_requires = "0.1 or later"
    with pytest.raises(PluginError, match=r"invalid rcommerce_requires '0.1 or later'"):
        host().register(plugin, "c")


def test_import_failure_stops_start_up_naming_the_plugin(installed: Callable[..., None]) -> None:
    def boom() -> object:
        raise ImportError("No module named 'stripe'")

    installed(source("broken", boom))
    with pytest.raises(PluginError) as err:
        host().load()
    assert str(err.value) == (
        "plugin broken (rcommerce-broken 1.2.3) failed to load: ImportError: No module named 'stripe'"
    )


def test_typoed_hook_name_is_refused() -> None:
    class Typo:
        rcommerce_requires = ">=0.1"

        @hookimpl
        def rcommerce_on_evnt(self, event: Event) -> None: ...

    h = host()
    with pytest.raises(PluginError, match=r"plugin typo \(unknown unknown\): .*rcommerce_on_evnt"):
        h.register(Typo(), "typo")
    assert h.names == []
    assert h.pm.get_plugin("typo") is None


def test_unknown_hook_parameter_is_refused() -> None:
    class Wrong:
        rcommerce_requires = ">=0.1"

        @hookimpl
        def rcommerce_on_event(self, evnt: Event) -> None: ...

    with pytest.raises(PluginError, match=r"plugin wrong .*failed to load: PluginValidationError"):
        host().register(Wrong(), "wrong")


def test_hook_without_the_marker_is_refused() -> None:
    class Forgot:
        rcommerce_requires = ">=0.1"

        def rcommerce_on_event(self, event: Event) -> None: ...

    with pytest.raises(PluginError, match=r"rcommerce_on_event is not marked with @rcommerce.hookimpl"):
        host().register(Forgot(), "forgot")


def test_hook_wrappers_are_refused() -> None:
    class Wrapper:
        rcommerce_requires = ">=0.1"

        @hookimpl(wrapper=True)
        def rcommerce_on_event(self, event: Event) -> Any:
            return (yield)

    with pytest.raises(PluginError, match="rcommerce_on_event is a hook wrapper"):
        host().register(Wrapper(), "wrapper")


# -- settings ----------------------------------------------------------------------------------


class DemoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    greeting: str = "Hello"
    retries: int = 3


class DemoPlugin:
    rcommerce_requires = ">=0.1"
    settings_model = DemoSettings

    def __init__(self) -> None:
        self.seen: list[PluginConfig] = []

    @hookimpl
    def rcommerce_notification_channels(self, config: PluginConfig) -> list[Channel]:
        self.seen.append(config)
        return []


def test_settings_are_validated_and_passed_to_factories() -> None:
    plugin = DemoPlugin()
    h = host(demo={"greeting": "Hi"})
    h.register(plugin, "demo")
    h.collect_providers()
    assert plugin.seen == [DemoSettings(greeting="Hi", retries=3)]
    assert h.config("demo") == DemoSettings(greeting="Hi")


def test_environment_overrides_reach_plugin_settings(tmp_path: Path) -> None:
    (tmp_path / "rcommerce.toml").write_text("[plugins.demo]\ngreeting = 'file'\nretries = 1\n")
    settings = load_settings(
        tmp_path / "rcommerce.toml",
        environ={
            "RCOMMERCE_PLUGINS__DEMO__RETRIES": "7",
            "RCOMMERCE_PLUGINS__DEMO__GREETING": "Hey",
        },
    )
    h = PluginHost(settings.plugins, environ=NO_ENV)
    h.register(DemoPlugin(), "demo")
    assert h.config("demo") == DemoSettings(greeting="Hey", retries=7)


def test_invalid_settings_list_every_bad_key() -> None:
    with pytest.raises(PluginError) as err:
        host(demo={"retries": "many", "greting": "Hi"}).register(DemoPlugin(), "demo", distribution="d", version="1")
    message = str(err.value)
    assert message.startswith("plugin demo (d 1): invalid settings in [plugins.demo]")
    assert "RCOMMERCE_PLUGINS__DEMO__<KEY>" in message
    assert "retries: Input should be a valid integer" in message
    assert "greting: Extra inputs are not permitted" in message


class NeedsKeySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    api_key: str


class NeedsKeyPlugin(DemoPlugin):
    settings_model = NeedsKeySettings  # type: ignore[assignment]


def test_an_installed_but_unconfigured_plugin_is_skipped_with_a_warning(
    installed: Callable[..., None], caplog: pytest.LogCaptureFixture
) -> None:
    installed(source("gateway", NeedsKeyPlugin()))
    h = host()
    h.load()
    assert "gateway" not in h.names
    assert "not loaded until [plugins.gateway] is configured" in caplog.text
    assert "api_key: Field required" in caplog.text


def test_a_configured_or_enabled_plugin_with_bad_settings_still_stops_start_up(installed: Callable[..., None]) -> None:
    installed(source("gateway", NeedsKeyPlugin()))
    with pytest.raises(PluginError, match=r"api_key: Field required"):
        host(enabled=["gateway"]).load()
    with pytest.raises(PluginError, match=r"api_key: Field required"):
        host(gateway={"api_kye": "x"}).load()
    configured = host(gateway={"api_key": "k"})
    configured.load()
    assert "gateway" in configured.names


def test_unknown_keys_are_errors_even_when_the_model_allows_extras() -> None:
    class Lenient(BaseModel):
        greeting: str = "Hello"

    plugin = DemoPlugin()
    plugin.settings_model = Lenient  # type: ignore[assignment]
    with pytest.raises(PluginError, match=r"colour: unknown setting \(known: greeting\)"):
        host(demo={"colour": "red"}).register(plugin, "demo")


def test_settings_for_a_plugin_without_a_model_are_an_error() -> None:
    with pytest.raises(PluginError, match=r"takes no settings, but \[plugins.c\] sets colour, size"):
        host(c={"size": 1, "colour": "red"}).register(ChannelPlugin("c"), "c")


def test_plugin_without_a_model_gets_an_empty_config() -> None:
    h = host()
    h.register(ChannelPlugin("c"), "c")
    assert dict(h.config("c")) == {}


# -- providers ---------------------------------------------------------------------------------


def test_duplicate_provider_codes_name_both_plugins() -> None:
    h = host()
    h.register(ChannelPlugin("sms"), "first", distribution="dist-first", version="1.0")
    h.register(ChannelPlugin("sms"), "second", distribution="dist-second", version="2.0")
    with pytest.raises(PluginError) as err:
        h.collect_providers()
    assert str(err.value).startswith(
        "notification channel code 'sms' is offered by both plugin first (dist-first 1.0) "
        "and plugin second (dist-second 2.0)"
    )


def test_each_factory_is_called_once_and_cached() -> None:
    plugin = DemoPlugin()
    h = host()
    h.register(plugin, "demo")
    assert h.collect_providers() is h.collect_providers()
    assert len(plugin.seen) == 1


@pytest.mark.parametrize(
    ("result", "message"),
    [
        pytest.param([object()], "has no string code", id="no-code"),
        pytest.param(
            [type("X", (), {"code": "x"})()],
            "'x' does not implement NotificationChannel",
            id="no-send",
        ),
        pytest.param("log", "must return a list, got str", id="not-a-list"),
    ],
)
def test_bad_factory_results_are_refused(result: object, message: str) -> None:
    class Bad:
        rcommerce_requires = ">=0.1"

        @hookimpl
        def rcommerce_notification_channels(self) -> object:
            return result

    h = host()
    h.register(Bad(), "bad")
    with pytest.raises(PluginError, match=message):
        h.collect_providers()


def test_async_or_raising_factories_are_refused() -> None:
    class Async:
        rcommerce_requires = ">=0.1"

        @hookimpl
        async def rcommerce_storage_backends(self) -> list[object]:
            return []

    class Raising:
        rcommerce_requires = ">=0.1"

        @hookimpl
        def rcommerce_tax_providers(self) -> list[object]:
            raise RuntimeError("no api key")

    h = host()
    h.register(Async(), "async")
    with pytest.raises(PluginError, match="rcommerce_storage_backends must be a sync function"):
        h.collect_providers()
    h.unregister("async")
    h.register(Raising(), "raising")
    with pytest.raises(
        PluginError,
        match=r"plugin raising .*rcommerce_tax_providers raised RuntimeError: no api key",
    ):
        h.collect_providers()


# -- async hooks -------------------------------------------------------------------------------


async def test_event_hooks_are_awaited_and_failures_isolated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    class Sync:
        rcommerce_requires = ">=0.1"

        @hookimpl
        def rcommerce_on_event(self, event: Event) -> None:
            seen.append(f"sync:{event.type}")

    h = host()
    h.register(Recorder(seen, "one"), "one")
    h.register(Recorder(seen, "bad", fail=True), "bad")
    h.register(Sync(), "sync")
    with caplog.at_level(logging.ERROR, "rcommerce.plugins"):
        failures = await h.emit_event(make_event())
    assert seen == ["one:order.placed", "sync:order.placed"]
    assert [(f.plugin, f.hook, str(f.error)) for f in failures] == [("bad", "rcommerce_on_event", "bad broke")]
    assert "plugin bad (unknown unknown): rcommerce_on_event failed" in caplog.text


async def test_slow_event_hooks_time_out_as_failures() -> None:
    class Slow:
        rcommerce_requires = ">=0.1"

        @hookimpl
        async def rcommerce_on_event(self) -> None:
            await asyncio.sleep(10)

    h = host()
    h.register(Slow(), "slow")
    [failure] = await h.emit_event(make_event(), timeout_s=0.01)
    assert isinstance(failure.error, TimeoutError)


async def test_startup_in_order_and_shutdown_in_reverse_isolating_failures() -> None:
    seen: list[str] = []
    h = host()
    h.register(Recorder(seen, "a"), "a")
    h.register(Recorder(seen, "bad", fail=True), "bad")
    h.register(Recorder(seen, "c"), "c")
    await h.startup(app=object())
    failures = await h.shutdown(app=object())
    assert seen == ["a:start", "bad:start", "c:start", "c:stop", "a:stop"]
    assert [f.plugin for f in failures] == ["bad"]


async def test_startup_failure_stops_start_up() -> None:
    class Failing:
        rcommerce_requires = ">=0.1"

        @hookimpl
        async def rcommerce_startup(self, app: Any) -> None:
            raise ConnectionError("cannot reach api")

    h = host()
    h.register(Failing(), "failing")
    with pytest.raises(PluginError, match=r"plugin failing .*rcommerce_startup raised ConnectionError"):
        await h.startup(app=None)


# -- built-in providers ------------------------------------------------------------------------


async def test_file_channel_writes_an_eml_per_message(tmp_path: Path) -> None:
    channel = FileChannel(tmp_path / "mail")
    message = NotificationMessage(
        ("ana@example.com",), "Order", "Thanks!", html="<p>Thanks!</p>", idempotency_key="ntf_1"
    )
    result = await channel.send(message)
    await channel.send(message)  # redelivery overwrites
    assert result == SendResult(accepted=True, message_id="ntf_1")
    files = list((tmp_path / "mail").iterdir())
    assert [f.name for f in files] == ["ntf_1.eml"]
    parsed = email.message_from_bytes(files[0].read_bytes())
    assert (parsed["To"], parsed["Subject"]) == ("ana@example.com", "Order")
    assert parsed.is_multipart()


async def test_log_channel_logs_the_message(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, "rcommerce.notifications"):
        result = await LogChannel().send(NotificationMessage(("a@b.c",), "Hi", "Body"))
    assert result.accepted
    assert "a@b.c: Hi" in caplog.text


async def test_local_storage_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, base_url="https://cdn.example/media")
    stored = await storage.put("products/p 1/hero.jpg", b"jpeg", content_type="image/jpeg")
    assert stored.size_bytes == 4
    assert await storage.get("products/p 1/hero.jpg") == b"jpeg"
    assert storage.url("products/p 1/hero.jpg") == "https://cdn.example/media/products/p%201/hero.jpg"
    await storage.delete("products/p 1/hero.jpg")
    await storage.delete("products/p 1/hero.jpg")  # missing is fine
    with pytest.raises(KeyError):
        await storage.get("products/p 1/hero.jpg")


@pytest.mark.parametrize("key", ["../etc/passwd", "/etc/passwd", "a/../../b", "a//b", "a\\..\\b", "", "a/./b/.."])
async def test_local_storage_refuses_keys_outside_its_root(tmp_path: Path, key: str) -> None:
    storage = LocalStorage(tmp_path / "root")
    with pytest.raises(ValueError, match="invalid storage key"):
        await storage.put(key, b"x", content_type="text/plain")


async def test_local_storage_refuses_symlinks_out_of_the_root(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "link").symlink_to(tmp_path)
    storage = LocalStorage(tmp_path / "root")
    with pytest.raises(ValueError, match="resolves outside"):
        await storage.get("link/secret")
