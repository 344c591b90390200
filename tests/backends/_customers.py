"""Shared fixtures of the customers backend tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.passwords import PasswordHasher
from rcommerce.auth.principal import Principal, PrincipalKind
from rcommerce.cache.memory import MemoryCache
from rcommerce.clock import FrozenClock
from rcommerce.config import Settings
from rcommerce.db import Database
from rcommerce.domain.customers.wiring import CustomerServices, build_customer_services
from rcommerce.events import OutboxEvent
from rcommerce.pagination import PageTokens
from rcommerce.plugins.providers import Event

STAFF = Principal(PrincipalKind.SECRET_KEY, "apiKeys/key_test")
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost_kib=1024, parallelism=1)
PASSWORD = "correct horse 1"


def email(label: str = "c") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@Example.com"


@dataclass
class Hooks:
    sign_ins: list[tuple[str, str]] = field(default_factory=list)
    resets: list[Event] = field(default_factory=list)
    fail_sign_in: bool = False

    async def on_sign_in(self, session: AsyncSession, customer_id: str, cart_token: str) -> None:
        assert session.in_transaction()
        self.sign_ins.append((customer_id, cart_token))
        if self.fail_sign_in:
            raise RuntimeError("merge failed")

    async def on_reset(self, session: AsyncSession, event: Event) -> None:
        assert session.in_transaction()
        self.resets.append(event)


def build(db: Database, clock: FrozenClock, hooks: Hooks, **customers: object) -> CustomerServices:
    settings = Settings(customers=customers) if customers else Settings()
    return build_customer_services(
        db, MemoryCache(clock=clock), clock, settings, b"s" * 32, PageTokens(b"t" * 32),
        on_sign_in=[hooks.on_sign_in], on_password_reset=[hooks.on_reset], passwords=FAST_HASHER,
    )  # fmt: skip


async def events_of(db: Database, subject: str) -> list[OutboxEvent]:
    async with db.read() as s:
        rows = await s.execute(select(OutboxEvent).where(OutboxEvent.subject == subject).order_by(OutboxEvent.seq))
        return list(rows.scalars().all())
