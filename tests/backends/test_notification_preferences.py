"""Customer notification preferences on every database: the stored preferences, and the
notification service honouring them (skipped rows, quiet hours deferring the send job)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import select

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.customers.errors import INVALID_QUIET_HOURS, INVALID_TIME_ZONE
from rcommerce.domain.customers.models import NotificationPreferencesRow
from rcommerce.domain.customers.notification_preferences import PreferenceLookup
from rcommerce.errors import DomainError
from rcommerce.gen.v1 import customers_pb2 as C
from rcommerce.jobs import JobQueue
from rcommerce.jobs.models import JobRow
from rcommerce.notifications.service import SEND_KIND, NotificationService
from rcommerce.notifications.templates import Templates
from rcommerce.plugins.providers import Event, NotificationMessage, SendResult
from tests.backends._customers import STAFF, Hooks, build, events_of
from tests.backends._events_db import isolated_database

pytestmark = pytest.mark.backends

#: 21:30 UTC on 1 June 2026 is 23:30 in Berlin (CEST): inside 22:00-07:00.
LATE = datetime(2026, 6, 1, 21, 30, tzinfo=UTC)
#: 07:00 CEST on 2 June.
MORNING = datetime(2026, 6, 2, 5, 0, tzinfo=UTC)
NOON = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ORDER = {"customer_name": "Ann", "order_number": "R-7", "order_total": "$9.00", "item_count": 1}


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """Its own database: a live server's worker would claim the send jobs on the shared one."""
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


class Channel:
    display_name = "Fake"

    def __init__(self, code: str, medium: str | None) -> None:
        self.code = code
        if medium is not None:
            self.medium = medium

    async def send(self, message: NotificationMessage) -> SendResult:
        return SendResult(accepted=True)


@dataclass
class World:
    db: Database
    clock: FrozenClock
    notifications: NotificationService
    customer_id: str
    email: str
    event_type: str

    async def rule(self, template: str, channel: str, recipient: str) -> None:
        await self.notifications.create_rule(
            event_type=self.event_type, template=template, channel=channel, recipient=recipient
        )

    async def notify(self, **data: object) -> list[tuple[str, str, datetime | None]]:
        """Fire one event; (status, last_error, send job run_at) per notification made."""
        subject = str(data.pop("subject", "orders/ord_1"))
        event = Event(id=f"evt_{uuid.uuid4().hex[:20]}", type=self.event_type, subject=subject, data=data,
                      created_at=self.clock.now())  # fmt: skip
        ids = await self.notifications.handle_event(event)
        result = []
        async with self.db.read() as s:
            jobs = (await s.execute(select(JobRow).where(JobRow.kind == SEND_KIND))).scalars().all()
            run_at = {j.payload["notification_id"]: j.run_at for j in jobs}
        for notification_id in ids:
            row = await self.notifications.get_notification(notification_id)
            result.append((row.status, row.last_error, run_at.get(notification_id)))
        return result

    async def prefer(self, mask: list[str], **values: object) -> C.NotificationPreferences:
        services = build(self.db, self.clock, Hooks())
        prefs = C.NotificationPreferences(name=f"customers/{self.customer_id}/notificationPreferences", **values)
        return await services.preferences.update(STAFF, prefs, FieldMask(paths=mask))


@pytest.fixture
async def world(db: Database) -> World:
    clock = FrozenClock(NOON)
    services = build(db, clock, Hooks())
    email = f"ann-{uuid.uuid4().hex[:10]}@example.test"
    customer = await services.service.create(C.Customer(email=email, first_name="Ann", accepts_marketing=False), "")
    channels = {"mail": Channel("mail", "email"), "sms": Channel("sms", "sms"), "hook": Channel("hook", None)}
    notifications = NotificationService(
        db, clock, JobQueue(clock), Templates(globals={"company_name": "ACME", "support_email": "help@acme.test"}),
        channels, preferences=PreferenceLookup(clock),
    )  # fmt: skip
    notifications.register_jobs()
    return World(db, clock, notifications, customer.id, email, f"t{uuid.uuid4().hex[:10]}.placed")


async def test_defaults_before_any_update(world: World) -> None:
    services = build(world.db, world.clock, Hooks())
    got = await services.preferences.get(STAFF, f"customers/{world.customer_id}/notificationPreferences")
    assert (got.email_enabled, got.sms_enabled, got.push_enabled) == (True, False, False)
    assert (got.order_updates, got.shipping_updates, got.marketing_emails) == (True, True, False)  # accepts_marketing
    assert (got.quiet_hours_start, got.quiet_hours_end, got.time_zone) == ("", "", "UTC")
    assert not got.HasField("update_time")
    async with world.db.read() as s:
        assert await s.get(NotificationPreferencesRow, world.customer_id) is None  # reading writes nothing


async def test_update_stores_masked_fields_and_records_an_event(world: World) -> None:
    world.clock.advance((LATE - NOON).total_seconds())
    saved = await world.prefer(
        ["sms_enabled", "quiet_hours_start", "quiet_hours_end", "time_zone", "marketing_emails"],
        sms_enabled=True, quiet_hours_start="22:00", quiet_hours_end="07:00", time_zone="Europe/Berlin",
        email_enabled=False,  # not in the mask: unchanged
    )  # fmt: skip
    assert (saved.email_enabled, saved.sms_enabled, saved.marketing_emails) == (True, True, False)
    assert (saved.quiet_hours_start, saved.quiet_hours_end, saved.time_zone) == ("22:00", "07:00", "Europe/Berlin")
    assert saved.update_time.ToDatetime(tzinfo=UTC) == LATE
    again = await world.prefer(["quiet_hours_start", "quiet_hours_end"])  # clears the quiet hours
    assert (again.quiet_hours_start, again.quiet_hours_end, again.sms_enabled) == ("", "", True)
    events = await events_of(world.db, f"customers/{world.customer_id}/notificationPreferences")
    assert [e.type for e in events] == ["customer.notification_preferences_updated"] * 2


