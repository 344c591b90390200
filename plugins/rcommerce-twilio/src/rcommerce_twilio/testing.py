"""A test double for Twilio's Messages API (2010-04-01), written from Twilio's docs.

For integrators' tests as much as this plugin's own: point ``[plugins.twilio] base_url``
at :attr:`RunningFake.base_url` and read what was "sent" from ``FakeTwilio.messages``::

    from rcommerce_twilio.testing import FakeTwilio, RunningFake

    with RunningFake(FakeTwilio("AC" + "1" * 32, "token")) as twilio:
        settings = {"account_sid": "AC" + "1" * 32, "auth_token": "token",
                    "from_number": "+15005550006", "base_url": twilio.base_url}
        ...  # send through the channel, then
        assert twilio.app.messages[0]["body"] == "..."

Nothing here reaches the internet. ``uvicorn`` (a dependency of rcommerce) serves it.

It checks what the real API checks for ``POST /2010-04-01/Accounts/{sid}/Messages.json``:
HTTP Basic credentials (account sid + auth token, or API key sid + secret for that account),
a form body with ``To``, ``Body`` and ``From`` or ``MessagingServiceSid``, the 1,600
character body limit, and Twilio's magic test numbers for recipient errors. It answers with
Twilio's JSON shapes: the message resource (201) or ``{code, message, more_info, status}``.
``fail_next`` queues fault answers (429, 500, ...) for the next requests.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

__all__ = ["MAGIC_TO_ERRORS", "FakeTwilio", "RunningFake"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

#: Twilio's magic "To" numbers for test credentials and the error each one produces.
MAGIC_TO_ERRORS: dict[str, tuple[int, str]] = {
    "+15005550001": (21211, "The 'To' number +15005550001 is not a valid phone number."),
    "+15005550002": (
        21612,
        "The 'To' phone number: +15005550002, is not currently reachable using the 'From' phone number.",
    ),
    "+15005550003": (
        21408,
        "Permission to send an SMS has not been enabled for the region indicated by the 'To' number.",
    ),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}


@dataclass
class FakeTwilio:
    account_sid: str
    auth_token: str
    api_keys: dict[str, str] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0
    fail_next: list[int] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            event = await receive()
            body += event.get("body", b"")
            if not event.get("more_body"):
                break
        self.requests += 1
        status, payload = self._handle(scope, body)
        data = json.dumps(payload).encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": data})

    def _error(self, status: int, code: int, message: str) -> tuple[int, dict[str, Any]]:
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _handle(self, scope: Scope, body: bytes) -> tuple[int, dict[str, Any]]:
        path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if scope["path"] != path:
            return self._error(404, 20404, f"The requested resource {scope['path']} was not found")
        if scope["method"] != "POST":
            return self._error(405, 20004, "Method not allowed")
        if not self._authenticated(dict(scope["headers"]).get(b"authorization", b"")):
            return self._error(401, 20003, "Authenticate")
        if self.fail_next:
            status = self.fail_next.pop(0)
            return self._error(
                status,
                20429 if status == 429 else 20500,
                "Too Many Requests" if status == 429 else "Internal Server Error",
            )
        headers = dict(scope["headers"])
        if not headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
            return self._error(400, 20001, "Content-Type must be application/x-www-form-urlencoded")
        form = {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        to, text = form.get("To", ""), form.get("Body", "")
        sender, service = form.get("From", ""), form.get("MessagingServiceSid", "")
        if not to:
            return self._error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return self._error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message")
        if not text:
            return self._error(400, 21602, "Message body is required.")
        if len(text) > 1600:
            return self._error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if to in MAGIC_TO_ERRORS:
            code, message = MAGIC_TO_ERRORS[to]
            return self._error(400, code, message)
        sid = "SM" + secrets.token_hex(16)
        sent: dict[str, Any] = {"sid": sid, "to": to, "from": sender, "messaging_service_sid": service or None,
                                 "body": text, "status_callback": form.get("StatusCallback", "")}  # fmt: skip
        self.messages.append(sent)
        return 201, {
            **sent, "account_sid": self.account_sid, "status": "queued" if not service else "accepted",
            "num_segments": str(1 + (len(text) - 1) // 153 if len(text) > 160 else 1), "direction": "outbound-api",
            "date_created": formatdate(usegmt=True), "error_code": None, "error_message": None, "price": None,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }  # fmt: skip

    def _authenticated(self, header: bytes) -> bool:
        if not header.startswith(b"Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        if user == self.account_sid:
            return secrets.compare_digest(password, self.auth_token)
        return user in self.api_keys and secrets.compare_digest(password, self.api_keys[user])


class RunningFake:
    """Serves a :class:`FakeTwilio` on a free loopback port in a background thread."""

    def __init__(self, app: FakeTwilio) -> None:
        import uvicorn  # only when a fake is served

        self.app = app
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="off", log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> RunningFake:
        self.thread.start()
        started = threading.Event()
        while not self.server.started:
            started.wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)
