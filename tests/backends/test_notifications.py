"""Notification rules, the send job and the admin operations on every database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from rcommerce.cache.memory import MemoryCache
from rcommerce.cache.reference import ReferenceCache
from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.domain.notifications.errors import (
    CANNOT_CANCEL_SENT,
    MISSING_TEMPLATE_VARIABLES,
    NOTIFICATION_ALREADY_SENT,
    UNKNOWN_NOTIFICATION_CHANNEL,
    NotificationError,
)
from rcommerce.jobs import Job, JobQueue
from rcommerce.jobs.models import JobRow
from rcommerce.notifications.models import NotificationRuleRow
from rcommerce.notifications.service import SEND_KIND, NotificationService
from rcommerce.notifications.templates import Templates
from rcommerce.plugins.providers import Event, NotificationMessage, SendResult
from tests.backends._events_db import isolated_database

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """This module's own database: the live server of tests/api runs a job worker on the
    shared ``db`` and would claim these tests' send jobs (see tests/backends/_events_db.py)."""
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


class FakeChannel:
    code = "fake"
    display_name = "Fake"

    def __init__(self) -> None:
        self.sent: list[NotificationMessage] = []
        self.fail_with: Exception | None = None
        self.refuse = False

    async def send(self, message: NotificationMessage) -> SendResult:
        if self.fail_with is not None:
            raise self.fail_with
        if self.refuse:
            return SendResult(accepted=False, error="bad address")
        self.sent.append(message)
        return SendResult(accepted=True, message_id=f"m-{len(self.sent)}")