@pytest.mark.parametrize(
    ("values", "reason", "field"),
    [({"quiet_hours_start": "7:00", "quiet_hours_end": "09:00"}, INVALID_QUIET_HOURS, "quiet_hours_start"),
     ({"quiet_hours_start": "22:00"}, INVALID_QUIET_HOURS, "quiet_hours_end"),
     ({"quiet_hours_start": "22:00", "quiet_hours_end": "22:00"}, INVALID_QUIET_HOURS, "quiet_hours_end"),
     ({"time_zone": "Mars/Olympus"}, INVALID_TIME_ZONE, "time_zone")],
)  # fmt: skip
async def test_bad_values_are_refused_and_change_nothing(
    world: World, values: dict[str, str], reason: object, field: str
) -> None:
    with pytest.raises(DomainError) as info:
        await world.prefer([*values, "sms_enabled"], sms_enabled=True, **values)
    assert info.value.reason is reason
    assert [v.field for v in info.value.violations] == [f"notification_preferences.{field}"]
    async with world.db.read() as s:
        assert await s.get(NotificationPreferencesRow, world.customer_id) is None


async def test_sms_is_skipped_by_default_and_recorded(world: World) -> None:
    await world.rule("order_confirmation", "sms", "+15550100")
    [(status, error, run_at)] = await world.notify(object={"customer": f"customers/{world.customer_id}", **ORDER})
    assert (status, error, run_at) == ("skipped", "customer opted out of sms", None)  # no send job


async def test_sms_goes_out_once_enabled(world: World) -> None:
    await world.prefer(["sms_enabled"], sms_enabled=True)
    await world.rule("order_confirmation", "sms", "+15550100")
    assert await world.notify(object={"customerId": world.customer_id, **ORDER}) == [("queued", "", NOON)]


async def test_quiet_hours_defer_the_send_job_to_the_window_end(world: World) -> None:
    await world.prefer(["quiet_hours_start", "quiet_hours_end", "time_zone"], quiet_hours_start="22:00",
                       quiet_hours_end="07:00", time_zone="Europe/Berlin")  # fmt: skip
    world.clock.advance((LATE - NOON).total_seconds())
    await world.rule("order_confirmation", "mail", "{{ email }}")
    [(status, _, run_at)] = await world.notify(object={"email": world.email, **ORDER})  # found by e-mail
    assert (status, run_at) == ("queued", MORNING)
    async with world.db.read() as s:
        jobs = (await s.execute(select(JobRow).where(JobRow.kind == SEND_KIND))).scalars().all()
    assert any(j.run_at == MORNING for j in jobs)


async def test_account_messages_are_never_deferred(world: World) -> None:
    await world.prefer(["quiet_hours_start", "quiet_hours_end", "time_zone", "email_enabled"], email_enabled=False,
                       quiet_hours_start="22:00", quiet_hours_end="07:00", time_zone="Europe/Berlin")  # fmt: skip
    world.clock.advance((LATE - NOON).total_seconds())
    await world.rule("password_reset", "mail", "{{ email }}")
    reset = {"customer_name": "Ann", "reset_url": "https://shop.test/r", "expires_in": "1 hour"}
    assert await world.notify(subject=f"customers/{world.customer_id}", object={"email": world.email, **reset}) == [
        ("queued", "", LATE)
    ]


async def test_marketing_follows_accepts_marketing_until_changed(world: World) -> None:
    await world.rule("abandoned_cart", "mail", "{{ email }}")
    cart = {"email": world.email, "customer_name": "Ann", "cart_items": "1 x Mug", "cart_total": "$9.00",
            "cart_url": "https://shop.test/c", "discount_code": ""}  # fmt: skip
    assert await world.notify(object=cart) == [("skipped", "customer opted out of marketing", None)]
    await world.prefer(["marketing_emails"], marketing_emails=True)
    assert await world.notify(object=cart) == [("queued", "", NOON)]


async def test_a_topic_opt_out_applies_to_channels_without_a_medium(world: World) -> None:
    await world.prefer(["order_updates"], order_updates=False)
    await world.rule("order_confirmation", "hook", "https://crm.test/{{ order_number }}")
    subject = f"customers/{world.customer_id}"
    assert await world.notify(subject=subject, object=ORDER) == [
        ("skipped", "customer opted out of order_updates", None)
    ]


async def test_someone_else_and_nobody_are_not_governed(world: World) -> None:
    await world.prefer(["email_enabled"], email_enabled=False)
    await world.rule("order_confirmation", "mail", "{{ to }}")
    named = {"customer": f"customers/{world.customer_id}", **ORDER}
    # The customer's own address: skipped. A staff copy to another address: sent.
    assert (await world.notify(object={**named, "to": world.email.upper()}))[0][0] == "skipped"
    assert await world.notify(object={**named, "to": "ops@shop.test"}) == [("queued", "", NOON)]
    # Nobody named and an unknown recipient: sent.
    assert await world.notify(object={**ORDER, "to": "stranger@example.test"}) == [("queued", "", NOON)]
