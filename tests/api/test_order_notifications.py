"""Order notifications end to end, on gRPC and on REST: an order placed through the API
produces the confirmation e-mail in a local SMTP server (aiosmtpd) with the rendered
template, and an SMS in a local Twilio stand-in when the customer opted in; the customer
who did not opt in gets a ``skipped`` SMS notification instead.

The server here is one of its own, on a database of its own: the shared API server's
dispatcher and worker would otherwise consume these events and claim their jobs (and
know no smtp or twilio channel)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from google.protobuf.field_mask_pb2 import FieldMask
from rcommerce_twilio.testing import FakeTwilio, RunningFake
from sqlalchemy import make_url

from rcommerce.clock import SystemClock
from rcommerce.db import Database
from rcommerce.demo import DEMO_NOTIFICATION_RULES, seed_notifications
from rcommerce.gen.v1 import carts_pb2 as K
from rcommerce.gen.v1 import catalog_pb2 as C
from rcommerce.gen.v1 import checkout_pb2 as X
from rcommerce.gen.v1 import customers_pb2 as U
from rcommerce.gen.v1 import notifications_pb2 as N
from rcommerce.testing.client import ApiClient
from rcommerce.testing.server import LiveServer, live_server
from tests.api.test_customers_api import LIMIT_KEYS, PASSWORD
from tests.backends._checkout_world import SYDNEY, ensure_region, product
from tests.conftest import database_url, fresh_database

ACCOUNT, TOKEN, SENDER = "AC" + "7" * 32, "twilio-token", "+15005550006"
SHOP_EMAIL = "orders@shop.example"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[tuple[Envelope, EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        return "250 Message accepted"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for envelope, m in self.messages if address in envelope.rcpt_tos]


@dataclass
class Shop:
    server: LiveServer
    inbox: Inbox
    twilio: FakeTwilio
    region: str
    mail_dir: Path


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    handler = Inbox(_free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def twilio() -> Iterator[RunningFake]:
    with RunningFake(FakeTwilio(ACCOUNT, TOKEN)) as running:
        yield running


@pytest.fixture(scope="module")
async def own_db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """A migrated, empty database used by this module's server only."""
    url = database_url(database_name, tmp_path_factory.mktemp(f"notify-{database_name}"))
    if database_name != "sqlite":
        base = make_url(url)
        name = f"{base.database}_notify"
        url = base.set(database=name).render_as_string(hide_password=False)
    database = await fresh_database(url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture(scope="module")
async def shop(
    own_db: Database, inbox: Inbox, twilio: RunningFake, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shop]:
    mail_dir = tmp_path_factory.mktemp("mail")
    plugins = {
        "autoload": True, "enabled": ["smtp", "twilio"], "builtin": {"mail_dir": str(mail_dir)},
        "smtp": {"host": "127.0.0.1", "port": inbox.port, "starttls": False, "from": SHOP_EMAIL},
        "twilio": {"account_sid": ACCOUNT, "auth_token": TOKEN, "from_number": SENDER, "base_url": twilio.base_url},
    }  # fmt: skip
    notifications = {"company_name": "Notify Shop", "support_email": "help@shop.example"}
    region = await ensure_region(own_db, SystemClock())
    async with live_server(own_db.settings.url, plugins=plugins, notifications=notifications) as server:
        yield Shop(server, inbox, twilio.app, region, mail_dir)


@pytest.fixture(params=["grpc", "rest"])
async def admin(request: pytest.FixtureRequest, shop: Shop) -> AsyncIterator[ApiClient]:
    server = shop.server
    api = server.grpc_client(server.admin_key) if request.param == "grpc" else server.rest_client(server.admin_key)
    for key in LIMIT_KEYS:
        await server.app.customers.limiter.reset(key)
    yield api
    await api.close()


async def _rules(admin: ApiClient) -> list[str]:
    """order.created → order_confirmation by e-mail to the order's address and by SMS to
    the customer's phone."""
    names = []
    for channel, recipient in (("smtp", "{{ email }}"), ("twilio", "{{ phone }}")):
        rule = N.NotificationRule(
            event_type="order.created", template="order_confirmation", channel=channel, recipient=recipient
        )
        created = await admin.call("CreateNotificationRule", N.CreateNotificationRuleRequest(notification_rule=rule))
        names.append(created.name)
    return names


async def _customer(admin: ApiClient, phone: str, *, sms: bool) -> tuple[str, ApiClient]:
    address = f"buyer-{uuid.uuid4().hex[:10]}@example.com"
    anonymous = admin.with_token(None)
    session = await anonymous.call(
        "Register",
        U.RegisterRequest(email=address, password=PASSWORD, first_name="Ada", last_name="Lovelace", phone=phone),
    )
    me = admin.with_token(session.access_token)
    if sms:
        await me.call(
            "UpdateNotificationPreferences",
            U.UpdateNotificationPreferencesRequest(
                notification_preferences=U.NotificationPreferences(
                    name="customers/me/notificationPreferences", sms_enabled=True
                ),
                update_mask=FieldMask(paths=["sms_enabled"]),
            ),
        )
    return address, me


async def _place_order(admin: ApiClient, me: ApiClient, region: str, address: str, quantity: int) -> X.Checkout:
    """A signed-in customer's checkout: one line, Sydney, flat AUD 10.00 shipping."""
    variant = (await admin.call("CreateProduct", C.CreateProductRequest(product=product(2500)))).variants[0].name
    cart = await me.call("CreateCart", K.CreateCartRequest(cart=K.Cart(region=f"regions/{region}", email=address)))
    await me.call("AddLineItem", K.AddLineItemRequest(cart=cart.name, variant=variant, quantity=quantity))
    await me.call(
        "UpdateCart",
        K.UpdateCartRequest(
            cart=K.Cart(name=cart.name, shipping_address=SYDNEY), update_mask=FieldMask(paths=["shipping_address"])
        ),
    )
    options = await me.call("ListShippingOptions", K.ListShippingOptionsRequest(cart=cart.name))
    quote = next(o for o in options.shipping_options if o.service_code == "chk_std")
    await me.call("SelectShippingOption", K.SelectShippingOptionRequest(cart=cart.name, quote_id=quote.quote_id))
    done = await me.call(
        "CompleteCheckout",
        X.CompleteCheckoutRequest(
            cart=cart.name, gateway="test", method_data={"number": "4242424242424242"},
            idempotency_key=f"notify-{uuid.uuid4().hex[:8]}",
        ),
    )  # fmt: skip
    assert done.status == X.CHECKOUT_STATUS_COMPLETED, done
    return done


async def _settled(admin: ApiClient, recipient: str, channel: str, timeout_s: float = 30.0) -> N.Notification:
    """The notification to ``recipient`` once it left ``queued`` (bounded wait: the
    server's own dispatcher and worker deliver it)."""
    deadline = time.monotonic() + timeout_s
    while True:
        listed = await admin.call("ListNotifications", N.ListNotificationsRequest(channel=channel, page_size=100))
        found = [n for n in listed.notifications if n.recipient == recipient]
        if found and found[0].status != N.NOTIFICATION_STATUS_QUEUED:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no settled {channel} notification to {recipient}: {found}")
        await asyncio.sleep(0.05)  # polling interval, not a timing assumption


async def test_an_order_mails_its_confirmation_and_texts_the_opted_in_customer(admin: ApiClient, shop: Shop) -> None:
    rules = await _rules(admin)
    try:
        opted_phone, quiet_phone = "+1415555" + str(uuid.uuid4().int)[:4], "+1415556" + str(uuid.uuid4().int)[:4]
        opted_email, opted = await _customer(admin, opted_phone, sms=True)
        quiet_email, quiet = await _customer(admin, quiet_phone, sms=False)
        first = await _place_order(admin, opted, shop.region, opted_email, quantity=2)  # 2 x 25.00 + 10.00
        second = await _place_order(admin, quiet, shop.region, quiet_email, quantity=1)  # 25.00 + 10.00
        assert (first.total, second.total) == (6000, 3500)

        # The confirmation e-mails: sent, and in the SMTP server as rendered.
        for address, order, total, items in (
            (opted_email, first, "60.00 AUD", 2),
            (quiet_email, second, "35.00 AUD", 1),
        ):
            sent = await _settled(admin, address, "smtp")
            assert sent.status == N.NOTIFICATION_STATUS_SENT, sent.last_error
            assert sent.subject == f"Order Confirmed: {order.order_number}"
            [mail] = shop.inbox.to(address)
            assert mail["Subject"] == f"Order Confirmed: {order.order_number}"
            assert mail["From"] == SHOP_EMAIL and mail["To"] == address
            text = mail.get_body(preferencelist=("plain",))
            html = mail.get_body(preferencelist=("html",))
            assert text is not None and html is not None
            body = text.get_content()
            assert body.startswith("Hi Ada Lovelace,")
            assert f"Thank you for your order {order.order_number}." in body
            assert f"We received {items} item(s) for a total of {total}." in body
            assert "Write to help@shop.example." in body and "Notify Shop" in body
            assert f"<strong>{order.order_number}</strong>" in html.get_content()

        # The SMS: only the customer who opted in gets one.
        sms = await _settled(admin, opted_phone, "twilio")
        assert sms.status == N.NOTIFICATION_STATUS_SENT, sms.last_error
        [message] = [m for m in shop.twilio.messages if m["to"] == opted_phone]
        assert message["from"] == SENDER and sms.message_id == message["sid"]
        assert f"Thank you for your order {first.order_number}." in message["body"]
        assert "for a total of 60.00 AUD." in message["body"]
        skipped = await _settled(admin, quiet_phone, "twilio")
        assert skipped.status == N.NOTIFICATION_STATUS_SKIPPED
        assert skipped.last_error == "customer opted out of sms" and skipped.attempts == 0
        assert not [m for m in shop.twilio.messages if m["to"] == quiet_phone]
    finally:
        for name in rules:
            await admin.call("DeleteNotificationRule", N.DeleteNotificationRuleRequest(name=name))


async def test_the_demo_rules_leave_order_mail_as_files(admin: ApiClient, shop: Shop) -> None:
    app = shop.server.app
    assert await seed_notifications(app) == "demo notification rules: 3 created, 0 already present"
    assert await seed_notifications(app) == "demo notification rules: 0 created, 3 already present"
    seeded = [r for r in await app.notifications.list_rules() if r.channel == "file"]
    assert sorted((r.event_type, r.template, r.recipient) for r in seeded) == sorted(
        (event, template, "{{ email }}") for event, template in DEMO_NOTIFICATION_RULES
    )
    try:
        address, me = await _customer(admin, "+14155550123", sms=False)
        order = await _place_order(admin, me, shop.region, address, quantity=1)
        sent = await _settled(admin, address, "file")
        assert sent.status == N.NOTIFICATION_STATUS_SENT, sent.last_error
        mail = message_from_bytes((shop.mail_dir / f"{sent.id}.eml").read_bytes(), policy=policy.default)
        assert mail["Subject"] == f"Order Confirmed: {order.order_number}" and mail["To"] == address
    finally:
        for rule in seeded:
            await app.notifications.delete_rule(rule.id)