def _service(db: Database, reference: ReferenceCache | None = None) -> tuple[NotificationService, FakeChannel]:
    channel = FakeChannel()
    clock = FrozenClock(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    service = NotificationService(
        db, clock, JobQueue(clock), Templates(globals={"company_name": "ACME", "support_email": "help@acme.test"}),
        {"fake": channel}, reference=reference,
    )  # fmt: skip
    service.register_jobs()
    return service, channel


def _event(event_type: str, **obj: object) -> Event:
    return Event(
        id=f"evt_{uuid.uuid4().hex[:20]}", type=event_type, subject="orders/ord_1", data={"object": obj},
        created_at=datetime(2026, 6, 1, tzinfo=UTC),
    )  # fmt: skip


def _order(event_type: str) -> Event:
    return _event(
        event_type, email="ann@example.test", customer_name="Ann", order_number="R-7", order_total="$9.00", item_count=1
    )


async def _job(db: Database, notification_id: str, attempt: int = 1, max_attempts: int = 5) -> Job:
    async with db.read() as session:
        rows = (await session.execute(select(JobRow).where(JobRow.kind == SEND_KIND))).scalars().all()
    row = next(r for r in rows if r.payload["notification_id"] == notification_id)
    return Job(row.id, row.kind, row.payload, attempt, max_attempts)


def _type() -> str:
    # Unique per test, so no other test's (or a live server's) events match these rules.
    return f"t{uuid.uuid4().hex[:10]}.placed"


async def test_rule_queues_renders_and_sends(db: Database) -> None:
    service, channel = _service(db)
    event_type = _type()
    await service.create_rule(
        event_type=event_type.split(".")[0] + ".*", template="order_confirmation", channel="fake",
        recipient="{{ email }}",
    )  # fmt: skip
    event = _order(event_type)
    [notification_id] = await service.handle_event(event)
    assert await service.handle_event(event) == []  # a redelivered event adds nothing
    row = await service.get_notification(notification_id)
    assert (row.status, row.recipient, row.subject) == ("queued", "ann@example.test", "Order Confirmed: R-7")
    await service.run_send(await _job(db, notification_id))
    row = await service.get_notification(notification_id)
    assert (row.status, row.attempts, row.message_id) == ("sent", 1, "m-1")
    [message] = channel.sent
    assert message.to == ("ann@example.test",) and message.idempotency_key == notification_id
    assert "Thank you for your order R-7" in message.text and "<strong>R-7</strong>" in message.html
    assert [n.id for n in await service.list_notifications(status="sent", channel="fake", limit=100)].count(
        notification_id
    ) == 1


async def test_memoised_rules_follow_their_writers(db: Database) -> None:
    shared = MemoryCache()
    service, _ = _service(db, ReferenceCache(shared))
    other_process, _ = _service(db, ReferenceCache(shared))
    event_type = _type()
    assert await service.handle_event(_order(event_type)) == []  # memoises the rules without this one
    rule = await other_process.create_rule(
        event_type=event_type, template="order_confirmation", channel="fake", recipient="{{ email }}"
    )
    assert len(await service.handle_event(_order(event_type))) == 1  # the create bumped the generation
    async with db.transaction() as session:  # a write behind the services' back is not seen ...
        session.add(
            NotificationRuleRow(
                id=f"nrl_{uuid.uuid4().hex[:20]}", event_type=event_type, template="order_confirmation",
                channel="fake", recipient="{{ email }}", created_at=datetime(2026, 6, 1, tzinfo=UTC),
            )
        )  # fmt: skip
    assert len(await service.handle_event(_order(event_type))) == 1
    await other_process.delete_rule(rule.id)  # ... until a writer bumps the generation
    [created] = await service.handle_event(_order(event_type))
    assert (await service.get_notification(created)).rule_id != rule.id


async def test_transient_failures_retry_then_fail_and_can_be_retried(db: Database) -> None:
    service, channel = _service(db)
    event_type = _type()
    await service.create_rule(
        event_type=event_type, template="order_confirmation", channel="fake", recipient="{{ email }}"
    )
    [notification_id] = await service.handle_event(_order(event_type))
    channel.fail_with = ConnectionError("smtp down")
    job = await _job(db, notification_id, attempt=1, max_attempts=2)
    with pytest.raises(ConnectionError):
        await service.run_send(job)
    row = await service.get_notification(notification_id)
    assert (row.status, row.attempts, row.last_error) == ("queued", 1, "ConnectionError: smtp down")
    with pytest.raises(ConnectionError):
        await service.run_send(Job(job.id, job.kind, job.payload, 2, 2))
    row = await service.get_notification(notification_id)
    assert (row.status, row.attempts) == ("failed", 2)
    channel.fail_with = None
    assert (await service.retry(notification_id)).status == "queued"
    await service.run_send(job)
    assert (await service.get_notification(notification_id)).status == "sent"
    with pytest.raises(NotificationError) as info:
        await service.retry(notification_id)
    assert info.value.reason is NOTIFICATION_ALREADY_SENT


async def test_refusal_fails_at_once_and_cancel(db: Database) -> None:
    service, channel = _service(db)
    event_type = _type()
    await service.create_rule(
        event_type=event_type, template="order_confirmation", channel="fake", recipient="{{ email }}"
    )
    [refused] = await service.handle_event(_order(event_type))
    channel.refuse = True
    await service.run_send(await _job(db, refused))
    row = await service.get_notification(refused)
    assert (row.status, row.last_error) == ("failed", "bad address")
    [cancelled] = await service.handle_event(_order(event_type))
    assert (await service.cancel(cancelled)).status == "cancelled"
    await service.run_send(await _job(db, cancelled))  # the job sees the cancel and does nothing
    assert (await service.get_notification(cancelled)).attempts == 0
    with pytest.raises(NotificationError) as info:
        await service.cancel(cancelled)
    assert info.value.reason is CANNOT_CANCEL_SENT


async def test_missing_variables_record_a_failed_notification(db: Database) -> None:
    service, _ = _service(db)
    event_type = _type()
    await service.create_rule(event_type=event_type, template="password_reset", channel="fake", recipient="{{ email }}")
    [notification_id] = await service.handle_event(_event(event_type, email="a@example.test"))
    row = await service.get_notification(notification_id)
    assert row.status == "failed" and "customer_name" in row.last_error


async def test_unknown_channel_is_refused(db: Database) -> None:
    service, _ = _service(db)
    with pytest.raises(NotificationError) as info:
        await service.create_rule(event_type="x.y", template="welcome", channel="pigeon", recipient="a")
    assert info.value.reason is UNKNOWN_NOTIFICATION_CHANNEL


async def test_template_override_preview_and_reset(db: Database) -> None:
    service, _ = _service(db)
    name = "low_stock"
    with pytest.raises(NotificationError) as info:
        await service.update_template(name, subject="Low: {{ product_name }}", text="{{ nope }}")
    assert info.value.reason is MISSING_TEMPLATE_VARIABLES and info.value.metadata["variables"] == "nope"
    saved = await service.update_template(name, subject="Low: {{ product_name }}", text="{{ current_stock }} left")
    assert saved.origin == "override"
    assert (await service.get_template(name)).origin == "override"
    preview = await service.preview(name)
    assert (preview.subject, preview.text) == ("Low: [product_name]", "[current_stock] left\n")
    assert any(t.name == name and t.origin == "override" for t in await service.list_templates())
    assert (await service.reset_template(name)).origin == "builtin"
    assert (await service.preview(name, {"product_name": "Mug", "current_stock": 2, "threshold": 5,
                                         "reorder_quantity": 25, "is_critical": True})).subject == "Low Stock Alert: Mug"  # fmt: skip
