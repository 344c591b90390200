"""Whether a notification goes out now, later or not at all: the customer's preferences
applied to one delivery (spec C §3.4). Pure functions; the customers context loads the
preferences and the notification service acts on the answer.

The rule, in order:

1. Topic ``staff`` (low-stock alerts...) is not for a customer: SEND.
2. Topic ``account`` (welcome, password reset) is always sent and never deferred: a
   reset link must not wait for morning: SEND.
3. The channel's medium is switched off (``email``/``sms``/``push`` enabled flags):
   SKIP. A channel of any other medium ("log", "other") is not checked by medium.
4. The topic is switched off (``order_updates``, ``shipping_updates``, ``marketing``):
   SKIP, whatever the medium.
5. The medium reaches a person (email, sms, push) and local time is inside the quiet
   hours: DEFER until the window ends.
6. Otherwise SEND.

Quiet hours are local wall-clock times in an IANA zone. ``start < end`` is a window
within one day (quiet when ``start <= t < end``); ``start > end`` wraps past midnight
(quiet when ``t >= start or t < end``). The window ends at the next local ``end``,
computed on the wall clock, so a DST change inside the window moves the UTC instant
(22:00-07:00 in New York ends at 11:00 UTC on the spring-forward night, 12:00 UTC on
ordinary winter nights).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.plugins.providers import Event

__all__ = [
    "MEDIA",
    "PERSONAL_MEDIA",
    "TOPICS",
    "Decision",
    "Delivery",
    "PreferenceHook",
    "Preferences",
    "Verdict",
    "decide",
    "in_quiet_hours",
    "parse_clock",
    "quiet_window_end",
    "time_zone",
]

#: Media a channel may declare (``NotificationChannel.medium``); anything else is "other".
MEDIA = ("email", "sms", "push", "log", "other")
#: Media that reach a person's inbox or phone: the enabled flags and quiet hours apply.
PERSONAL_MEDIA = frozenset({"email", "sms", "push"})
#: Template topics (``topic`` in the template catalogue); "" = none (custom templates).
TOPICS = ("order_updates", "shipping_updates", "marketing", "account", "staff")

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Verdict(Enum):
    SEND = "send"
    SKIP = "skip"
    DEFER = "defer"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    #: DEFER: when the quiet window ends (UTC).
    until: datetime | None = None
    #: Why, for the notification row ("customer opted out of sms").
    reason: str = ""


SEND = Decision(Verdict.SEND)


@dataclass(frozen=True, slots=True)
class Preferences:
    """One customer's preferences (defaults: e-mail on, SMS and push off, all topics on,
    no quiet hours)."""

    email_enabled: bool = True
    sms_enabled: bool = False
    push_enabled: bool = False
    marketing: bool = True
    order_updates: bool = True
    shipping_updates: bool = True
    quiet_start: time | None = None
    quiet_end: time | None = None
    time_zone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One notification a rule is about to queue."""

    event: Event
    channel: str
    #: The channel's medium ("email", "sms", "push", "log" or "other").
    medium: str
    recipient: str
    template: str
    #: The template's topic ("" when it has none).
    topic: str


#: ``hook(session, delivery)`` inside the rule consumer's transaction.
PreferenceHook = Callable[[AsyncSession, Delivery], Awaitable[Decision]]


def parse_clock(value: str) -> time | None:
    """``"HH:MM"`` (24 h, two digits each) as a time; None when malformed."""
    match = _CLOCK.match(value)
    return time(int(match.group(1)), int(match.group(2))) if match else None


def time_zone(name: str) -> ZoneInfo | None:
    """The IANA zone called ``name``; None when unknown."""
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def in_quiet_hours(start: time, end: time, local: time) -> bool:
    """Whether the local time of day ``local`` is inside the window (end excluded)."""
    if start <= end:
        return start <= local < end
    return local >= start or local < end


def quiet_window_end(start: time, end: time, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the quiet window containing ``now`` ends (UTC), or None when ``now`` is
    outside it. The next local ``end`` on the wall clock: today's when still ahead, else
    tomorrow's. A local ``end`` that does not exist (skipped by a DST jump) is read on
    the clock as it was before the jump (02:30 on a 02:00→03:00 night ends at 03:30)."""
    local = now.astimezone(zone)
    if not in_quiet_hours(start, end, local.time().replace(tzinfo=None)):
        return None
    day = local.date()
    candidate = datetime.combine(day, end, tzinfo=zone)
    if candidate.astimezone(UTC) <= now.astimezone(UTC):
        candidate = datetime.combine(day + timedelta(days=1), end, tzinfo=zone)
    return candidate.astimezone(UTC)


def decide(prefs: Preferences, medium: str, topic: str, now: datetime) -> Decision:
    """SEND, SKIP or DEFER one delivery of ``topic`` through ``medium`` at ``now``."""
    if topic in ("staff", "account"):
        return SEND
    enabled = {"email": prefs.email_enabled, "sms": prefs.sms_enabled, "push": prefs.push_enabled}
    if medium in enabled and not enabled[medium]:
        return Decision(Verdict.SKIP, reason=f"customer opted out of {medium}")
    wanted = {"order_updates": prefs.order_updates, "shipping_updates": prefs.shipping_updates,
              "marketing": prefs.marketing}  # fmt: skip
    if topic in wanted and not wanted[topic]:
        return Decision(Verdict.SKIP, reason=f"customer opted out of {topic}")
    if medium in PERSONAL_MEDIA and prefs.quiet_start is not None and prefs.quiet_end is not None:
        zone = time_zone(prefs.time_zone) or ZoneInfo("UTC")
        until = quiet_window_end(prefs.quiet_start, prefs.quiet_end, zone, now)
        if until is not None:
            return Decision(Verdict.DEFER, until=until, reason="quiet hours")
    return SEND
