"""Customer groups and their members (back office only)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.clock import Clock
from rcommerce.db.database import Database, is_unique_violation
from rcommerce.domain.customers.convert import group_to_proto, struct_to_db
from rcommerce.domain.customers.errors import (
    CUSTOMER_GROUP_NAME_TAKEN,
    CUSTOMER_GROUP_NOT_FOUND,
    CUSTOMER_NOT_FOUND,
    CustomerError,
)
from rcommerce.domain.customers.models import CustomerGroupMemberRow, CustomerGroupRow, CustomerRow
from rcommerce.errors import FieldViolation, invalid
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import customers_pb2
from rcommerce.ids import new_id
from rcommerce.names import parse_name
from rcommerce.pagination import PageTokens, fingerprint, page_size

__all__ = ["CustomerGroupService"]

_PATHS = ("display_name", "description", "metadata")
#: Customers per AddCustomerGroupMembers / RemoveCustomerGroupMembers call.
MAX_MEMBERS_PER_CALL = 100


class CustomerGroupService:
    def __init__(self, db: Database, clock: Clock, page_tokens: PageTokens) -> None:
        self._db, self._clock, self._tokens = db, clock, page_tokens

    @staticmethod
    async def _row(s: AsyncSession, name: str, field: str = "name", *, lock: bool = False) -> CustomerGroupRow:
        group_id = parse_name(name, "customerGroups", "cgrp", field)
        row = await s.get(CustomerGroupRow, group_id, with_for_update=lock)
        if row is None:
            raise CustomerError(CUSTOMER_GROUP_NOT_FOUND, f"Customer group {name} does not exist.", name=name)
        return row

    @staticmethod
    async def _count(s: AsyncSession, group_id: str) -> int:
        query = (
            select(func.count())
            .select_from(CustomerGroupMemberRow)
            .where(CustomerGroupMemberRow.customer_group_id == group_id)
        )
        return int((await s.execute(query)).scalar_one())

    @staticmethod
    def _taken(name: str) -> CustomerError:
        return CustomerError(
            CUSTOMER_GROUP_NAME_TAKEN, f"A customer group named {name!r} already exists.", displayName=name
        )

    @staticmethod
    def _check(group: customers_pb2.CustomerGroup, paths: Sequence[str]) -> None:
        if "display_name" in paths:
            name = group.display_name.strip()
            if not name or len(name) > 255:
                raise invalid("customer_group.display_name", "is required, at most 255 characters")
        if "description" in paths and len(group.description) > 10_000:
            raise invalid("customer_group.description", "must be at most 10000 characters")

    async def create(self, group: customers_pb2.CustomerGroup) -> customers_pb2.CustomerGroup:
        self._check(group, _PATHS)
        now = self._clock.now()
        name = group.display_name.strip()
        try:
            async with self._db.transaction() as s:
                if (await s.execute(select(CustomerGroupRow.id).where(CustomerGroupRow.name == name))).first():
                    raise self._taken(name)
                row = CustomerGroupRow(
                    id=new_id("cgrp", now), name=name, description=group.description.strip(), extra=struct_to_db(group.metadata),
                    revision=1, created_at=now, updated_at=now,
                )  # fmt: skip
                s.add(row)
                await s.flush()
                message = group_to_proto(row, 0)
                record_event(s, "customer_group.created", message.name, message, now)
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise self._taken(name) from None
            raise
        return message

    async def get(self, name: str) -> customers_pb2.CustomerGroup:
        async with self._db.read() as s:
            row = await self._row(s, name)
            return group_to_proto(row, await self._count(s, row.id))

    async def list(self, request: customers_pb2.ListCustomerGroupsRequest) -> customers_pb2.ListCustomerGroupsResponse:
        limit = page_size(request.page_size)
        offset = self._tokens.decode(request.page_token, fingerprint(request))
        counts = (
            select(CustomerGroupMemberRow.customer_group_id, func.count().label("n"))
            .group_by(CustomerGroupMemberRow.customer_group_id)
            .subquery()
        )
        query = (
            select(CustomerGroupRow, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.customer_group_id == CustomerGroupRow.id)
            .order_by(CustomerGroupRow.name, CustomerGroupRow.id)
            .offset(offset)
            .limit(limit + 1)
        )
        async with self._db.read() as s:
            rows = (await s.execute(query)).all()
        response = customers_pb2.ListCustomerGroupsResponse(
            customer_groups=[group_to_proto(r, int(n)) for r, n in rows[:limit]]
        )
        if len(rows) > limit:
            response.next_page_token = self._tokens.encode(offset + limit, fingerprint(request))
        return response

    async def update(self, group: customers_pb2.CustomerGroup, mask: FieldMask) -> customers_pb2.CustomerGroup:
        paths = resolve_mask(mask, group, _PATHS)
        self._check(group, paths)
        now = self._clock.now()
        name = group.display_name.strip()
        try:
            async with self._db.transaction() as s:
                row = await self._row(s, group.name, "customer_group.name", lock=True)
                if "display_name" in paths and name != row.name:
                    if (await s.execute(select(CustomerGroupRow.id).where(CustomerGroupRow.name == name))).first():
                        raise self._taken(name)
                    row.name = name
                if "description" in paths:
                    row.description = group.description.strip()
                if "metadata" in paths:
                    row.extra = struct_to_db(group.metadata)
                row.revision += 1
                row.updated_at = now
                await s.flush()
                message = group_to_proto(row, await self._count(s, row.id))
                record_event(s, "customer_group.updated", message.name, message, now)
        except IntegrityError as exc:
            if is_unique_violation(exc):
                raise self._taken(name) from None
            raise
        return message

    async def delete(self, name: str) -> None:
        now = self._clock.now()
        async with self._db.transaction() as s:
            row = await self._row(s, name, lock=True)
            message = group_to_proto(row, await self._count(s, row.id))
            await s.delete(row)
            record_event(s, "customer_group.deleted", message.name, message, now)

    def _customer_ids(self, names: Sequence[str]) -> builtins.list[str]:
        if not names:
            raise invalid("customers", "name at least one customer")
        if len(names) > MAX_MEMBERS_PER_CALL:
            raise invalid("customers", f"at most {MAX_MEMBERS_PER_CALL} customers per call")
        return list(dict.fromkeys(parse_name(n, "customers", "cus", f"customers[{i}]") for i, n in enumerate(names)))

    async def add_members(self, group_name: str, customers: Sequence[str]) -> customers_pb2.CustomerGroup:
        """Add customers (idempotent); every named customer must exist."""
        ids = self._customer_ids(customers)
        now = self._clock.now()
        async with self._db.transaction() as s:
            row = await self._row(s, group_name, "customer_group", lock=True)
            found = set((await s.execute(select(CustomerRow.id).where(CustomerRow.id.in_(ids)))).scalars().all())
            missing = [i for i in ids if i not in found]
            if missing:
                raise CustomerError(
                    CUSTOMER_NOT_FOUND,
                    f"These customers do not exist: {', '.join('customers/' + m for m in missing)}.",
                    violations=[FieldViolation("customers", f"customers/{m} does not exist") for m in missing],
                    name=f"customers/{missing[0]}",
                )
            present = set(
                (
                    await s.execute(
                        select(CustomerGroupMemberRow.customer_id).where(
                            CustomerGroupMemberRow.customer_group_id == row.id,
                            CustomerGroupMemberRow.customer_id.in_(ids),
                        )
                    )
                )
                .scalars()
                .all()
            )
            for customer_id in ids:
                if customer_id not in present:
                    s.add(CustomerGroupMemberRow(customer_group_id=row.id, customer_id=customer_id, created_at=now))
            row.updated_at = now
            await s.flush()
            message = group_to_proto(row, await self._count(s, row.id))
            record_event(
                s,
                "customer_group.updated",
                message.name,
                message,
                now,
                addedCustomers=[f"customers/{i}" for i in ids if i not in present],
            )
        return message

    async def remove_members(self, group_name: str, customers: Sequence[str]) -> customers_pb2.CustomerGroup:
        """Remove customers; those not in the group are ignored."""
        ids = self._customer_ids(customers)
        now = self._clock.now()
        async with self._db.transaction() as s:
            row = await self._row(s, group_name, "customer_group", lock=True)
            await s.execute(
                delete(CustomerGroupMemberRow).where(
                    CustomerGroupMemberRow.customer_group_id == row.id, CustomerGroupMemberRow.customer_id.in_(ids)
                )
            )
            row.updated_at = now
            message = group_to_proto(row, await self._count(s, row.id))
            record_event(
                s,
                "customer_group.updated",
                message.name,
                message,
                now,
                removedCustomers=[f"customers/{i}" for i in ids],
            )
        return message
