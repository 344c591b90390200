"""Servicer of ``NotificationService`` (notifications.proto)."""

from __future__ import annotations

from google.protobuf import empty_pb2, json_format

from rcommerce.api.call import Call
from rcommerce.domain.notifications.errors import TEMPLATE_NOT_FOUND, NotificationError
from rcommerce.errors import INVALID_RESOURCE_NAME, FieldViolation, RequestError, invalid
from rcommerce.gen.v1 import notifications_pb2 as pb
from rcommerce.gen.v1 import notifications_pb2_grpc
from rcommerce.names import parse_name
from rcommerce.notifications.models import NotificationRow, NotificationRuleRow
from rcommerce.notifications.service import NotificationService
from rcommerce.notifications.templates import TemplateSource
from rcommerce.pagination import PageTokens, fingerprint, page_size
from rcommerce.timestamps import to_timestamp

_STATUS = {
    "queued": pb.NOTIFICATION_STATUS_QUEUED,
    "sent": pb.NOTIFICATION_STATUS_SENT,
    "failed": pb.NOTIFICATION_STATUS_FAILED,
    "cancelled": pb.NOTIFICATION_STATUS_CANCELLED,
    "skipped": pb.NOTIFICATION_STATUS_SKIPPED,
}
_STATUS_NAMES = {value: key for key, value in _STATUS.items()}
_TEMPLATES = "notificationTemplates"
_UPDATABLE = frozenset({"subject", "text", "html", "variables"})
#: Identity and output-only fields a REST body may carry; never updated.
_IGNORED = frozenset({"name", "id", "origin"})


def _template_id(value: str, field: str = "name") -> str:
    head, _, rest = value.partition("/")
    if head != _TEMPLATES or not rest or "/" in rest or rest.startswith("."):
        expected = f"{_TEMPLATES}/{{id}}"
        raise RequestError(
            INVALID_RESOURCE_NAME, f"{field} must look like {expected}, not {value!r}.",
            violations=[FieldViolation(field, f"expected {expected}")], field=field, value=value, expected=expected,
        )  # fmt: skip
    return rest


def template_to_proto(source: TemplateSource) -> pb.NotificationTemplate:
    return pb.NotificationTemplate(
        name=f"{_TEMPLATES}/{source.name}", id=source.name, subject=source.subject, text=source.text,
        html=source.html, variables=list(source.variables), origin=source.origin,
    )  # fmt: skip


def rule_to_proto(row: NotificationRuleRow) -> pb.NotificationRule:
    return pb.NotificationRule(
        name=f"notificationRules/{row.id}", id=row.id, event_type=row.event_type, template=row.template,
        channel=row.channel, recipient=row.recipient, create_time=to_timestamp(row.created_at),
    )  # fmt: skip


def notification_to_proto(row: NotificationRow) -> pb.Notification:
    return pb.Notification(
        name=f"notifications/{row.id}", id=row.id, channel=row.channel, recipient=row.recipient,
        template=row.template, subject=row.subject, text=row.body, html=row.html_body,
        status=_STATUS.get(row.status, pb.NOTIFICATION_STATUS_UNSPECIFIED), attempts=row.attempts,
        last_error=row.last_error, message_id=row.message_id, event_id=row.event_id,
        rule=f"notificationRules/{row.rule_id}" if row.rule_id else "", create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at), send_time=to_timestamp(row.sent_at),
    )  # fmt: skip


