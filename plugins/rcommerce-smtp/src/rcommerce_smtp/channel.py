"""The ``smtp`` channel: one connection per message, via aiosmtplib."""

from __future__ import annotations

import re
import ssl as ssl_module
import uuid
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from rcommerce.plugins.providers import NotificationMessage, SendResult

__all__ = ["SMTPChannel", "SMTPDeliveryError"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_AUTH_CODES = frozenset({530, 534, 535, 538})


class SMTPDeliveryError(Exception):
    """A transient failure (connection, timeout, 4xx answer): retry later."""


class SMTPChannel:
    """Sends each message as ``multipart/alternative`` (text, then HTML when present)."""

    code = "smtp"
    display_name = "E-mail (SMTP)"
    #: What it delivers (customer e-mail preferences and quiet hours apply).
    medium = "email"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str = "",
        password: str = "",
        starttls: bool = True,
        ssl: bool = False,
        timeout: float = 30.0,
        tls_context: ssl_module.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.username, self.password = username, password
        self.starttls, self.ssl, self.timeout = starttls, ssl, timeout
        self.tls_context = tls_context

    def build(self, message: NotificationMessage) -> EmailMessage:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = ", ".join(message.to)
        email["Subject"] = message.subject
        email["Date"] = formatdate(localtime=False, usegmt=True)
        local = _UNSAFE.sub("_", message.idempotency_key) or uuid.uuid4().hex
        email["Message-ID"] = f"<{local}@rcommerce>"
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        return email

    async def send(self, message: NotificationMessage) -> SendResult:
        if not message.to:
            return SendResult(accepted=False, error="no recipients")
        email = self.build(message)
        try:
            refused, _ = await aiosmtplib.send(
                email,
                hostname=self.host,
                port=self.port,
                username=self.username or None,
                password=self.password or None,
                use_tls=self.ssl,
                start_tls=self.starttls if not self.ssl else False,
                timeout=self.timeout,
                tls_context=self.tls_context,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            permanent = [r for r in exc.recipients if r.code >= 500]
            if len(permanent) == len(exc.recipients):
                return SendResult(
                    accepted=False, error="; ".join(f"{r.recipient}: {r.code} {r.message}" for r in permanent)
                )
            raise SMTPDeliveryError(f"recipients refused for now: {exc}") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SMTPDeliveryError(
                f"SMTP authentication failed at {self.host}:{self.port}: {exc.code} {exc.message}"
            ) from exc
        except aiosmtplib.SMTPResponseException as exc:
            # 530/534/535/538: authentication is needed or wrong; a settings problem, so
            # keep retrying while staff fix it rather than dropping the message.
            if (
                exc.code >= 500
                and exc.code not in _AUTH_CODES
                and not isinstance(exc, aiosmtplib.SMTPServerDisconnected)
            ):
                return SendResult(accepted=False, error=f"{exc.code} {exc.message}")
            raise SMTPDeliveryError(f"SMTP server {self.host}:{self.port} answered {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SMTPDeliveryError(f"could not reach SMTP server {self.host}:{self.port}: {exc}") from exc
        if refused:
            return SendResult(accepted=False, error="; ".join(f"{k}: {v.code} {v.message}" for k, v in refused.items()))
        return SendResult(accepted=True, message_id=str(email["Message-ID"]))
