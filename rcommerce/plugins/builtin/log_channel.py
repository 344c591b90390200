"""The ``log`` notification channel: writes each message to the log instead of sending it.

Meant for development and for installations that have not configured a real channel.
"""

from __future__ import annotations

import logging
import uuid

from rcommerce.plugins.providers import NotificationMessage, SendResult

__all__ = ["LogChannel"]

log = logging.getLogger("rcommerce.notifications")


class LogChannel:
    """Logs the recipients, subject and text of each message at ``level``."""

    code = "log"
    display_name = "Log (development)"
    #: What it delivers (not a customer medium: only topic opt-outs apply).
    medium = "log"

    def __init__(self, *, level: str = "INFO") -> None:
        self.level = logging.getLevelName(level)

    async def send(self, message: NotificationMessage) -> SendResult:
        message_id = message.idempotency_key or uuid.uuid4().hex
        log.log(
            self.level,
            "notification %s to %s: %s\n%s",
            message.topic or "-", ", ".join(message.to), message.subject, message.text,
        )  # fmt: skip
        return SendResult(accepted=True, message_id=message_id)
