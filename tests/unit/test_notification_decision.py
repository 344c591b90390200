"""The notification preference decision (spec C §3.4): media and topic opt-outs, quiet
windows (same-day and wrap-around), time zones and DST, and the template topics."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from rcommerce.domain.customers.notification_preferences import preference_violations
from rcommerce.notifications.preferences import (
    TOPICS,
    Decision,
    Preferences,
    Verdict,
    decide,
    in_quiet_hours,
    parse_clock,
    quiet_window_end,
    time_zone,
)
from rcommerce.notifications.templates import Templates
from rcommerce.plugins.builtin.file_channel import FileChannel
from rcommerce.plugins.builtin.log_channel import LogChannel
from rcommerce.plugins.providers import channel_medium

NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SEND = Decision(Verdict.SEND)
NIGHT = Preferences(quiet_start=time(22), quiet_end=time(7), time_zone="Europe/Berlin")
EVERYTHING_OFF = Preferences(
    email_enabled=False, sms_enabled=False, push_enabled=False, marketing=False, order_updates=False,
    shipping_updates=False, quiet_start=time(0), quiet_end=time(23, 59),
)  # fmt: skip


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# -- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("22:00", time(22)), ("07:05", time(7, 5)), ("00:00", time(0)), ("23:59", time(23, 59)), ("7:00", None),
     ("24:00", None), ("22:60", None), ("22:00:00", None), ("", None), ("ab:cd", None), (" 22:00", None)],
)  # fmt: skip
def test_clock_times_are_two_digit_hh_mm(text: str, expected: time | None) -> None:
    assert parse_clock(text) == expected


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"])
def test_iana_zones_are_known(name: str) -> None:
    assert time_zone(name) == ZoneInfo(name)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "../etc/passwd", "/etc/localtime", " UTC", "Europe/"])
def test_unknown_zones_are_refused(name: str) -> None:
    assert time_zone(name) is None


# -- the quiet window ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "quiet"),
    [(time(9), True), (time(16, 59), True), (time(17), False), (time(8, 59), False), (time(23), False)],
)
def test_a_same_day_window_is_start_inclusive_end_exclusive(local: time, quiet: bool) -> None:
    assert in_quiet_hours(time(9), time(17), local) is quiet


@pytest.mark.parametrize(
    ("local", "quiet"),
    [(time(22), True), (time(23, 30), True), (time(0), True), (time(6, 59), True), (time(7), False),
     (time(12), False), (time(21, 59), False)],
)  # fmt: skip
def test_a_window_past_midnight_wraps(local: time, quiet: bool) -> None:
    assert in_quiet_hours(time(22), time(7), local) is quiet


def test_before_midnight_the_window_ends_the_next_morning_local_time() -> None:
    # 21:30 UTC is 23:30 in Berlin (CEST, +2): quiet until 07:00 CEST on 2 June = 05:00 UTC.
    assert quiet_window_end(time(22), time(7), ZoneInfo("Europe/Berlin"), utc(2026, 6, 1, 21, 30)) == utc(
        2026, 6, 2, 5, 0
    )


def test_after_midnight_the_window_ends_the_same_morning() -> None:
    # 01:00 UTC is 03:00 CEST on 2 June.
    assert quiet_window_end(time(22), time(7), ZoneInfo("Europe/Berlin"), utc(2026, 6, 2, 1, 0)) == utc(
        2026, 6, 2, 5, 0
    )


def test_a_same_day_window_ends_today() -> None:
    assert quiet_window_end(time(12), time(14), ZoneInfo("UTC"), utc(2026, 6, 1, 13, 15)) == utc(2026, 6, 1, 14)


def test_outside_the_window_there_is_no_end() -> None:
    assert quiet_window_end(time(22), time(7), ZoneInfo("Europe/Berlin"), NOON) is None
    assert quiet_window_end(time(22), time(7), ZoneInfo("Europe/Berlin"), utc(2026, 6, 2, 5, 0)) is None


def test_spring_forward_night_ends_an_hour_earlier_in_utc() -> None:
    # New York, 8 March 2026: clocks jump 02:00 EST -> 03:00 EDT. 04:00 UTC = 23:00 EST on
    # the 7th; 07:00 EDT is 11:00 UTC (on an ordinary winter night it would be 12:00).
    zone = ZoneInfo("America/New_York")
    assert quiet_window_end(time(22), time(7), zone, utc(2026, 3, 8, 4, 0)) == utc(2026, 3, 8, 11, 0)
    assert quiet_window_end(time(22), time(7), zone, utc(2026, 3, 1, 4, 0)) == utc(2026, 3, 1, 12, 0)
    # Inside the window after the jump (06:30 UTC = 01:30 EST): still 11:00 UTC.
    assert quiet_window_end(time(22), time(7), zone, utc(2026, 3, 8, 6, 30)) == utc(2026, 3, 8, 11, 0)


def test_fall_back_night_ends_an_hour_later_in_utc() -> None:
    # 1 November 2026: 02:00 EDT -> 01:00 EST. 03:00 UTC = 23:00 EDT on 31 October;
    # 07:00 EST is 12:00 UTC (11:00 UTC the night before).
    zone = ZoneInfo("America/New_York")
    assert quiet_window_end(time(22), time(7), zone, utc(2026, 11, 1, 3, 0)) == utc(2026, 11, 1, 12, 0)
    assert quiet_window_end(time(22), time(7), zone, utc(2026, 10, 31, 3, 0)) == utc(2026, 10, 31, 11, 0)


def test_an_end_inside_the_dst_gap_is_read_on_the_old_clock() -> None:
    # 01:00-02:30 on the spring-forward night: 02:30 never happens; it ends at 07:30 UTC
    # (03:30 EDT), not at midnight the next day.
    zone = ZoneInfo("America/New_York")
    assert quiet_window_end(time(1), time(2, 30), zone, utc(2026, 3, 8, 6, 30)) == utc(2026, 3, 8, 7, 30)


# -- the decision ----------------------------------------------------------------------------


def test_defaults_send_email_and_skip_sms_and_push() -> None:
    prefs = Preferences()
    assert decide(prefs, "email", "order_updates", NOON) == SEND
    assert decide(prefs, "sms", "order_updates", NOON) == Decision(Verdict.SKIP, reason="customer opted out of sms")
    assert decide(prefs, "push", "shipping_updates", NOON).verdict is Verdict.SKIP


def test_a_switched_off_medium_is_skipped() -> None:
    prefs = Preferences(email_enabled=False, sms_enabled=True)
    assert decide(prefs, "email", "order_updates", NOON) == Decision(Verdict.SKIP, reason="customer opted out of email")
    assert decide(prefs, "sms", "order_updates", NOON) == SEND


@pytest.mark.parametrize(
    ("prefs", "topic"),
    [(Preferences(order_updates=False), "order_updates"), (Preferences(shipping_updates=False), "shipping_updates"),
     (Preferences(marketing=False), "marketing")],
)  # fmt: skip
@pytest.mark.parametrize("medium", ["email", "log", "other"])
def test_a_switched_off_topic_is_skipped_on_every_medium(prefs: Preferences, topic: str, medium: str) -> None:
    assert decide(prefs, medium, topic, NOON) == Decision(Verdict.SKIP, reason=f"customer opted out of {topic}")


def test_other_topics_stay_on_when_one_is_off() -> None:
    prefs = Preferences(marketing=False)
    assert decide(prefs, "email", "order_updates", NOON) == SEND
    assert decide(prefs, "email", "shipping_updates", NOON) == SEND
    assert decide(prefs, "email", "", NOON) == SEND  # a custom template without a topic


def test_media_without_a_flag_are_not_checked_by_medium() -> None:
    prefs = Preferences(email_enabled=False, sms_enabled=False, push_enabled=False)
    assert decide(prefs, "log", "order_updates", NOON) == SEND
    assert decide(prefs, "other", "order_updates", NOON) == SEND


@pytest.mark.parametrize("medium", ["email", "sms", "push", "log", "other"])
def test_account_messages_are_always_sent_and_never_deferred(medium: str) -> None:
    assert decide(EVERYTHING_OFF, medium, "account", NOON) == SEND
    assert decide(NIGHT, medium, "account", utc(2026, 6, 1, 21, 30)) == SEND


@pytest.mark.parametrize("medium", ["email", "sms", "push", "log", "other"])
def test_staff_messages_ignore_customer_preferences(medium: str) -> None:
    assert decide(EVERYTHING_OFF, medium, "staff", NOON) == SEND


@pytest.mark.parametrize("medium", ["email", "sms", "push"])
def test_quiet_hours_defer_personal_media_until_the_window_ends(medium: str) -> None:
    prefs = Preferences(sms_enabled=True, push_enabled=True, quiet_start=time(22), quiet_end=time(7),
                        time_zone="Europe/Berlin")  # fmt: skip
    assert decide(prefs, medium, "order_updates", utc(2026, 6, 1, 21, 30)) == Decision(
        Verdict.DEFER, until=utc(2026, 6, 2, 5, 0), reason="quiet hours"
    )
    assert decide(prefs, medium, "order_updates", NOON) == SEND


@pytest.mark.parametrize("medium", ["log", "other"])
def test_quiet_hours_do_not_hold_non_personal_media(medium: str) -> None:
    assert decide(NIGHT, medium, "order_updates", utc(2026, 6, 1, 21, 30)) == SEND


def test_an_opt_out_wins_over_quiet_hours() -> None:
    prefs = Preferences(marketing=False, quiet_start=time(22), quiet_end=time(7))
    assert decide(prefs, "email", "marketing", utc(2026, 6, 1, 23)).verdict is Verdict.SKIP


def test_quiet_hours_use_the_customer_time_zone() -> None:
    # 20:30 UTC: 22:30 in Berlin (quiet), 16:30 in New York (not).
    berlin = Preferences(quiet_start=time(22), quiet_end=time(7), time_zone="Europe/Berlin")
    new_york = Preferences(quiet_start=time(22), quiet_end=time(7), time_zone="America/New_York")
    assert decide(berlin, "email", "order_updates", utc(2026, 6, 1, 20, 30)).verdict is Verdict.DEFER
    assert decide(new_york, "email", "order_updates", utc(2026, 6, 1, 20, 30)) == SEND


# -- validation of the stored values ---------------------------------------------------------


def test_valid_quiet_hours_have_no_violations() -> None:
    assert preference_violations("22:00", "07:00", "Europe/Berlin") == []
    assert preference_violations("", "", "UTC") == []


def test_quiet_hour_violations_name_the_field() -> None:
    fields = lambda start, end, zone: [v.field for v in preference_violations(start, end, zone)]  # noqa: E731
    p = "notification_preferences"
    assert fields("7:00", "07:00", "UTC") == [f"{p}.quiet_hours_start"]
    assert fields("22:00", "25:00", "UTC") == [f"{p}.quiet_hours_end"]
    assert fields("22:00", "", "UTC") == [f"{p}.quiet_hours_end"]
    assert fields("", "07:00", "UTC") == [f"{p}.quiet_hours_start"]
    assert fields("22:00", "22:00", "UTC") == [f"{p}.quiet_hours_end"]
    assert fields("22:00", "07:00", "Mars/Olympus") == [f"{p}.time_zone"]


# -- topics and media --------------------------------------------------------------------------


EXPECTED_TOPICS = {
    "order_confirmation": "order_updates", "order_cancelled": "order_updates", "refund_processed": "order_updates",
    "payment_successful": "order_updates", "payment_failed": "order_updates",
    "subscription_created": "order_updates", "subscription_renewal": "order_updates",
    "subscription_cancelled": "order_updates", "dunning_first": "order_updates", "dunning_retry": "order_updates",
    "dunning_final": "order_updates", "order_shipped": "shipping_updates", "abandoned_cart": "marketing",
    "welcome": "account", "password_reset": "account", "low_stock": "staff",
}  # fmt: skip


def test_every_builtin_template_has_its_topic() -> None:
    templates = Templates()
    assert {name: templates.topic(name) for name in templates.builtin_names()} == EXPECTED_TOPICS
    assert set(EXPECTED_TOPICS.values()) == set(TOPICS)
    assert templates.topic("my_custom_template") == ""


def test_channels_declare_their_medium() -> None:
    from rcommerce_smtp.channel import SMTPChannel
    from rcommerce_twilio.channel import TwilioSMSChannel

    assert channel_medium(FileChannel("/nonexistent")) == "email"
    assert channel_medium(LogChannel()) == "log"
    assert SMTPChannel.medium == "email" and channel_medium(SMTPChannel) == "email"
    assert TwilioSMSChannel.medium == "sms" and channel_medium(TwilioSMSChannel) == "sms"

    class Fax:
        medium = "fax"

    assert channel_medium(object()) == "other"
    assert channel_medium(Fax()) == "other"
