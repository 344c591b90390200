"""The smtp channel against a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword
from rcommerce_smtp import SMTPChannel, SMTPDeliveryError, SMTPSettings, channel_from_settings

from rcommerce.plugins.providers import NotificationChannel, NotificationMessage


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Envelope, address: str, options: Any) -> str:
        if address.endswith("@nowhere.invalid"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"mailer", b"s3cret")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def auth_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, authenticator=_authenticator, auth_required=True,
        auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def _message(**kwargs: Any) -> NotificationMessage:
    defaults: dict[str, Any] = {
        "to": ("ann@example.test",), "subject": "Order Confirmed: R-7", "text": "Thanks, Ann.\n",
        "html": "<p>Thanks, <strong>Ann</strong>.</p>", "idempotency_key": "ntf_01ABC", "topic": "order_confirmation",
    }  # fmt: skip
    return NotificationMessage(**{**defaults, **kwargs})


def _parse(envelope: Envelope) -> Message:
    assert isinstance(envelope.content, bytes)
    return message_from_bytes(envelope.content)


async def test_delivers_multipart_message(server: tuple[Inbox, int]) -> None:
    inbox, port = server
    channel = SMTPChannel(host="127.0.0.1", port=port, sender="Shop <shop@example.test>", starttls=False)
    assert isinstance(channel, NotificationChannel)
    result = await channel.send(_message())
    assert result.accepted and result.message_id == "<ntf_01ABC@rcommerce>"
    [envelope] = inbox.envelopes
    assert envelope.mail_from == "shop@example.test" and envelope.rcpt_tos == ["ann@example.test"]
    email = _parse(envelope)
    assert email["Subject"] == "Order Confirmed: R-7" and email["To"] == "ann@example.test"
    assert email["Message-ID"] == "<ntf_01ABC@rcommerce>"
    assert email.get_content_type() == "multipart/alternative"
    parts: list[Any] = email.get_payload()  # type: ignore[assignment]
    text, html = parts
    assert text.get_content_type() == "text/plain" and "Thanks, Ann." in text.get_payload(decode=True).decode()
    assert html.get_content_type() == "text/html" and "<strong>Ann</strong>" in html.get_payload(decode=True).decode()


async def test_text_only_message(server: tuple[Inbox, int]) -> None:
    inbox, port = server
    channel = SMTPChannel(host="127.0.0.1", port=port, sender="shop@example.test", starttls=False)
    assert (await channel.send(_message(html=""))).accepted
    assert _parse(inbox.envelopes[0]).get_content_type() == "text/plain"


async def test_permanently_refused_recipient_is_a_refusal(server: tuple[Inbox, int]) -> None:
    inbox, port = server
    channel = SMTPChannel(host="127.0.0.1", port=port, sender="shop@example.test", starttls=False)
    result = await channel.send(_message(to=("x@nowhere.invalid",)))
    assert not result.accepted and "550" in result.error
    assert inbox.envelopes == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_authenticates(auth_server: tuple[Inbox, int]) -> None:
    inbox, port = auth_server
    settings = SMTPSettings.model_validate(
        {"host": "127.0.0.1", "port": port, "username": "mailer", "password": "s3cret", "starttls": False,
         "from": "shop@example.test"}
    )  # fmt: skip
    assert (await channel_from_settings(settings).send(_message())).accepted
    assert len(inbox.envelopes) == 1
    wrong = SMTPChannel(
        host="127.0.0.1", port=port, sender="shop@example.test", username="mailer", password="nope", starttls=False
    )
    with pytest.raises(SMTPDeliveryError, match="authentication failed"):
        await wrong.send(_message())
    anonymous = SMTPChannel(host="127.0.0.1", port=port, sender="shop@example.test", starttls=False)
    with pytest.raises(SMTPDeliveryError, match="530"):
        await anonymous.send(_message())
    assert len(inbox.envelopes) == 1


async def test_connection_refused_is_a_retryable_error() -> None:
    channel = SMTPChannel(host="127.0.0.1", port=_free_port(), sender="shop@example.test", starttls=False, timeout=5)
    with pytest.raises(SMTPDeliveryError, match=r"could not reach SMTP server 127\.0\.0\.1:\d+"):
        await channel.send(_message())


async def test_starttls_required_but_not_offered_is_retryable(server: tuple[Inbox, int]) -> None:
    _, port = server
    channel = SMTPChannel(host="127.0.0.1", port=port, sender="shop@example.test", starttls=True, timeout=5)
    with pytest.raises(SMTPDeliveryError):
        await channel.send(_message())


def test_settings() -> None:
    settings = SMTPSettings.model_validate({"from": "a@b.test", "password": "pw"})
    assert settings.sender == "a@b.test" and "pw" not in repr(settings)
    with pytest.raises(ValueError, match="either ssl"):
        SMTPSettings.model_validate({"ssl": True, "starttls": True})
    assert SMTPSettings.model_validate({"ssl": True, "starttls": False, "port": 465}).ssl


# -- TLS against real certificates (a throwaway CA made by trustme) -------------------------


class TLSInbox(Inbox):
    """Records whether each message arrived over TLS."""

    def __init__(self) -> None:
        super().__init__()
        self.encrypted: list[bool] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.encrypted.append(server.transport.get_extra_info("ssl_object") is not None)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[tuple[TLSInbox, int]]:
    """Offers STARTTLS with a certificate for 127.0.0.1, requires it, and requires AUTH over it."""
    inbox, port = TLSInbox(), _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=_server_context(ca, "127.0.0.1"), require_starttls=True,
        authenticator=_authenticator, auth_required=True,
    )  # fmt: skip
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


async def test_starttls_with_a_trusted_certificate_and_auth(
    starttls_server: tuple[TLSInbox, int], ca: trustme.CA, tmp_path: Path
) -> None:
    inbox, port = starttls_server
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    settings = {"host": "127.0.0.1", "port": port, "username": "mailer", "password": "s3cret", "starttls": True,
                "from": "shop@example.test", "ca_file": str(ca_file), "timeout": 5}  # fmt: skip
    channel = channel_from_settings(SMTPSettings.model_validate(settings))
    result = await channel.send(_message())
    assert result.accepted, result.error
    assert inbox.encrypted == [True]
    assert _parse(inbox.envelopes[0])["Subject"] == "Order Confirmed: R-7"


async def test_starttls_refuses_an_untrusted_certificate(starttls_server: tuple[TLSInbox, int]) -> None:
    inbox, port = starttls_server
    channel = SMTPChannel(host="127.0.0.1", port=port, sender="shop@example.test", username="mailer",
                          password="s3cret", starttls=True, timeout=5)  # fmt: skip
    with pytest.raises(SMTPDeliveryError):  # system trust store: the test CA is unknown
        await channel.send(_message())
    assert inbox.envelopes == []


async def test_starttls_refuses_a_certificate_for_another_host(ca: trustme.CA) -> None:
    inbox, port = TLSInbox(), _free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=_server_context(ca, "mail.example.test"),
        require_starttls=True,
    )  # fmt: skip
    controller.start()
    try:
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        channel = SMTPChannel(host="127.0.0.1", port=port, sender="shop@example.test", starttls=True, timeout=5,
                              tls_context=client_context)  # fmt: skip
        with pytest.raises(SMTPDeliveryError):
            await channel.send(_message())
        assert inbox.envelopes == []
    finally:
        controller.stop()


async def test_implicit_tls(ca: trustme.CA) -> None:
    inbox, port = TLSInbox(), _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=_server_context(ca, "127.0.0.1"))
    controller.start()
    try:
        client_context = ssl.create_default_context()
        ca.configure_trust(client_context)
        channel = SMTPChannel(host="127.0.0.1", port=port, sender="shop@example.test", ssl=True, starttls=False,
                              timeout=5, tls_context=client_context)  # fmt: skip
        result = await channel.send(_message())
        assert result.accepted, result.error
        assert inbox.encrypted == [True]
    finally:
        controller.stop()
