"""Rows to protos. No I/O and no rules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from google.protobuf import json_format, struct_pb2

from rcommerce.domain.customers.models import AddressRow, CustomerGroupRow, CustomerRow
from rcommerce.gen.v1 import common_pb2, customers_pb2
from rcommerce.timestamps import to_timestamp


def customer_name(customer_id: str) -> str:
    return f"customers/{customer_id}"


def address_name(customer_id: str, address_id: str) -> str:
    return f"customers/{customer_id}/addresses/{address_id}"


def group_name(group_id: str) -> str:
    return f"customerGroups/{group_id}"


def struct_to_db(value: struct_pb2.Struct) -> dict[str, Any]:
    result: dict[str, Any] = json_format.MessageToDict(value)
    return result


def _struct(value: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(value)
    return message


def customer_to_proto(row: CustomerRow, group_ids: Iterable[str]) -> customers_pb2.Customer:
    return customers_pb2.Customer(
        name=customer_name(row.id),
        id=row.id,
        email=row.email,
        first_name=row.first_name,
        last_name=row.last_name,
        phone=row.phone,
        accepts_marketing=row.accepts_marketing,
        tax_exempt=row.tax_exempt,
        vat_id=row.vat_id,
        currency_code=row.currency_code,
        is_guest=row.is_guest,
        orders_count=row.orders_count,
        customer_groups=sorted(group_name(g) for g in group_ids),
        metadata=_struct(row.extra),
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
        last_sign_in_time=to_timestamp(row.last_sign_in_at),
        etag=str(row.revision),
    )


ADDRESS_FIELDS = (
    "first_name", "last_name", "company", "address1", "address2", "city", "province", "postal_code", "country_code", "phone",
)  # fmt: skip


def address_to_proto(row: AddressRow) -> customers_pb2.CustomerAddress:
    return customers_pb2.CustomerAddress(
        name=address_name(row.customer_id, row.id),
        id=row.id,
        address=common_pb2.Address(**{f: getattr(row, f) for f in ADDRESS_FIELDS}),
        is_default_shipping=row.is_default_shipping,
        is_default_billing=row.is_default_billing,
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
    )


def group_to_proto(row: CustomerGroupRow, customer_count: int) -> customers_pb2.CustomerGroup:
    return customers_pb2.CustomerGroup(
        name=group_name(row.id),
        id=row.id,
        display_name=row.name,
        description=row.description,
        metadata=_struct(row.extra),
        customer_count=customer_count,
        create_time=to_timestamp(row.created_at),
        update_time=to_timestamp(row.updated_at),
    )
