"""The ``file`` notification channel: writes each message as an ``.eml`` file.

Lets developers and tests open the exact e-mail a customer would get. The directory is
created on first send (factories do no I/O); files are named after the idempotency key,
so a redelivered message overwrites its earlier copy instead of duplicating it.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from rcommerce.plugins.providers import NotificationMessage, SendResult

__all__ = ["FileChannel"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class FileChannel:
    """Writes RFC 5322 messages to ``<directory>/<id>.eml``."""

    code = "file"
    display_name = "Files (.eml)"
    #: What it delivers: e-mails (.eml files), so customer e-mail preferences apply.
    medium = "email"

    def __init__(self, directory: str | Path, *, sender: str = "rcommerce@localhost") -> None:
        self.directory = Path(directory)
        self.sender = sender

    async def send(self, message: NotificationMessage) -> SendResult:
        if not message.to:
            return SendResult(accepted=False, error="no recipients")
        message_id = _UNSAFE.sub("_", message.idempotency_key) or uuid.uuid4().hex
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = ", ".join(message.to)
        email["Subject"] = message.subject
        email["Message-ID"] = f"<{message_id}@rcommerce>"
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        path = self.directory / f"{message_id}.eml"
        await asyncio.to_thread(self._write, path, email.as_bytes(policy=SMTP))
        return SendResult(accepted=True, message_id=message_id)

    def _write(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".eml.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)  # readers never see half a message
