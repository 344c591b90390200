"""Webhook delivery end to end against a real local HTTP receiver: outbox -> dispatcher
-> job -> signed POST, verified by the receiver published in docs/webhooks.md."""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2
from sqlalchemy import select, update

from rcommerce.clock import FrozenClock
from rcommerce.db import Database
from rcommerce.errors import DomainError
from rcommerce.events.models import WebhookDeliveryRow, WebhookEndpointRow
from rcommerce.events.outbox import OutboxEvent, record_event
from rcommerce.events.signing import sign_headers
from rcommerce.events.wiring import EventServices, build_event_services
from rcommerce.gen.v1 import webhooks_pb2
from rcommerce.pagination import PageTokens
from tests.backends._events_db import isolated_database

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
async def db(database_name: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Database]:
    """This module's own database (see tests/backends/_events_db.py)."""
    async with isolated_database(database_name, tmp_path_factory) as database:
        yield database


DOCS = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def documented_receiver() -> dict[str, Any]:
    """Exec the receiver example of docs/webhooks.md (without serving)."""
    code = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert code is not None
    namespace: dict[str, Any] = {"__name__": "docs_receiver"}
    exec(compile(code.group(1), str(DOCS), "exec"), namespace)
    return namespace


class Receiver:
    """A tiny HTTP/1.1 server. ``mode``: verify (the documented check: 204 or 401),
    fail (500), hang (never answers), redirect (302)."""

    def __init__(self) -> None:
        self.mode = "verify"
        self.secret = ""
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.verify = documented_receiver()["verify"]
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((path, headers, body))
            if self.mode == "hang":
                await asyncio.Event().wait()
            if self.mode == "fail":
                status, extra, payload = "500 Internal Server Error", "", b"oops"
            elif self.mode == "redirect":
                status, extra, payload = "302 Found", f"Location: http://127.0.0.1:{self.port}/followed\r\n", b""
            elif self.verify(self.secret, headers, body):
                status, extra, payload = "204 No Content", "", b""
            else:
                status, extra, payload = "401 Unauthorized", "", b"bad signature"
            writer.write(
                f"HTTP/1.1 {status}\r\n{extra}Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC))


@contextlib.asynccontextmanager
async def services(db: Database, clock: FrozenClock, **options: Any) -> AsyncIterator[EventServices]:
    built = build_event_services(db, clock, None, PageTokens(b"k" * 32), allow_private_targets=True, **options)
    try:
        yield built
    finally:
        await built.stop()  # releases the dispatcher lease and closes the HTTP client
        # Leave nothing for later tests' workers: this test's endpoints stop receiving.
        async with db.transaction() as session:
            await session.execute(
                update(WebhookEndpointRow)
                .where(WebhookEndpointRow.url.like("http://127.0.0.1:%"))
                .values(disabled=True)
            )


async def _event(db: Database, clock: FrozenClock, event_type: str) -> str:
    obj = struct_pb2.Struct()
    obj.update({"name": "things/1", "title": "Blue Tee"})
    async with db.transaction() as session:
        return record_event(session, event_type, "things/1", obj, clock.now()).id


async def _drain(svc: EventServices) -> None:
    while await svc.dispatcher.run_once():
        pass
    while await svc.worker.run_once():
        pass


async def _deliveries(db: Database, endpoint_id: str) -> list[WebhookDeliveryRow]:
    async with db.read() as session:
        query = (
            select(WebhookDeliveryRow)
            .where(WebhookDeliveryRow.endpoint_id == endpoint_id)
            .order_by(WebhookDeliveryRow.attempt)
        )
        return list((await session.execute(query)).scalars().all())


def _type() -> str:
    return f"t{uuid.uuid4().hex[:10]}.created"


async def test_delivery_is_signed_and_the_documented_receiver_verifies_it(
    db: Database, clock: FrozenClock, receiver: Receiver
) -> None:
    event_type = _type()
    async with services(db, clock) as svc:
        endpoint, receiver.secret = await svc.endpoints.create(receiver.url, [event_type])
        event_id = await _event(db, clock, event_type)
        await _drain(svc)
    assert len(receiver.requests) == 1
    _, headers, body = receiver.requests[0]
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == event_id
    assert (
        headers["x-webhook-signature"]
        == sign_headers(receiver.secret, event_id, int(headers["webhook-timestamp"]), body)["X-Webhook-Signature"]
    )
    assert body.startswith(f'{{"id":"{event_id}","type":"{event_type}","created_at":"'.encode())
    assert b'"data":{"object":{' in body
    [row] = await _deliveries(db, endpoint.id)
    assert (row.status, row.http_status, row.attempt, row.event_id, row.error) == ("succeeded", 204, 1, event_id, "")
    assert row.request_body.encode() == body


async def test_a_tampered_body_is_rejected_by_the_receiver(
    db: Database, clock: FrozenClock, receiver: Receiver
) -> None:
    async with services(db, clock) as svc:
        receiver.secret = "whsec_" + "A" * 43 + "="
        body = b'{"id":"evt_1","type":"x.created"}'
        headers = sign_headers(receiver.secret, "evt_1", int(clock.now().timestamp()), body)
        ok = await svc.sender.send(receiver.url, headers, body)
        tampered = await svc.sender.send(receiver.url, headers, body.replace(b"x.created", b"x.deleted"))
    assert (ok.ok, ok.http_status) == (True, 204)
    assert (tampered.ok, tampered.http_status, tampered.response_excerpt) == (False, 401, "bad signature")


async def test_a_500_is_retried_on_the_schedule_then_succeeds(
    db: Database, clock: FrozenClock, receiver: Receiver
) -> None:
    event_type = _type()
    async with services(db, clock) as svc:
        endpoint, receiver.secret = await svc.endpoints.create(receiver.url, [event_type])
        await _event(db, clock, event_type)
        receiver.mode = "fail"
        await _drain(svc)
        [first] = await _deliveries(db, endpoint.id)
        assert (first.status, first.http_status, first.response_body_excerpt) == ("retrying", 500, "oops")
        assert first.next_attempt_at is not None and 4.5 <= (first.next_attempt_at - clock.now()).total_seconds() <= 5.5
        clock.advance(4)
        await _drain(svc)
        assert len(receiver.requests) == 1  # not due yet
        receiver.mode = "verify"
        clock.advance(2)
        await _drain(svc)
    rows = await _deliveries(db, endpoint.id)
    assert [(r.attempt, r.status, r.http_status) for r in rows] == [(1, "retrying", 500), (2, "succeeded", 204)]
    assert rows[0].event_id == rows[1].event_id
    assert receiver.requests[0][2] == receiver.requests[1][2]  # same body, re-signed


async def test_a_hanging_receiver_times_out(db: Database, clock: FrozenClock, receiver: Receiver) -> None:
    event_type = _type()
    async with services(db, clock, webhook_timeout_s=0.3) as svc:
        endpoint, receiver.secret = await svc.endpoints.create(receiver.url, [event_type])
        await _event(db, clock, event_type)
        receiver.mode = "hang"
        await _drain(svc)
    [row] = await _deliveries(db, endpoint.id)
    assert (row.status, row.http_status, row.error) == ("retrying", 0, "timed out after 0.3 s")


async def test_a_redirect_is_a_failure_and_not_followed(db: Database, clock: FrozenClock, receiver: Receiver) -> None:
    event_type = _type()
    async with services(db, clock) as svc:
        endpoint, receiver.secret = await svc.endpoints.create(receiver.url, [event_type])
        await _event(db, clock, event_type)
        receiver.mode = "redirect"
        await _drain(svc)
    [row] = await _deliveries(db, endpoint.id)
    assert (row.status, row.http_status, row.error) == ("retrying", 302, "redirect (302) not followed")
    assert [path for path, _, _ in receiver.requests] == ["/hooks"]


async def test_private_targets_are_refused_without_the_setting(
    db: Database, clock: FrozenClock, receiver: Receiver
) -> None:
    strict = build_event_services(db, clock, None, PageTokens(b"k" * 32), allow_private_targets=False)
    try:
        with pytest.raises(DomainError) as err:
            await strict.endpoints.create(receiver.url, ["x.created"])
        assert err.value.reason.name == "WEBHOOK_TARGET_NOT_ALLOWED"
        result = await strict.sender.send(receiver.url, {}, b"{}")
        assert (result.ok, result.http_status) == (False, 0) and result.error.startswith("target refused")
        assert receiver.requests == []
    finally:
        await strict.stop()


async def test_repeated_failures_disable_the_endpoint(db: Database, clock: FrozenClock, receiver: Receiver) -> None:
    event_type = _type()
    async with services(db, clock, disable_after_failures=2) as svc:
        endpoint, receiver.secret = await svc.endpoints.create(receiver.url, [event_type])
        receiver.mode = "fail"
        for _ in range(2):
            await _event(db, clock, event_type)
        for _ in range(8):
            await _drain(svc)
            clock.advance(40_000)
        got = await svc.endpoints.get(endpoint.id)
    assert got.disabled and got.consecutive_failures == 2 and "2 deliveries" in got.disabled_reason
    rows = await _deliveries(db, endpoint.id)
    assert len(rows) == 16 and [r.status for r in rows].count("failed") == 2
    async with db.read() as session:
        events = (
            (
                await session.execute(
                    select(OutboxEvent).where(
                        OutboxEvent.type == "webhook_endpoint.disabled", OutboxEvent.subject == endpoint.name
                    )
                )
            )
            .scalars()
            .all()
        )
    assert len(events) == 1 and events[0].data["object"]["disabled"] is True
    assert "secret" not in str(events[0].data)


async def test_test_event_and_redelivery(db: Database, clock: FrozenClock, receiver: Receiver) -> None:
    async with services(db, clock) as svc:
        endpoint, receiver.secret = await svc.endpoints.create(receiver.url, ["order.created"])
        sent = await svc.endpoints.send_test(endpoint.id, "")
        assert (sent.status, sent.http_status, sent.test, sent.event_type) == (
            webhooks_pb2.WEBHOOK_DELIVERY_STATUS_SUCCEEDED, 204, True, "order.created",
        )  # fmt: skip
        assert receiver.requests[0][1]["x-webhook-test"] == "true"
        with pytest.raises(DomainError) as err:
            await svc.endpoints.send_test(endpoint.id, "order.paid")
        assert err.value.reason.name == "WEBHOOK_EVENT_NOT_SUBSCRIBED"
        again = await svc.endpoints.redeliver(endpoint.id, sent.id)
        assert (again.event_id, again.attempt, again.http_status) == (sent.event_id, 2, 204)
        assert receiver.requests[1][2] == receiver.requests[0][2]
        _, new_secret = await svc.endpoints.rotate_secret(endpoint.id)
        receiver.secret = new_secret
        assert (await svc.endpoints.send_test(endpoint.id, "order.created")).http_status == 204
        page, more = await svc.endpoints.list_deliveries(endpoint.id, 0, 2)
        assert len(page) == 2 and more
