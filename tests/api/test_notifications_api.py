"""NotificationService through both transports, and the rules fed by the live server's
dispatcher and worker."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from google.protobuf import field_mask_pb2, struct_pb2

from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import notifications_pb2 as pb
from rcommerce.testing.client import ApiClient, ApiError

ORDER_VARS = {
    "customer_name": "Ada", "order_number": "R-1001", "order_total": "12.50 EUR", "item_count": 2,
}  # fmt: skip


def _struct(values: dict[str, object]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(values)
    return s


async def test_list_templates_includes_the_builtins(client: ApiClient) -> None:
    listed = await client.call("ListNotificationTemplates", pb.ListNotificationTemplatesRequest())
    by_id = {t.id: t for t in listed.notification_templates}
    assert "order_confirmation" in by_id
    assert by_id["order_confirmation"].name == "notificationTemplates/order_confirmation"
    assert "order_number" in by_id["order_confirmation"].variables


async def test_preview_renders_with_variables(client: ApiClient) -> None:
    rendered = await client.call(
        "PreviewNotificationTemplate",
        pb.PreviewNotificationTemplateRequest(
            name="notificationTemplates/order_confirmation", variables=_struct(ORDER_VARS)
        ),
    )
    assert "R-1001" in rendered.subject + rendered.text
    assert "Ada" in rendered.text


async def test_preview_with_a_missing_variable_names_it(client: ApiClient) -> None:
    partial = {k: v for k, v in ORDER_VARS.items() if k != "order_number"}
    with pytest.raises(ApiError) as err:
        await client.call(
            "PreviewNotificationTemplate",
            pb.PreviewNotificationTemplateRequest(
                name="notificationTemplates/order_confirmation", variables=_struct(partial)
            ),
        )
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "MISSING_TEMPLATE_VARIABLES")
    assert "order_number" in err.value.message


async def test_preview_of_unsaved_sources(client: ApiClient) -> None:
    source = pb.NotificationTemplate(
        subject="Order {{ order_number }}", text="Hi {{ customer_name }} from {{ company_name }}"
    )
    rendered = await client.call(
        "PreviewNotificationTemplate",
        pb.PreviewNotificationTemplateRequest(
            name="notificationTemplates/order_confirmation", variables=_struct(ORDER_VARS), source=source
        ),
    )
    assert rendered.subject == "Order R-1001"
    assert rendered.text.startswith("Hi Ada from ")


async def test_update_with_a_syntax_error_saves_nothing(client: ApiClient) -> None:
    name = "notificationTemplates/order_shipped"
    before = await client.call("GetNotificationTemplate", pb.GetNotificationTemplateRequest(name=name))
    broken = pb.NotificationTemplate(name=name, subject="Shipped {{ order_number", text="x")
    with pytest.raises(ApiError) as err:
        await client.call(
            "UpdateNotificationTemplate", pb.UpdateNotificationTemplateRequest(notification_template=broken)
        )
    assert (err.value.status, err.value.reason) == ("INVALID_ARGUMENT", "TEMPLATE_RENDER_ERROR")
    after = await client.call("GetNotificationTemplate", pb.GetNotificationTemplateRequest(name=name))
    assert after == before


async def test_override_then_reset(client: ApiClient) -> None:
    name = "notificationTemplates/welcome"
    builtin = await client.call("ResetNotificationTemplate", pb.ResetNotificationTemplateRequest(name=name))
    assert builtin.origin == "builtin"
    custom = pb.NotificationTemplate(
        name=name, subject="Welcome, {{ customer_name }}", text="Hello {{ customer_name }}"
    )
    saved = await client.call(
        "UpdateNotificationTemplate", pb.UpdateNotificationTemplateRequest(notification_template=custom)
    )
    assert (saved.origin, saved.subject) == ("override", "Welcome, {{ customer_name }}")
    got = await client.call("GetNotificationTemplate", pb.GetNotificationTemplateRequest(name=name))
    assert got.subject == "Welcome, {{ customer_name }}"
    patch = pb.UpdateNotificationTemplateRequest(
        notification_template=pb.NotificationTemplate(name=name, subject="Hey {{ customer_name }}"),
        update_mask=field_mask_pb2.FieldMask(paths=["subject"]),
    )
    patched = await client.call("UpdateNotificationTemplate", patch)
    assert (patched.subject, patched.text) == ("Hey {{ customer_name }}", "Hello {{ customer_name }}")
    reset = await client.call("ResetNotificationTemplate", pb.ResetNotificationTemplateRequest(name=name))
    assert reset == builtin


async def test_unknown_template_and_channel(client: ApiClient) -> None:
    with pytest.raises(ApiError) as err:
        await client.call(
            "GetNotificationTemplate", pb.GetNotificationTemplateRequest(name="notificationTemplates/nope")
        )
    assert err.value.reason == "TEMPLATE_NOT_FOUND"
    rule = pb.NotificationRule(event_type="product.created", template="welcome", channel="pigeon", recipient="x@y.z")
    with pytest.raises(ApiError) as err:
        await client.call("CreateNotificationRule", pb.CreateNotificationRuleRequest(notification_rule=rule))
    assert err.value.reason == "UNKNOWN_NOTIFICATION_CHANNEL"


async def _wait_for(client: ApiClient, event_template: str, status: int, timeout_s: float = 20.0) -> pb.Notification:
    deadline = time.monotonic() + timeout_s
    while True:
        listed = await client.call("ListNotifications", pb.ListNotificationsRequest(channel="log", page_size=100))
        found = [n for n in listed.notifications if n.template == event_template]
        if found and found[0].status == status:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event_template} notification reached status {status}: {found}")
        await asyncio.sleep(0.1)  # polling interval, not a timing assumption


async def test_a_rule_sends_through_the_log_channel(client: ApiClient) -> None:
    template = f"product_created_{uuid.uuid4().hex[:8]}"
    custom = pb.NotificationTemplate(
        name=f"notificationTemplates/{template}", subject="New: {{ title }}", text="{{ event.type }} {{ title }}",
        variables=["title", "event"],
    )  # fmt: skip
    await client.call("UpdateNotificationTemplate", pb.UpdateNotificationTemplateRequest(notification_template=custom))
    new_rule = pb.NotificationRule(
        event_type="product.created", template=template, channel="log", recipient="ops@example.com"
    )
    rule = await client.call("CreateNotificationRule", pb.CreateNotificationRuleRequest(notification_rule=new_rule))
    try:
        assert rule.name == f"notificationRules/{rule.id}" and rule.id.startswith("nrl_")
        rules = await client.call("ListNotificationRules", pb.ListNotificationRulesRequest())
        assert rule in rules.notification_rules
        title = f"Notify {uuid.uuid4().hex[:6]}"
        await client.call("CreateProduct", C.CreateProductRequest(product=C.Product(title=title)))
        sent = await _wait_for(client, template, pb.NOTIFICATION_STATUS_SENT)
        assert (sent.recipient, sent.subject, sent.rule) == ("ops@example.com", f"New: {title}", rule.name)
        assert sent.text.strip() == f"product.created {title}"
        got = await client.call("GetNotification", pb.GetNotificationRequest(name=sent.name))
        assert got == sent
        with pytest.raises(ApiError) as err:
            await client.call("CancelNotification", pb.CancelNotificationRequest(name=sent.name))
        assert (err.value.status, err.value.reason) == ("FAILED_PRECONDITION", "CANNOT_CANCEL_SENT")
        with pytest.raises(ApiError) as err:
            await client.call("RetryNotification", pb.RetryNotificationRequest(name=sent.name))
        assert err.value.reason == "NOTIFICATION_ALREADY_SENT"
    finally:
        await client.call("DeleteNotificationRule", pb.DeleteNotificationRuleRequest(name=rule.name))
    with pytest.raises(ApiError) as err:
        await client.call("DeleteNotificationRule", pb.DeleteNotificationRuleRequest(name=rule.name))
    assert err.value.reason == "NOTIFICATION_RULE_NOT_FOUND"


async def test_list_notifications_filters_and_bad_token(client: ApiClient) -> None:
    listed = await client.call(
        "ListNotifications", pb.ListNotificationsRequest(status=pb.NOTIFICATION_STATUS_CANCELLED, page_size=5)
    )
    assert all(n.status == pb.NOTIFICATION_STATUS_CANCELLED for n in listed.notifications)
    with pytest.raises(ApiError) as err:
        await client.call("ListNotifications", pb.ListNotificationsRequest(page_token="ntf_x.bogus"))
    assert err.value.reason == "INVALID_PAGE_TOKEN"


async def test_a_failed_notification_can_be_retried(client: ApiClient) -> None:
    # order_confirmation needs variables a product event lacks: rendering fails, the
    # notification is recorded failed; a retry sends what was rendered (nothing) anyway.
    new_rule = pb.NotificationRule(
        event_type="product.created", template="order_confirmation", channel="log", recipient="ops@example.com"
    )
    rule = await client.call("CreateNotificationRule", pb.CreateNotificationRuleRequest(notification_rule=new_rule))
    try:
        await client.call(
            "CreateProduct", C.CreateProductRequest(product=C.Product(title=f"Fail {uuid.uuid4().hex[:6]}"))
        )
        failed = await _wait_for(client, "order_confirmation", pb.NOTIFICATION_STATUS_FAILED)
    finally:
        await client.call("DeleteNotificationRule", pb.DeleteNotificationRuleRequest(name=rule.name))
    assert failed.rule == rule.name and "customer_name" in failed.last_error
    with pytest.raises(ApiError) as err:
        await client.call("CancelNotification", pb.CancelNotificationRequest(name=failed.name))
    assert err.value.reason == "CANNOT_CANCEL_SENT"
    retried = await client.call("RetryNotification", pb.RetryNotificationRequest(name=failed.name))
    assert retried.status in (pb.NOTIFICATION_STATUS_QUEUED, pb.NOTIFICATION_STATUS_SENT)
    sent = await _wait_for(client, "order_confirmation", pb.NOTIFICATION_STATUS_SENT)
    assert sent.name == failed.name and sent.last_error == ""
