"""The ``twilio`` channel: one ``POST .../Accounts/{sid}/Messages.json`` per recipient.

Twilio answers 201 with the message resource when it queued the message. A 4xx answer with
one of the recipient error codes below is final for that message (bad number, blocked,
unsubscribed): a refusal, not retried. Authentication failures, 429 and 5xx answers,
timeouts and connection errors raise :class:`TwilioDeliveryError` and the notification job
retries with backoff; Twilio has no idempotency key for message creation, so a retry after
a lost 201 can send the SMS twice (at least once, like every channel).
"""

from __future__ import annotations

import re

import httpx

from rcommerce.plugins.providers import NotificationMessage, SendResult

__all__ = ["MAX_BODY_CHARS", "TwilioDeliveryError", "TwilioSMSChannel"]

#: Twilio's limit for one (concatenated) message body.
MAX_BODY_CHARS = 1600
_E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
#: Error codes that describe the recipient or the content: retrying cannot help.
_FINAL_CODES = frozenset({21211, 21408, 21610, 21612, 21614, 21617, 21604, 21606, 21660})


class TwilioDeliveryError(Exception):
    """A transient or configuration failure: the notification is retried later."""


class TwilioSMSChannel:
    """Sends a notification's plain-text body as an SMS (the subject is not sent)."""

    code = "twilio"
    display_name = "SMS (Twilio)"
    #: What it delivers (customer SMS preferences and quiet hours apply).
    medium = "sms"

    def __init__(
        self,
        *,
        account_sid: str,
        username: str,
        password: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        status_callback: str = "",
        base_url: str = "https://api.twilio.com",
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.account_sid = account_sid
        self._auth = (username, password)
        self.from_number, self.messaging_service_sid = from_number, messaging_service_sid
        self.status_callback = status_callback
        self.url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self.timeout = timeout
        self._transport = transport

    def form(self, to: str, body: str) -> dict[str, str]:
        """The form fields of one message request."""
        fields = {"To": to, "Body": body}
        if self.messaging_service_sid:
            fields["MessagingServiceSid"] = self.messaging_service_sid
        else:
            fields["From"] = self.from_number
        if self.status_callback:
            fields["StatusCallback"] = self.status_callback
        return fields

    async def send(self, message: NotificationMessage) -> SendResult:
        recipients = [r.strip() for r in message.to if r.strip()]
        if not recipients:
            return SendResult(accepted=False, error="no recipients")
        bad = [r for r in recipients if not _E164.match(r)]
        if bad:
            return SendResult(accepted=False, error=f"not an E.164 phone number: {', '.join(bad)}")
        body = message.text.strip()
        if not body:
            return SendResult(accepted=False, error="the message has no text body")
        if len(body) > MAX_BODY_CHARS:
            return SendResult(
                accepted=False, error=f"the text body has {len(body)} characters; SMS allows {MAX_BODY_CHARS}"
            )
        sids: list[str] = []
        refusals: list[str] = []
        async with httpx.AsyncClient(auth=self._auth, timeout=self.timeout, transport=self._transport) as client:
            for to in recipients:
                sid, refusal = await self._send_one(client, to, body)
                if sid:
                    sids.append(sid)
                else:
                    refusals.append(refusal)
        if not sids:
            return SendResult(accepted=False, error="; ".join(refusals))
        return SendResult(accepted=True, message_id=",".join(sids), error="; ".join(refusals))

    async def _send_one(self, client: httpx.AsyncClient, to: str, body: str) -> tuple[str, str]:
        """(message sid, "") when queued, ("", why) when refused for good; raises otherwise."""
        try:
            response = await client.post(self.url, data=self.form(to, body), headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise TwilioDeliveryError(f"could not reach Twilio at {self.url}: {exc!r}") from exc
        payload = _json(response)
        if response.status_code == 201:
            sid = str(payload.get("sid", ""))
            if not sid.startswith(("SM", "MM")):
                raise TwilioDeliveryError(f"Twilio answered 201 without a message sid: {response.text[:200]}")
            return sid, ""
        code = payload.get("code")
        detail = f"Twilio {response.status_code} (error {code}): {payload.get('message', response.text[:200])}"
        if 400 <= response.status_code < 500 and isinstance(code, int) and code in _FINAL_CODES:
            return "", f"{to}: {detail}"
        # 401/403 (credentials), 429 (rate), 5xx and unknown 4xx: keep the message and retry,
        # so fixing the settings or waiting out an outage still delivers it.
        raise TwilioDeliveryError(detail)


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
