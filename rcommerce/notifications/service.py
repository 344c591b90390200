"""Notifications: templates admin, rules, the rules consumer and the ``notification.send``
job (DECISIONS 20, spec C §3).

Flow: the dispatcher hands each committed event to :meth:`NotificationService.on_event`
inside its own transaction; every matching rule renders its template and adds a
``queued`` notification row plus a ``notification.send`` job in that same transaction
(dedupe key ``<rule>:<event>``, so a redelivered event adds nothing). The job calls the
channel from the plugin registry. A raised exception is transient: the attempt is
recorded and the job queue retries with backoff; the last failed attempt, a refusal
(``accepted=False``) or an unknown channel marks the notification ``failed``.

Preferences hook: ``preferences`` (optional, :data:`~rcommerce.notifications.preferences.PreferenceHook`)
is called with ``(session, Delivery)`` (the event, channel, the channel's medium,
recipient, template and the template's topic) before a rule-made notification is queued.
SEND queues it as usual; SKIP records a ``skipped`` row (auditable, never sent, no job);
DEFER queues it with the send job's ``run_at`` at the end of the quiet window.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.cache.reference import ReferenceCache, through
from rcommerce.clock import Clock
from rcommerce.db import Database
from rcommerce.domain.notifications.errors import (
    CANNOT_CANCEL_SENT,
    NOTIFICATION_ALREADY_SENT,
    NOTIFICATION_NOT_FOUND,
    NOTIFICATION_RULE_NOT_FOUND,
    TEMPLATE_NOT_FOUND,
    UNKNOWN_NOTIFICATION_CHANNEL,
    NotificationError,
)
from rcommerce.ids import new_id
from rcommerce.jobs import Job, JobQueue
from rcommerce.jobs.queue import exponential_backoff
from rcommerce.notifications.models import NotificationRow, NotificationRuleRow, NotificationTemplateRow
from rcommerce.notifications.preferences import Decision, Delivery, PreferenceHook, Verdict
from rcommerce.notifications.templates import Rendered, Templates, TemplateSource
from rcommerce.notifications.variables import Links, build_variables, load_facts
from rcommerce.plugins.providers import Event, NotificationChannel, NotificationMessage, channel_medium

__all__ = ["MAX_ATTEMPTS", "SEND_KIND", "NotificationService", "event_variables", "rule_matches"]

log = logging.getLogger("rcommerce.notifications")

SEND_KIND = "notification.send"
MAX_ATTEMPTS = 5
QUEUED, SENT, FAILED, CANCELLED, SKIPPED = "queued", "sent", "failed", "cancelled", "skipped"


def rule_matches(pattern: str, event_type: str) -> bool:
    """ "*", "order.*" or an exact type."""
    return pattern in ("*", event_type) or (pattern.endswith(".*") and event_type.startswith(pattern[:-1]))


def event_variables(event: Event) -> dict[str, Any]:
    """Template variables of an event: the fields of ``data.object``, then ``data``'s other
    keys, plus ``event`` (id, type, subject) and ``object``."""
    data = dict(event.data)
    obj = data.get("object")
    variables: dict[str, Any] = dict(obj) if isinstance(obj, Mapping) else {}
    variables.update(data)
    variables["event"] = {"id": event.id, "type": event.type, "subject": event.subject}
    return variables


#: The reference memo namespace of the notification rules; bumped by their writers.
RULES_NAMESPACE = "notification_rules"


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What the rules consumer needs of a notification rule (memoised, read-only)."""

    id: str
    event_type: str
    template: str
    channel: str
    recipient: str


