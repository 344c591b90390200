"""rcommerce-example, registered into a PluginHost without installing it; plus one test of
the installed entry point."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
import rcommerce_example
from rcommerce_example import ConsoleChannel, ExampleSettings, FlatTax

from rcommerce.config import PluginsSettings, load_settings
from rcommerce.plugins import Event, PluginError, PluginHost
from rcommerce.plugins.providers import Address, NotificationMessage, TaxLine, TaxRequest


def make_host(**table: object) -> PluginHost:
    host = PluginHost(PluginsSettings(example=table), environ={})
    host.register(rcommerce_example, "example", distribution="rcommerce-example", version="0.1.0")
    return host


@pytest.fixture(autouse=True)
def no_recorded_events() -> Iterator[None]:
    rcommerce_example.recorded_events.clear()
    yield
    rcommerce_example.recorded_events.clear()


def test_registers_its_providers_with_its_settings() -> None:
    host = make_host(greeting="Ahoy", currency="EUR", rate_bps=1900)
    registry = host.collect_providers()
    channel = registry.notification_channels["example-console"]
    tax = registry.tax_providers["example-flat"]
    assert isinstance(channel, ConsoleChannel) and channel.greeting == "Ahoy"
    assert isinstance(tax, FlatTax) and (tax.rate_bps, tax.currency) == (1900, "EUR")
    [info] = host.describe()
    assert info.hooks == (
        "rcommerce_notification_channels",
        "rcommerce_on_event",
        "rcommerce_tax_providers",
    )


def test_environment_overrides_the_greeting(tmp_path: Path) -> None:
    (tmp_path / "rcommerce.toml").write_text("[plugins.example]\ngreeting = 'Hello'\n")
    environ = {"RCOMMERCE_PLUGINS__EXAMPLE__GREETING": "Hi"}
    settings = load_settings(tmp_path / "rcommerce.toml", environ=environ)
    host = PluginHost(settings.plugins, environ={})
    host.register(rcommerce_example, "example")
    assert host.config("example") == ExampleSettings(greeting="Hi")


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        pytest.param({"currency": "eur"}, "currency: Value error, must be an ISO 4217", id="lowercase"),
        pytest.param({"rate_bps": -1}, "rate_bps: Input should be greater than or equal to 0", id="neg"),
        pytest.param({"greting": "Hi"}, "greting: Extra inputs are not permitted", id="typo"),
    ],
)
def test_bad_settings_are_refused(table: dict[str, object], problem: str) -> None:
    with pytest.raises(PluginError) as err:
        make_host(**table)
    assert "plugin example (rcommerce-example 0.1.0): invalid settings" in str(err.value)
    assert problem in str(err.value)


async def test_console_channel_prints_with_the_greeting(capsys: pytest.CaptureFixture[str]) -> None:
    channel = ConsoleChannel(greeting="Hello")
    result = await channel.send(NotificationMessage(("ana@example.com",), "Shipped", "On its way"))
    assert result.accepted
    assert capsys.readouterr().out == "Hello, ana@example.com: Shipped\nOn its way\n"
    refused = await channel.send(NotificationMessage((), "Shipped", "On its way"))
    assert (refused.accepted, refused.error) == (False, "no recipients")


@pytest.mark.parametrize(
    ("amount", "gross", "tax"),
    [
        pytest.param(1000, False, 190, id="net"),
        pytest.param(1190, True, 190, id="gross"),
        pytest.param(5, False, 1, id="half-up"),  # 0.95 -> 1
        pytest.param(0, False, 0, id="zero"),
    ],
)
async def test_flat_tax(amount: int, gross: bool, tax: int) -> None:
    provider = FlatTax(rate_bps=1900, currency="EUR")
    request = TaxRequest("EUR", Address("DE"), (TaxLine("l1", amount),), prices_include_tax=gross)
    result = await provider.calculate(request)
    assert [(line.line_id, line.tax_amount, line.components[0].rate) for line in result.lines] == [
        ("l1", tax, Decimal("0.19"))
    ]
    assert result.total_tax == tax


async def test_flat_tax_refuses_other_currencies() -> None:
    with pytest.raises(ValueError, match="configured for EUR, not USD"):
        await FlatTax(rate_bps=1900, currency="EUR").calculate(TaxRequest("USD", Address("US"), ()))


async def test_events_are_recorded_once_each() -> None:
    host = make_host()
    event = Event("evt_1", "order.placed", "orders/ord_1", {}, datetime(2026, 1, 1, tzinfo=UTC))
    assert await host.emit_event(event) == []
    assert await host.emit_event(event) == []  # redelivery
    assert list(rcommerce_example.recorded_events) == [event]


def test_installed_entry_point_metadata() -> None:
    try:
        dist = distribution("rcommerce-example")
    except PackageNotFoundError:
        pytest.skip("rcommerce-example is not installed (pip install -e plugins/rcommerce-example)")
    [ep] = [ep for ep in dist.entry_points if ep.group == "rcommerce"]
    assert (ep.name, ep.value) == ("example", "rcommerce_example")
    assert ep.load() is rcommerce_example
    assert dist.version == rcommerce_example.__version__
