"""The ``example-console`` notification channel: prints each message to stdout."""

from __future__ import annotations

import sys
import uuid

from rcommerce.plugins.providers import NotificationMessage, SendResult

__all__ = ["ConsoleChannel"]


class ConsoleChannel:
    """Writes "<greeting>, <recipients>: <subject>" and the text to standard output."""

    code = "example-console"
    display_name = "Example console"

    def __init__(self, *, greeting: str) -> None:
        self.greeting = greeting

    async def send(self, message: NotificationMessage) -> SendResult:
        if not message.to:
            # A refusal is a result, not an exception: retrying would not help.
            return SendResult(accepted=False, error="no recipients")
        # A short write to a terminal; a real channel would await an async client here.
        sys.stdout.write(f"{self.greeting}, {', '.join(message.to)}: {message.subject}\n")
        sys.stdout.write(message.text + "\n")
        return SendResult(accepted=True, message_id=message.idempotency_key or uuid.uuid4().hex)
