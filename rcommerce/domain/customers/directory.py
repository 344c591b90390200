"""What other contexts may know about a customer, read in the caller's transaction.

Carts, checkout, orders, price lists and promotions ask the :class:`CustomerDirectory`
instead of reading the customers tables, so they never import this context's models
(DESIGN 2). Every method takes the caller's ``AsyncSession`` so one command stays one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.domain.customers.convert import customer_to_proto
from rcommerce.domain.customers.models import CustomerGroupMemberRow, CustomerRow
from rcommerce.domain.customers.rules import normalize_email
from rcommerce.events import record_event
from rcommerce.ids import new_id

__all__ = ["CustomerDirectory", "CustomerProfile"]


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    id: str  # "cus_..."
    email: str
    group_ids: frozenset[str]  # "cgrp_..." ids
    tax_exempt: bool
    vat_id: str  # "" when none
    orders_count: int
    is_guest: bool
    created_at: datetime


def new_customer_row(email: str, now: datetime, *, is_guest: bool) -> CustomerRow:
    """A fresh row with every column at its default."""
    return CustomerRow(
        id=new_id("cus", now),
        email=email,
        first_name="",
        last_name="",
        phone="",
        password_hash=None,
        is_guest=is_guest,
        accepts_marketing=False,
        tax_exempt=False,
        vat_id="",
        currency_code="",
        orders_count=0,
        extra={},
        revision=1,
        last_sign_in_at=None,
        created_at=now,
        updated_at=now,
    )


_PROFILE_BY_EMAIL = (
    select(
        CustomerRow.id, CustomerRow.email, CustomerRow.tax_exempt, CustomerRow.vat_id, CustomerRow.orders_count,
        CustomerRow.is_guest, CustomerRow.created_at, CustomerGroupMemberRow.customer_group_id,
    )
    .outerjoin(CustomerGroupMemberRow, CustomerGroupMemberRow.customer_id == CustomerRow.id)
    .where(CustomerRow.email == bindparam("email"))
)  # fmt: skip


class CustomerDirectory:
    """Look-ups of customers for other contexts, plus find-or-create of guests."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def get(self, session: AsyncSession, customer_id: str) -> CustomerProfile | None:
        """The customer's profile, or ``None`` when there is no such customer."""
        row = await session.get(CustomerRow, customer_id)
        return None if row is None else await self._profile(session, row)

    async def find_or_create_guest(self, session: AsyncSession, email: str) -> CustomerProfile:
        """The customer with ``email`` (registered or guest), or a new guest customer.

        ``email`` is normalised (trimmed, lower-cased) and must be valid, else
        INVALID_EMAIL. A new guest records ``customer.created`` in the caller's
        transaction. Two concurrent calls for the same new email both end with the one
        row: the loser of the insert race reads the winner's row.
        """
        normalized = normalize_email(email, field="email")
        found = await self._profile_by_email(session, normalized)
        if found is not None:
            return found
        now = self._clock.now()
        row = new_customer_row(normalized, now, is_guest=True)
        try:
            async with session.begin_nested():
                session.add(row)
                await session.flush()
        except IntegrityError:
            found = await self._profile_by_email(session, normalized)
            if found is None:
                raise
            return found
        message = customer_to_proto(row, ())
        record_event(session, "customer.created", message.name, message, now)
        return _profile_of(row, frozenset())  # a customer created just now is in no group

    async def record_order(self, session: AsyncSession, customer_id: str) -> None:
        """Count one placed order for the customer (atomic increment; promotions read
        ``orders_count`` for "new customers only"). Unknown customers are ignored."""
        await session.execute(
            update(CustomerRow).where(CustomerRow.id == customer_id).values(orders_count=CustomerRow.orders_count + 1)
        )

    @staticmethod
    async def _profile_by_email(session: AsyncSession, email: str) -> CustomerProfile | None:
        """The customer with ``email`` and its groups, in one statement (a row per group)."""
        rows = (await session.execute(_PROFILE_BY_EMAIL, {"email": email})).all()
        if not rows:
            return None
        first = rows[0]
        return CustomerProfile(
            id=first.id,
            email=first.email,
            group_ids=frozenset(r.customer_group_id for r in rows if r.customer_group_id is not None),
            tax_exempt=first.tax_exempt,
            vat_id=first.vat_id,
            orders_count=first.orders_count,
            is_guest=first.is_guest,
            created_at=first.created_at,
        )

    @staticmethod
    async def _profile(session: AsyncSession, row: CustomerRow) -> CustomerProfile:
        groups = await session.execute(
            select(CustomerGroupMemberRow.customer_group_id).where(CustomerGroupMemberRow.customer_id == row.id)
        )
        return _profile_of(row, frozenset(groups.scalars().all()))


def _profile_of(row: CustomerRow, group_ids: frozenset[str]) -> CustomerProfile:
    return CustomerProfile(
        id=row.id,
        email=row.email,
        group_ids=group_ids,
        tax_exempt=row.tax_exempt,
        vat_id=row.vat_id,
        orders_count=row.orders_count,
        is_guest=row.is_guest,
        created_at=row.created_at,
    )