@dataclass(slots=True)
class NotificationService:
    db: Database
    clock: Clock
    queue: JobQueue
    templates: Templates
    #: Channel code -> provider (``ProviderRegistry.notification_channels``).
    channels: Mapping[str, NotificationChannel]
    preferences: PreferenceHook | None = None
    max_attempts: int = MAX_ATTEMPTS
    #: Storefront links for the templates (``[notifications] shop_url``).
    links: Links = field(default_factory=Links)
    #: Memoises the rules for the consumer, which reads them for every event.
    reference: ReferenceCache | None = None

    def register_jobs(self) -> None:
        self.queue.register(
            SEND_KIND, self.run_send, max_attempts=self.max_attempts, timeout_s=60.0,
            backoff=lambda attempt: exponential_backoff(attempt, base_s=30.0, cap_s=3600.0),
        )  # fmt: skip

    # -- templates -----------------------------------------------------------------------

    async def _override(self, session: AsyncSession, name: str) -> TemplateSource | None:
        row = await session.get(NotificationTemplateRow, name)
        if row is None:
            return None
        return TemplateSource(name, row.subject, row.text, row.html, tuple(row.variables), "override")

    async def get_template(self, name: str) -> TemplateSource:
        async with self.db.read() as session:
            override = await self._override(session, name)
        return self.templates.source(name, override)

    async def list_templates(self) -> list[TemplateSource]:
        async with self.db.read() as session:
            rows = (await session.execute(select(NotificationTemplateRow))).scalars().all()
        overrides = {
            r.name: TemplateSource(r.name, r.subject, r.text, r.html, tuple(r.variables), "override") for r in rows
        }
        names = sorted(set(self.templates.builtin_names()) | set(overrides))
        return [self.templates.source(n, overrides.get(n)) for n in names]

    async def update_template(
        self, name: str, *, subject: str, text: str, html: str = "", variables: Sequence[str] | None = None
    ) -> TemplateSource:
        """Save an override. ``variables`` defaults to the built-in's declared variables;
        the sources must compile and use only those (plus globals)."""
        if variables is None:
            if not self.templates.has(name):
                raise NotificationError(
                    TEMPLATE_NOT_FOUND,
                    f"Template {name} does not exist; pass its variables to create it.",
                    template=name,
                )
            variables = self.templates.source(name).variables
        source = TemplateSource(name, subject, text, html, tuple(variables), "override")
        self.templates.validate(source)
        now = self.clock.now()
        async with self.db.transaction() as session:
            row = await session.get(NotificationTemplateRow, name)
            if row is None:
                session.add(NotificationTemplateRow(
                    name=name, subject=subject, text=text, html=html, variables=list(variables),
                    created_at=now, updated_at=now,
                ))  # fmt: skip
            else:
                row.subject, row.text, row.html, row.variables, row.updated_at = (
                    subject,
                    text,
                    html,
                    list(variables),
                    now,
                )
        return source

    async def reset_template(self, name: str) -> TemplateSource:
        """Drop the override; the directory or built-in template applies again."""
        async with self.db.transaction() as session:
            row = await session.get(NotificationTemplateRow, name)
            if row is not None:
                await session.delete(row)
        return self.templates.source(name)

    async def preview(
        self, name: str, variables: Mapping[str, Any] | None = None, *, source: TemplateSource | None = None
    ) -> Rendered:
        """Render ``source`` (or the effective template) with ``variables`` (default:
        ``[name]`` placeholders for every declared variable)."""
        effective = source or await self.get_template(name)
        self.templates.validate(effective)
        return self.templates.render_source(
            effective, variables if variables is not None else self.templates.sample(effective)
        )

    # -- rules -----------------------------------------------------------------------------

    async def create_rule(self, *, event_type: str, template: str, channel: str, recipient: str) -> NotificationRuleRow:
        if channel not in self.channels:
            raise NotificationError(
                UNKNOWN_NOTIFICATION_CHANNEL, f"No channel {channel} is installed.", channel=channel
            )
        await self.get_template(template)  # TEMPLATE_NOT_FOUND
        row = NotificationRuleRow(
            id=new_id("nrl", self.clock.now()), event_type=event_type, template=template, channel=channel,
            recipient=recipient, created_at=self.clock.now(),
        )  # fmt: skip
        async with self.db.transaction() as session:
            session.add(row)
        await self._rules_changed()
        return row

    async def list_rules(self) -> list[NotificationRuleRow]:
        async with self.db.read() as session:
            rows = await session.execute(select(NotificationRuleRow).order_by(NotificationRuleRow.created_at))
            return list(rows.scalars().all())

    async def delete_rule(self, rule_id: str) -> None:
        async with self.db.transaction() as session:
            row = await session.get(NotificationRuleRow, rule_id)
            if row is None:
                raise NotificationError(NOTIFICATION_RULE_NOT_FOUND, f"Rule {rule_id} does not exist.", rule=rule_id)
            await session.delete(row)
        await self._rules_changed()

    async def _rules_changed(self) -> None:
        if self.reference is not None:
            await self.reference.bump(RULES_NAMESPACE)

    async def _rules(self, session: AsyncSession) -> tuple[RuleSpec, ...]:
        async def load() -> tuple[RuleSpec, ...]:
            rows = await session.execute(
                select(
                    NotificationRuleRow.id,
                    NotificationRuleRow.event_type,
                    NotificationRuleRow.template,
                    NotificationRuleRow.channel,
                    NotificationRuleRow.recipient,
                )
            )
            return tuple(RuleSpec(*row) for row in rows)

        return await through(self.reference, RULES_NAMESPACE, "all", load)

    # -- the rules consumer ----------------------------------------------------------------

    async def on_event(self, session: AsyncSession, event: Event) -> list[str]:
        """Queue the notifications of every rule matching ``event`` in ``session``'s
        transaction (never commits). Returns the new notification ids."""
        rules = [rule for rule in await self._rules(session) if rule_matches(rule.event_type, event.type)]
        created: list[str] = []
        if not rules:
            return created
        variables = await self.variables(session, event)
        for rule in rules:
            dedupe = f"{rule.id}:{event.id}"
            if (await session.execute(select(NotificationRow.id).where(NotificationRow.dedupe_key == dedupe))).first():
                continue
            now = self.clock.now()
            status, error, rendered = QUEUED, "", Rendered("", "", "")
            try:
                recipient = self.templates.render_string(rule.recipient, variables).strip()
            except NotificationError as exc:
                recipient, status, error = "", FAILED, f"recipient: {exc.message}"
            decision = await self._decide(session, event, rule, recipient)
            if decision.verdict is Verdict.SKIP:
                status, error = SKIPPED, decision.reason or "skipped by the recipient's preferences"
            if status == QUEUED:
                try:
                    rendered = self.templates.render(
                        rule.template, variables, override=await self._override(session, rule.template)
                    )
                except NotificationError as exc:
                    status, error = FAILED, exc.message
            if status == QUEUED and not recipient:
                status, error = FAILED, "recipient is empty"
            row = NotificationRow(
                id=new_id("ntf", now), channel=rule.channel, recipient=recipient[:500], template=rule.template,
                subject=rendered.subject[:500], body=rendered.text, html_body=rendered.html, status=status, attempts=0,
                last_error=error[:1000], message_id="", event_id=event.id, rule_id=rule.id, dedupe_key=dedupe,
                metadata_=_metadata(event, decision), created_at=now, updated_at=now, sent_at=None,
            )  # fmt: skip
            session.add(row)
            if status == QUEUED:
                await self.queue.enqueue(
                    session, SEND_KIND, {"notification_id": row.id}, run_at=decision.until,
                    dedupe_key=f"ntf:{row.id}:0",
                )  # fmt: skip
            created.append(row.id)
        return created

    async def variables(self, session: AsyncSession, event: Event) -> dict[str, Any]:
        """The payload's fields (:func:`event_variables`) plus the spec's variables of the
        event (:mod:`rcommerce.notifications.variables`), read in ``session``."""
        facts = await load_facts(session, event, self.links)
        return {**event_variables(event), **build_variables(event, facts)}

    async def _decide(self, session: AsyncSession, event: Event, rule: RuleSpec, recipient: str) -> Decision:
        if self.preferences is None or not recipient:
            return Decision(Verdict.SEND)
        channel = self.channels.get(rule.channel)
        delivery = Delivery(
            event=event, channel=rule.channel, medium=channel_medium(channel) if channel is not None else "other",
            recipient=recipient, template=rule.template, topic=self.templates.topic(rule.template),
        )  # fmt: skip
        return await self.preferences(session, delivery)

    async def handle_event(self, event: Event) -> list[str]:
        """:meth:`on_event` in a transaction of its own (for callers without one)."""
        async with self.db.transaction() as session:
            return await self.on_event(session, event)

    # -- sending -----------------------------------------------------------------------------

    async def run_send(self, job: Job) -> None:
        """The ``notification.send`` handler."""
        notification_id = str(job.payload["notification_id"])
        async with self.db.read() as session:
            row = await session.get(NotificationRow, notification_id)
        if row is None or row.status != QUEUED:
            return  # cancelled, already sent, or deleted
        channel = self.channels.get(row.channel)
        if channel is None:
            await self._finish(notification_id, FAILED, f"no notification channel {row.channel} is installed")
            return
        message = NotificationMessage(
            to=(row.recipient,), subject=row.subject, text=row.body, html=row.html_body,
            idempotency_key=row.id, topic=row.template,
        )  # fmt: skip
        try:
            result = await channel.send(message)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            log.warning("notification %s attempt %d failed: %s", notification_id, job.attempt, error)
            await self._finish(notification_id, FAILED if job.is_last_attempt else QUEUED, error)
            raise
        if result.accepted:
            await self._finish(notification_id, SENT, "", message_id=result.message_id)
        else:
            await self._finish(notification_id, FAILED, result.error or "refused by the channel")

    async def _finish(self, notification_id: str, status: str, error: str, *, message_id: str = "") -> None:
        now = self.clock.now()
        async with self.db.transaction() as session:
            row = await session.get(NotificationRow, notification_id)
            if row is None or row.status != QUEUED:
                return
            row.attempts += 1
            row.status, row.last_error, row.updated_at = status, error[:1000], now
            if status == SENT:
                row.message_id, row.sent_at = message_id[:200], now

    # -- notifications admin -------------------------------------------------------------------

    async def get_notification(self, notification_id: str) -> NotificationRow:
        async with self.db.read() as session:
            row = await session.get(NotificationRow, notification_id)
        if row is None:
            raise _not_found(notification_id)
        return row

    async def list_notifications(
        self, *, status: str = "", channel: str = "", limit: int = 20, before_id: str = ""
    ) -> list[NotificationRow]:
        """Newest first (ids sort by creation time); ``before_id`` continues a page."""
        query = select(NotificationRow).order_by(NotificationRow.id.desc()).limit(max(1, min(limit, 100)))
        if status:
            query = query.where(NotificationRow.status == status)
        if channel:
            query = query.where(NotificationRow.channel == channel)
        if before_id:
            query = query.where(NotificationRow.id < before_id)
        async with self.db.read() as session:
            return list((await session.execute(query)).scalars().all())

    async def retry(self, notification_id: str) -> NotificationRow:
        """Queue a failed or cancelled notification again, with a fresh job."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            row = await session.get(NotificationRow, notification_id)
            if row is None:
                raise _not_found(notification_id)
            if row.status not in (FAILED, CANCELLED) or not row.recipient:
                raise NotificationError(
                    NOTIFICATION_ALREADY_SENT, f"Notification {notification_id} is {row.status}.",
                    notification=notification_id, status=row.status,
                )  # fmt: skip
            row.status, row.last_error, row.updated_at = QUEUED, "", now
            await self.queue.enqueue(session, SEND_KIND, {"notification_id": row.id})
        return row

    async def cancel(self, notification_id: str) -> NotificationRow:
        async with self.db.transaction() as session:
            row = await session.get(NotificationRow, notification_id)
            if row is None:
                raise _not_found(notification_id)
            if row.status != QUEUED:
                raise NotificationError(
                    CANNOT_CANCEL_SENT, f"Notification {notification_id} is {row.status}.",
                    notification=notification_id, status=row.status,
                )  # fmt: skip
            row.status, row.updated_at = CANCELLED, self.clock.now()
        return row


def _metadata(event: Event, decision: Decision) -> dict[str, Any]:
    metadata: dict[str, Any] = {"event_type": event.type}
    if decision.verdict is Verdict.DEFER and decision.until is not None:
        metadata["deferred_until"] = decision.until.isoformat()
    return metadata


def _not_found(notification_id: str) -> NotificationError:
    return NotificationError(
        NOTIFICATION_NOT_FOUND, f"Notification {notification_id} does not exist.", notification=notification_id
    )
