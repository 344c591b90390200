"""Customers' notification preferences: the Get/Update RPCs and the hook the
notification service asks before queueing a message (spec C §3.4).

Whose preferences govern a delivery (:class:`PreferenceLookup`):

1. The event names a customer: its subject is ``customers/cus_...``, or its data (or
   ``data.object``) has ``customer`` (``customers/cus_...`` or ``cus_...``) or
   ``customer_id``.
2. For an e-mail channel the recipient must be that customer's address; when it is
   someone else's (a staff copy of an order e-mail) or no customer was named, the
   customer whose e-mail is the recipient governs it.
3. No customer found: the message is sent (preferences are the customer's, and
   whoever else receives it did not set any).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.customers.access import resolve_customer
from rcommerce.domain.customers.convert import customer_name
from rcommerce.domain.customers.errors import (
    CUSTOMER_NOT_FOUND,
    INVALID_QUIET_HOURS,
    INVALID_TIME_ZONE,
    CustomerError,
)
from rcommerce.domain.customers.models import CustomerRow, NotificationPreferencesRow
from rcommerce.errors import INVALID_RESOURCE_NAME, FieldViolation, RequestError, raise_violations
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import customers_pb2
from rcommerce.ids import id_prefix
from rcommerce.notifications.preferences import (
    SEND,
    Decision,
    Delivery,
    Preferences,
    decide,
    parse_clock,
    time_zone,
)
from rcommerce.timestamps import to_timestamp

__all__ = [
    "DEFAULT_TIME_ZONE",
    "NotificationPreferencesService",
    "PreferenceLookup",
    "preference_violations",
    "preferences_of",
]

DEFAULT_TIME_ZONE = "UTC"
SUFFIX = "/notificationPreferences"
_FLAGS = ("email_enabled", "sms_enabled", "push_enabled", "marketing_emails", "order_updates", "shipping_updates")
_PATHS = (*_FLAGS, "quiet_hours_start", "quiet_hours_end", "time_zone")
_PREFIX = "notification_preferences"


def preferences_name(customer_id: str) -> str:
    return f"{customer_name(customer_id)}{SUFFIX}"


def _customer_of(principal: Principal, name: str, field: str) -> str:
    if not name.endswith(SUFFIX):
        raise RequestError(
            INVALID_RESOURCE_NAME,
            f"{field} {name!r} is not of the form customers/{{customer}}/notificationPreferences.",
            violations=[FieldViolation(field, "must be customers/{customer}/notificationPreferences")],
            field=field,
        )
    return resolve_customer(principal, name.removesuffix(SUFFIX), field)


def preference_violations(start: str, end: str, zone: str, prefix: str = _PREFIX) -> list[FieldViolation]:
    """Every problem of the quiet hours and time zone: "HH:MM" or empty each, both or
    neither, not equal; the zone an IANA name."""
    violations: list[FieldViolation] = []
    for field, value in (("quiet_hours_start", start), ("quiet_hours_end", end)):
        if value and parse_clock(value) is None:
            violations.append(FieldViolation(f"{prefix}.{field}", 'must be "HH:MM" (24 h, e.g. "22:00") or empty'))
    if not violations:
        if bool(start) != bool(end):
            missing = "quiet_hours_end" if start else "quiet_hours_start"
            violations.append(FieldViolation(f"{prefix}.{missing}", "set both quiet hours start and end, or neither"))
        elif start and start == end:
            violations.append(FieldViolation(f"{prefix}.quiet_hours_end", "must differ from quiet_hours_start"))
    if time_zone(zone) is None:
        violations.append(FieldViolation(f"{prefix}.time_zone", 'must be an IANA time zone such as "Europe/Berlin"'))
    return violations


def preferences_of(row: NotificationPreferencesRow | None, customer: CustomerRow) -> Preferences:
    """The effective preferences: the row, or the defaults (marketing as the customer's
    ``accepts_marketing``)."""
    if row is None:
        return Preferences(marketing=customer.accepts_marketing)
    return Preferences(
        email_enabled=row.email_enabled, sms_enabled=row.sms_enabled, push_enabled=row.push_enabled,
        marketing=row.marketing_emails, order_updates=row.order_updates, shipping_updates=row.shipping_updates,
        quiet_start=parse_clock(row.quiet_hours_start or ""), quiet_end=parse_clock(row.quiet_hours_end or ""),
        time_zone=row.time_zone,
    )  # fmt: skip


def _to_proto(customer: CustomerRow, row: NotificationPreferencesRow | None) -> customers_pb2.NotificationPreferences:
    name = preferences_name(customer.id)
    if row is None:
        return customers_pb2.NotificationPreferences(
            name=name, email_enabled=True, sms_enabled=False, push_enabled=False,
            marketing_emails=customer.accepts_marketing, order_updates=True, shipping_updates=True,
            time_zone=DEFAULT_TIME_ZONE,
        )  # fmt: skip
    return customers_pb2.NotificationPreferences(
        name=name, email_enabled=row.email_enabled, sms_enabled=row.sms_enabled, push_enabled=row.push_enabled,
        marketing_emails=row.marketing_emails, order_updates=row.order_updates,
        shipping_updates=row.shipping_updates, quiet_hours_start=row.quiet_hours_start or "",
        quiet_hours_end=row.quiet_hours_end or "", time_zone=row.time_zone, update_time=to_timestamp(row.updated_at),
    )  # fmt: skip


class NotificationPreferencesService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db, self._clock = db, clock

    @staticmethod
    async def _customer(s: AsyncSession, customer_id: str, *, lock: bool = False) -> CustomerRow:
        row = await s.get(CustomerRow, customer_id, with_for_update=lock)
        if row is None:
            name = customer_name(customer_id)
            raise CustomerError(CUSTOMER_NOT_FOUND, f"Customer {name} does not exist.", name=name)
        return row

    async def get(self, principal: Principal, name: str) -> customers_pb2.NotificationPreferences:
        customer_id = _customer_of(principal, name, "name")
        async with self._db.read() as s:
            customer = await self._customer(s, customer_id)
            return _to_proto(customer, await s.get(NotificationPreferencesRow, customer_id))

    async def update(
        self, principal: Principal, prefs: customers_pb2.NotificationPreferences, mask: FieldMask
    ) -> customers_pb2.NotificationPreferences:
        customer_id = _customer_of(principal, prefs.name, f"{_PREFIX}.name")
        paths = resolve_mask(mask, prefs, _PATHS)
        now = self._clock.now()
        async with self._db.transaction() as s:
            # The customer row lock serialises concurrent first updates (both inserting).
            customer = await self._customer(s, customer_id, lock=True)
            row = await s.get(NotificationPreferencesRow, customer_id)
            values = _values(_to_proto(customer, row))
            given = _values(prefs)
            for path in paths:
                values[path] = given[path]
            values["quiet_hours_start"] = str(values["quiet_hours_start"]).strip()
            values["quiet_hours_end"] = str(values["quiet_hours_end"]).strip()
            values["time_zone"] = str(values["time_zone"]).strip() or DEFAULT_TIME_ZONE
            _check(values)
            if row is None:
                row = NotificationPreferencesRow(customer_id=customer_id, created_at=now)
                s.add(row)
            for flag in _FLAGS:
                setattr(row, flag, bool(values[flag]))
            row.quiet_hours_start = str(values["quiet_hours_start"]) or None
            row.quiet_hours_end = str(values["quiet_hours_end"]) or None
            row.time_zone = str(values["time_zone"])
            row.updated_at = now
            await s.flush()
            message = _to_proto(customer, row)
            record_event(s, "customer.notification_preferences_updated", message.name, message, now)
        return message


def _values(message: customers_pb2.NotificationPreferences) -> dict[str, Any]:
    return {path: getattr(message, path) for path in _PATHS}


def _check(values: Mapping[str, Any]) -> None:
    violations = preference_violations(values["quiet_hours_start"], values["quiet_hours_end"], values["time_zone"])
    zone = [v for v in violations if v.field.endswith(".time_zone")]
    raise_violations(violations, INVALID_TIME_ZONE if zone and len(zone) == len(violations) else INVALID_QUIET_HOURS)


class PreferenceLookup:
    """The notification service's preference hook: finds the customer a delivery is for
    (module docstring) and applies :func:`~rcommerce.notifications.preferences.decide`."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def __call__(self, session: AsyncSession, delivery: Delivery) -> Decision:
        if delivery.topic in ("staff", "account"):
            return SEND
        customer = await self._customer(session, delivery)
        if customer is None:
            return SEND
        row = await session.get(NotificationPreferencesRow, customer.id)
        return decide(preferences_of(row, customer), delivery.medium, delivery.topic, self._now())

    def _now(self) -> datetime:
        return self._clock.now()

    @staticmethod
    async def _customer(session: AsyncSession, delivery: Delivery) -> CustomerRow | None:
        named = _named_customer(delivery.event.subject, delivery.event.data)
        customer = await session.get(CustomerRow, named) if named else None
        if delivery.medium != "email":
            return customer
        recipient = delivery.recipient.strip().lower()
        if customer is not None and customer.email == recipient:
            return customer
        found = await session.execute(select(CustomerRow).where(CustomerRow.email == recipient))
        return found.scalars().first()


def _as_customer_id(value: object) -> str:
    """``cus_...`` from "cus_...", "customers/cus_..." or "customers/cus_.../<child>"."""
    if not isinstance(value, str):
        return ""
    parts = value.split("/")
    candidate = parts[1] if len(parts) >= 2 and parts[0] == "customers" else value
    return candidate if "/" not in candidate and id_prefix(candidate) == "cus" else ""


def _named_customer(subject: str, data: Mapping[str, Any]) -> str:
    """The ``cus_...`` id an event is about, or ""."""
    if subject.startswith("customers/") and (found := _as_customer_id(subject)):
        return found
    obj = data.get("object")
    for source in (obj if isinstance(obj, Mapping) else {}, data):
        for key in ("customer", "customer_id", "customerId"):
            if found := _as_customer_id(source.get(key)):
                return found
    return ""
