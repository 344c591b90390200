"""Postal addresses between the API (``common_pb2.Address``), the database (a JSON object
of the proto's snake_case fields) and the providers (``rcommerce.plugins.providers.Address``)."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format

from rcommerce.gen.v1 import common_pb2
from rcommerce.plugins.providers import Address

__all__ = ["address_from_db", "address_to_db", "provider_address"]


def address_to_db(address: common_pb2.Address) -> dict[str, Any] | None:
    """The stored form; None for an empty address."""
    data = json_format.MessageToDict(address, preserving_proto_field_name=True)
    return data or None


def address_from_db(data: dict[str, Any] | None) -> common_pb2.Address | None:
    return None if not data else json_format.ParseDict(data, common_pb2.Address())


def provider_address(data: dict[str, Any] | None) -> Address | None:
    """The provider-facing form of a stored address (None without a country), as tax
    providers, carriers and fraud checks take it."""
    address = address_from_db(data)
    if address is None or not address.country_code:
        return None
    return Address(
        country=address.country_code, postal_code=address.postal_code, region=address.province, city=address.city,
        lines=tuple(line for line in (address.address1, address.address2) if line),
    )  # fmt: skip
