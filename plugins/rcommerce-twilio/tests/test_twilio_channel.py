"""The twilio channel against a local server that speaks Twilio's Messages API."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pydantic import ValidationError
from rcommerce_twilio import TwilioDeliveryError, TwilioSettings, TwilioSMSChannel, channel_from_settings
from rcommerce_twilio.testing import FakeTwilio, RunningFake

from rcommerce.plugins.providers import NotificationChannel, NotificationMessage

ACCOUNT = "AC" + "1" * 32
TOKEN = "auth-token-123"
KEY_SID, KEY_SECRET = "SK" + "2" * 32, "key-secret-456"
SENDER = "+15005550006"


@pytest.fixture
def twilio() -> Iterator[RunningFake]:
    with RunningFake(FakeTwilio(ACCOUNT, TOKEN, api_keys={KEY_SID: KEY_SECRET})) as running:
        yield running


def _channel(twilio: RunningFake, **overrides: object) -> TwilioSMSChannel:
    settings = {"account_sid": ACCOUNT, "auth_token": TOKEN, "from_number": SENDER, "base_url": twilio.base_url}
    settings.update(overrides)
    return channel_from_settings(TwilioSettings.model_validate(settings))


def _sms(*to: str, text: str = "Your order #1001 has shipped.") -> NotificationMessage:
    return NotificationMessage(
        to=to, subject="ignored for SMS", text=text, idempotency_key="ntf_1", topic="order.shipped"
    )


async def test_sends_the_text_body_from_the_configured_number(twilio: RunningFake) -> None:
    channel = _channel(twilio)
    assert isinstance(channel, NotificationChannel)
    result = await channel.send(_sms("+14155550100"))
    assert result.accepted, result.error
    [message] = twilio.app.messages
    assert result.message_id == message["sid"] and message["sid"].startswith("SM")
    assert (message["to"], message["from"], message["body"]) == (
        "+14155550100",
        SENDER,
        "Your order #1001 has shipped.",
    )


async def test_api_key_and_messaging_service(twilio: RunningFake) -> None:
    service = "MG" + "3" * 32
    channel = _channel(
        twilio, auth_token="", api_key_sid=KEY_SID, api_key_secret=KEY_SECRET, from_number="",
        messaging_service_sid=service, status_callback="https://shop.example/sms-status",
    )  # fmt: skip
    result = await channel.send(_sms("+14155550100"))
    assert result.accepted, result.error
    [message] = twilio.app.messages
    assert message["messaging_service_sid"] == service and message["from"] == ""
    assert message["status_callback"] == "https://shop.example/sms-status"


@pytest.mark.parametrize(
    ("to", "code"), [("+15005550001", 21211), ("+15005550002", 21612), ("+15005550004", 21610), ("+15005550009", 21614)]
)
async def test_recipient_errors_are_final_refusals(twilio: RunningFake, to: str, code: int) -> None:
    result = await _channel(twilio).send(_sms(to))
    assert not result.accepted
    assert f"error {code}" in result.error and to in result.error
    assert twilio.app.messages == []


async def test_one_bad_recipient_does_not_lose_the_others(twilio: RunningFake) -> None:
    result = await _channel(twilio).send(_sms("+14155550100", "+15005550004"))
    assert result.accepted and "21610" in result.error
    assert [m["to"] for m in twilio.app.messages] == ["+14155550100"]


async def test_refuses_locally_what_twilio_would_refuse(twilio: RunningFake) -> None:
    channel = _channel(twilio)
    assert "E.164" in (await channel.send(_sms("0171 555 0100"))).error
    assert "1601 characters" in (await channel.send(_sms("+14155550100", text="x" * 1601))).error
    assert not (await channel.send(_sms("+14155550100", text="   "))).accepted
    assert not (await channel.send(_sms())).accepted
    assert twilio.app.requests == 0


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_rate_limits_and_server_errors_are_retried(twilio: RunningFake, status: int) -> None:
    twilio.app.fail_next.append(status)
    channel = _channel(twilio)
    with pytest.raises(TwilioDeliveryError, match=str(status)):
        await channel.send(_sms("+14155550100"))
    assert twilio.app.messages == []
    assert (await channel.send(_sms("+14155550100"))).accepted  # the retry goes through
    assert len(twilio.app.messages) == 1


async def test_wrong_credentials_are_retried_not_dropped(twilio: RunningFake) -> None:
    with pytest.raises(TwilioDeliveryError, match="20003"):
        await _channel(twilio, auth_token="wrong").send(_sms("+14155550100"))


async def test_unreachable_and_hanging_servers_are_transient() -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        hanging = TwilioSMSChannel(account_sid=ACCOUNT, username=ACCOUNT, password=TOKEN, from_number=SENDER,
                                   base_url=f"http://127.0.0.1:{port}", timeout=0.2)  # fmt: skip
        with pytest.raises(TwilioDeliveryError, match="could not reach"):
            await hanging.send(_sms("+14155550100"))
    closed = TwilioSMSChannel(account_sid=ACCOUNT, username=ACCOUNT, password=TOKEN, from_number=SENDER,
                              base_url=f"http://127.0.0.1:{port}", timeout=1)  # fmt: skip
    with pytest.raises(TwilioDeliveryError, match="could not reach"):
        await closed.send(_sms("+14155550100"))


@pytest.mark.parametrize(
    "settings",
    [
        {"account_sid": "AC123", "auth_token": "t", "from_number": SENDER},
        {"account_sid": ACCOUNT, "from_number": SENDER},
        {
            "account_sid": ACCOUNT,
            "auth_token": "t",
            "api_key_sid": KEY_SID,
            "api_key_secret": "s",
            "from_number": SENDER,
        },
        {"account_sid": ACCOUNT, "auth_token": "t"},
        {"account_sid": ACCOUNT, "auth_token": "t", "from_number": SENDER, "messaging_service_sid": "MG" + "3" * 32},
        {"account_sid": ACCOUNT, "auth_token": "t", "from_number": SENDER, "base_url": "ftp://x"},
    ],
)
def test_incomplete_settings_are_refused(settings: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        TwilioSettings.model_validate(settings)


def test_the_plugin_registers_the_channel_through_the_hook() -> None:
    import rcommerce_twilio

    channels = rcommerce_twilio.rcommerce_notification_channels(
        {"account_sid": ACCOUNT, "auth_token": TOKEN, "from_number": SENDER}
    )
    assert [c.code for c in channels] == ["twilio"]
    assert "auth-token" not in repr(TwilioSettings(account_sid=ACCOUNT, auth_token=TOKEN, from_number=SENDER))
