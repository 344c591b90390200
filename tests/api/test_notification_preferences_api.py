"""Notification preferences through the public API, on gRPC and on REST."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from rcommerce.gen.v1 import customers_pb2 as C
from rcommerce.testing.client import ApiClient
from rcommerce.testing.server import LiveServer
from tests.api.test_customers_api import LIMIT_KEYS, failure, http_of, register

ME = "customers/me/notificationPreferences"


@pytest.fixture(autouse=True)
async def fresh_limits(server: LiveServer) -> AsyncIterator[None]:
    """Registration is limited per client address; leave the buckets full for others."""
    for key in LIMIT_KEYS:
        await server.app.customers.limiter.reset(key)
    yield
    for key in LIMIT_KEYS:
        await server.app.customers.limiter.reset(key)


def update(name: str, paths: list[str], **values: object) -> C.UpdateNotificationPreferencesRequest:
    return C.UpdateNotificationPreferencesRequest(
        notification_preferences=C.NotificationPreferences(name=name, **values), update_mask=FieldMask(paths=paths)
    )


async def test_a_customer_reads_and_updates_their_own(client: ApiClient) -> None:
    session = await register(client)
    me = client.with_token(session.access_token)
    own = f"{session.customer.name}/notificationPreferences"
    got = await me.call("GetNotificationPreferences", C.GetNotificationPreferencesRequest(name=ME))
    assert got.name == own
    assert (got.email_enabled, got.sms_enabled, got.push_enabled, got.order_updates, got.shipping_updates) == (
        True, False, False, True, True,
    )  # fmt: skip
    assert got.marketing_emails is session.customer.accepts_marketing
    assert (got.quiet_hours_start, got.quiet_hours_end, got.time_zone) == ("", "", "UTC")

    changed = await me.call(
        "UpdateNotificationPreferences",
        update(ME, ["sms_enabled", "marketing_emails", "quiet_hours_start", "quiet_hours_end", "time_zone"],
               sms_enabled=True, marketing_emails=False, quiet_hours_start="22:00", quiet_hours_end="07:00",
               time_zone="Europe/Berlin"),
    )  # fmt: skip
    assert (changed.name, changed.sms_enabled, changed.marketing_emails, changed.email_enabled) == (
        own, True, False, True,
    )  # fmt: skip
    assert (changed.quiet_hours_start, changed.quiet_hours_end, changed.time_zone) == (
        "22:00",
        "07:00",
        "Europe/Berlin",
    )
    assert changed.HasField("update_time")
    assert await me.call("GetNotificationPreferences", C.GetNotificationPreferencesRequest(name=own)) == changed


async def test_customers_cannot_touch_each_other_but_staff_can(client: ApiClient) -> None:
    mine, theirs = await register(client), await register(client)
    me = client.with_token(mine.access_token)
    other = f"{theirs.customer.name}/notificationPreferences"
    error = await failure(me.call("GetNotificationPreferences", C.GetNotificationPreferencesRequest(name=other)))
    assert (error.reason, http_of(error)) == ("INSUFFICIENT_PERMISSIONS", 403)
    error = await failure(me.call("UpdateNotificationPreferences", update(other, ["sms_enabled"], sms_enabled=True)))
    assert (error.reason, http_of(error)) == ("INSUFFICIENT_PERMISSIONS", 403)

    # Staff (a secret key) read and change anyone's; "customers/me" means nothing for a key.
    staff_changed = await client.call(
        "UpdateNotificationPreferences", update(other, ["push_enabled"], push_enabled=True)
    )
    assert staff_changed.push_enabled
    got = await client.call("GetNotificationPreferences", C.GetNotificationPreferencesRequest(name=other))
    assert got.push_enabled and got.name == other
    error = await failure(client.call("GetNotificationPreferences", C.GetNotificationPreferencesRequest(name=ME)))
    assert (error.reason, http_of(error)) == ("INVALID_RESOURCE_NAME", 400)
    error = await failure(
        client.call(
            "GetNotificationPreferences",
            C.GetNotificationPreferencesRequest(
                name="customers/cus_01JA9ZQ3K8M0Q4ABCDEFGHJKMN/notificationPreferences"
            ),
        )
    )
    assert (error.reason, http_of(error)) == ("CUSTOMER_NOT_FOUND", 404)


@pytest.mark.parametrize(
    ("values", "reason", "fields"),
    [({"quiet_hours_start": "25:00", "quiet_hours_end": "07:00"}, "INVALID_QUIET_HOURS",
      ["notification_preferences.quiet_hours_start"]),
     ({"quiet_hours_start": "22:00", "quiet_hours_end": ""}, "INVALID_QUIET_HOURS",
      ["notification_preferences.quiet_hours_end"]),
     ({"time_zone": "Europe/Atlantis"}, "INVALID_TIME_ZONE", ["notification_preferences.time_zone"])],
)  # fmt: skip
async def test_bad_quiet_hours_and_zones_are_invalid_argument(
    client: ApiClient, values: dict[str, str], reason: str, fields: list[str]
) -> None:
    session = await register(client)
    me = client.with_token(session.access_token)
    error = await failure(
        me.call("UpdateNotificationPreferences", update(ME, [*values, "sms_enabled"], sms_enabled=True, **values))
    )
    assert (error.status, error.reason, http_of(error)) == ("INVALID_ARGUMENT", reason, 400)
    assert error.field_violations == fields
    got = await me.call("GetNotificationPreferences", C.GetNotificationPreferencesRequest(name=ME))
    assert not got.sms_enabled and not got.HasField("update_time")  # nothing changed
