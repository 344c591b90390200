"""A customer's saved addresses, with at most one default shipping and one default
billing address. The first address becomes both defaults."""

from __future__ import annotations

from google.protobuf.field_mask_pb2 import FieldMask
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rcommerce.auth.principal import Principal
from rcommerce.clock import Clock
from rcommerce.db.database import Database
from rcommerce.domain.customers.access import resolve_address, resolve_customer
from rcommerce.domain.customers.convert import ADDRESS_FIELDS, address_name, address_to_proto
from rcommerce.domain.customers.errors import (
    ADDRESS_NOT_FOUND,
    CUSTOMER_NOT_FOUND,
    MAX_ADDRESSES,
    TOO_MANY_ADDRESSES,
    CustomerError,
)
from rcommerce.domain.customers.models import AddressRow, CustomerRow
from rcommerce.domain.customers.rules import address_violations
from rcommerce.errors import raise_violations
from rcommerce.events import record_event
from rcommerce.fieldmask import resolve_mask
from rcommerce.gen.v1 import common_pb2, customers_pb2
from rcommerce.ids import new_id

__all__ = ["MAX_ADDRESSES", "AddressService"]

_PATHS = ("address", *(f"address.{f}" for f in ADDRESS_FIELDS), "is_default_shipping", "is_default_billing")
_FLAGS = ("is_default_shipping", "is_default_billing")


def _clean(address: common_pb2.Address) -> dict[str, str]:
    values = {f: getattr(address, f).strip() for f in ADDRESS_FIELDS}
    values["country_code"] = values["country_code"].upper()
    return values


class AddressService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db, self._clock = db, clock

    @staticmethod
    async def _customer(s: AsyncSession, customer_id: str, *, lock: bool = False) -> CustomerRow:
        row = await s.get(CustomerRow, customer_id, with_for_update=lock)
        if row is None:
            raise CustomerError(
                CUSTOMER_NOT_FOUND, f"Customer customers/{customer_id} does not exist.", name=f"customers/{customer_id}"
            )
        return row

    @staticmethod
    async def _address(s: AsyncSession, customer_id: str, address_id: str) -> AddressRow:
        row = await s.get(AddressRow, address_id)
        if row is None or row.customer_id != customer_id:
            name = address_name(customer_id, address_id)
            raise CustomerError(ADDRESS_NOT_FOUND, f"Address {name} does not exist.", name=name)
        return row

    @staticmethod
    async def _take_defaults(s: AsyncSession, row: AddressRow) -> None:
        """Clear the flags ``row`` holds from the customer's other addresses."""
        for flag in _FLAGS:
            if getattr(row, flag):
                await s.execute(
                    update(AddressRow)
                    .where(
                        AddressRow.customer_id == row.customer_id,
                        AddressRow.id != row.id,
                        getattr(AddressRow, flag).is_(True),
                    )
                    .values({flag: False})
                )

    async def create(
        self, principal: Principal, parent: str, address: customers_pb2.CustomerAddress
    ) -> customers_pb2.CustomerAddress:
        customer_id = resolve_customer(principal, parent, "parent")
        raise_violations(address_violations(_normalized(address.address), "address.address"))
        now = self._clock.now()
        async with self._db.transaction() as s:
            await self._customer(s, customer_id, lock=True)
            count = (
                await s.execute(
                    select(func.count()).select_from(AddressRow).where(AddressRow.customer_id == customer_id)
                )
            ).scalar_one()
            if count >= MAX_ADDRESSES:
                raise CustomerError(
                    TOO_MANY_ADDRESSES,
                    f"Customer customers/{customer_id} already has {count} addresses.",
                    limit=MAX_ADDRESSES,
                )
            first = count == 0
            row = AddressRow(
                id=new_id("addr", now), customer_id=customer_id, **_clean(address.address),
                is_default_shipping=address.is_default_shipping or first, is_default_billing=address.is_default_billing or first,
                created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(row)
            await s.flush()
            await self._take_defaults(s, row)
            message = address_to_proto(row)
            record_event(s, "customer_address.created", message.name, message, now)
        return message

    async def get(self, principal: Principal, name: str) -> customers_pb2.CustomerAddress:
        customer_id, address_id = resolve_address(principal, name)
        async with self._db.read() as s:
            return address_to_proto(await self._address(s, customer_id, address_id))

    async def list(self, principal: Principal, parent: str) -> customers_pb2.ListAddressesResponse:
        customer_id = resolve_customer(principal, parent, "parent")
        async with self._db.read() as s:
            await self._customer(s, customer_id)
            rows = (
                await s.execute(
                    select(AddressRow)
                    .where(AddressRow.customer_id == customer_id)
                    .order_by(AddressRow.created_at, AddressRow.id)
                )
            ).scalars()
            return customers_pb2.ListAddressesResponse(addresses=[address_to_proto(r) for r in rows])

    async def update(
        self, principal: Principal, address: customers_pb2.CustomerAddress, mask: FieldMask
    ) -> customers_pb2.CustomerAddress:
        customer_id, address_id = resolve_address(principal, address.name, "address.name")
        paths = resolve_mask(mask, address, _PATHS)
        now = self._clock.now()
        async with self._db.transaction() as s:
            await self._customer(s, customer_id, lock=True)
            row = await self._address(s, customer_id, address_id)
            values = {f: getattr(row, f) for f in ADDRESS_FIELDS}
            given = _clean(address.address)
            for path in paths:
                if path == "address":
                    values = dict(given)
                elif path.startswith("address."):
                    values[path.removeprefix("address.")] = given[path.removeprefix("address.")]
            raise_violations(address_violations(common_pb2.Address(**values), "address.address"))
            for field, value in values.items():
                setattr(row, field, value)
            for flag in _FLAGS:
                if flag in paths:
                    setattr(row, flag, getattr(address, flag))
            row.updated_at = now
            await s.flush()
            await self._take_defaults(s, row)
            message = address_to_proto(row)
            record_event(s, "customer_address.updated", message.name, message, now)
        return message

    async def delete(self, principal: Principal, name: str) -> None:
        """Delete an address; a default it held passes to the oldest remaining address."""
        customer_id, address_id = resolve_address(principal, name)
        now = self._clock.now()
        async with self._db.transaction() as s:
            await self._customer(s, customer_id, lock=True)
            row = await self._address(s, customer_id, address_id)
            message = address_to_proto(row)
            flags = [f for f in _FLAGS if getattr(row, f)]
            await s.delete(row)
            await s.flush()
            if flags:
                heir = (
                    await s.execute(
                        select(AddressRow)
                        .where(AddressRow.customer_id == customer_id)
                        .order_by(AddressRow.created_at, AddressRow.id)
                        .limit(1)
                    )
                ).scalar_one_or_none()
                if heir is not None:
                    for flag in flags:
                        setattr(heir, flag, True)
                    heir.updated_at = now
            record_event(s, "customer_address.deleted", message.name, message, now)


def _normalized(address: common_pb2.Address) -> common_pb2.Address:
    return common_pb2.Address(**_clean(address))