class NotificationServicer(notifications_pb2_grpc.NotificationServiceServicer):
    def __init__(self, notifications: NotificationService, page_tokens: PageTokens) -> None:
        self._notifications = notifications
        self._tokens = page_tokens

    # -- templates -------------------------------------------------------------------------

    async def ListNotificationTemplates(
        self, request: pb.ListNotificationTemplatesRequest, call: Call
    ) -> pb.ListNotificationTemplatesResponse:
        templates = await self._notifications.list_templates()
        return pb.ListNotificationTemplatesResponse(notification_templates=[template_to_proto(t) for t in templates])

    async def GetNotificationTemplate(
        self, request: pb.GetNotificationTemplateRequest, call: Call
    ) -> pb.NotificationTemplate:
        return template_to_proto(await self._notifications.get_template(_template_id(request.name)))

    async def UpdateNotificationTemplate(
        self, request: pb.UpdateNotificationTemplateRequest, call: Call
    ) -> pb.NotificationTemplate:
        t = request.notification_template
        name = _template_id(t.name, "notification_template.name")
        paths = set(request.update_mask.paths) - _IGNORED
        unknown = sorted(paths - _UPDATABLE)
        if unknown:
            raise invalid(
                "update_mask", f"unknown paths {', '.join(unknown)}; allowed: {', '.join(sorted(_UPDATABLE))}"
            )
        subject, text, html, variables = t.subject, t.text, t.html, list(t.variables) or None
        if paths:
            try:
                current = await self._notifications.get_template(name)
            except NotificationError as exc:
                if exc.reason is not TEMPLATE_NOT_FOUND:
                    raise
                current = TemplateSource(name, "", "", "", tuple(t.variables))  # a new template
            subject = subject if "subject" in paths else current.subject
            text = text if "text" in paths else current.text
            html = html if "html" in paths else current.html
            variables = list(t.variables) if "variables" in paths else list(current.variables)
        saved = await self._notifications.update_template(
            name, subject=subject, text=text, html=html, variables=variables
        )
        return template_to_proto(saved)

    async def ResetNotificationTemplate(
        self, request: pb.ResetNotificationTemplateRequest, call: Call
    ) -> pb.NotificationTemplate:
        return template_to_proto(await self._notifications.reset_template(_template_id(request.name)))

    async def PreviewNotificationTemplate(
        self, request: pb.PreviewNotificationTemplateRequest, call: Call
    ) -> pb.PreviewNotificationTemplateResponse:
        name = _template_id(request.name)
        variables = json_format.MessageToDict(request.variables) if request.HasField("variables") else None
        source = None
        if request.HasField("source"):
            s = request.source
            declared = tuple(s.variables) or (await self._notifications.get_template(name)).variables
            source = TemplateSource(name, s.subject, s.text, s.html, declared, "override")
        rendered = await self._notifications.preview(name, variables, source=source)
        return pb.PreviewNotificationTemplateResponse(subject=rendered.subject, text=rendered.text, html=rendered.html)

    # -- rules ---------------------------------------------------------------------------------

    async def ListNotificationRules(
        self, request: pb.ListNotificationRulesRequest, call: Call
    ) -> pb.ListNotificationRulesResponse:
        rules = await self._notifications.list_rules()
        return pb.ListNotificationRulesResponse(notification_rules=[rule_to_proto(r) for r in rules])

    async def CreateNotificationRule(
        self, request: pb.CreateNotificationRuleRequest, call: Call
    ) -> pb.NotificationRule:
        r = request.notification_rule
        row = await self._notifications.create_rule(
            event_type=r.event_type, template=r.template, channel=r.channel, recipient=r.recipient
        )
        return rule_to_proto(row)

    async def DeleteNotificationRule(self, request: pb.DeleteNotificationRuleRequest, call: Call) -> empty_pb2.Empty:
        await self._notifications.delete_rule(parse_name(request.name, "notificationRules", "nrl"))
        return empty_pb2.Empty()

    # -- notifications ---------------------------------------------------------------------------

    async def ListNotifications(self, request: pb.ListNotificationsRequest, call: Call) -> pb.ListNotificationsResponse:
        size = page_size(request.page_size)
        filters = fingerprint(request)
        before_id = ""
        if request.page_token:
            # "<last id>.<signature over the filters and that id>"
            before_id, _, signature = request.page_token.partition(".")
            self._tokens.decode(signature or "!", f"{filters}:{before_id}")
        rows = await self._notifications.list_notifications(
            status=_STATUS_NAMES.get(request.status, ""), channel=request.channel, limit=size + 1,
            before_id=before_id,
        )  # fmt: skip
        more = len(rows) > size
        rows = rows[:size]
        token = ""
        if more and rows:
            last = rows[-1].id
            token = f"{last}.{self._tokens.encode(0, f'{filters}:{last}')}"
        return pb.ListNotificationsResponse(
            notifications=[notification_to_proto(r) for r in rows], next_page_token=token
        )

    async def GetNotification(self, request: pb.GetNotificationRequest, call: Call) -> pb.Notification:
        row = await self._notifications.get_notification(parse_name(request.name, "notifications", "ntf"))
        return notification_to_proto(row)

    async def RetryNotification(self, request: pb.RetryNotificationRequest, call: Call) -> pb.Notification:
        row = await self._notifications.retry(parse_name(request.name, "notifications", "ntf"))
        return notification_to_proto(row)

    async def CancelNotification(self, request: pb.CancelNotificationRequest, call: Call) -> pb.Notification:
        row = await self._notifications.cancel(parse_name(request.name, "notifications", "ntf"))
        return notification_to_proto(row)
