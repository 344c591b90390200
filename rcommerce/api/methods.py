"""The method table: every rcommerce RPC with its types, HTTP rules and auth rule,
read once from the generated descriptors. Both transports and the OpenAPI document are
built from it."""

from __future__ import annotations

from dataclasses import dataclass

from google.api import annotations_pb2, http_pb2
from google.protobuf import symbol_database
from google.protobuf.descriptor import FileDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from rcommerce.gen.v1 import (
    admin_pb2,
    carts_pb2,
    catalog_pb2,
    checkout_pb2,
    customers_pb2,
    events_pb2,
    fulfillment_pb2,
    inventory_pb2,
    notifications_pb2,
    orders_pb2,
    payments_pb2,
    promotions_pb2,
    regions_pb2,
    shipping_pb2,
    tax_pb2,
    webhooks_pb2,
)
from rcommerce.gen.v1 import annotations_pb2 as rc_annotations

#: Generated modules whose services the server exposes. Contexts add theirs here.
SERVICE_FILES: tuple[FileDescriptor, ...] = (
    admin_pb2.DESCRIPTOR,
    catalog_pb2.DESCRIPTOR,
    events_pb2.DESCRIPTOR,
    webhooks_pb2.DESCRIPTOR,
    notifications_pb2.DESCRIPTOR,
    promotions_pb2.DESCRIPTOR,
    carts_pb2.DESCRIPTOR,
    regions_pb2.DESCRIPTOR,
    shipping_pb2.DESCRIPTOR,
    tax_pb2.DESCRIPTOR,
    inventory_pb2.DESCRIPTOR,
    customers_pb2.DESCRIPTOR,
    payments_pb2.DESCRIPTOR,
    checkout_pb2.DESCRIPTOR,
    fulfillment_pb2.DESCRIPTOR,
    orders_pb2.DESCRIPTOR,
)


@dataclass(frozen=True, slots=True)
class AuthRule:
    """Parsed ``(rcommerce.v1.auth)`` option."""

    scope: str
    allow_publishable: bool
    allow_customer: bool
    allow_anonymous: bool


@dataclass(frozen=True, slots=True)
class HttpBinding:
    """One ``google.api.http`` rule (the primary one or an additional binding)."""

    verb: str  # "GET", "POST", "PATCH", "PUT", "DELETE"
    template: str
    body: str  # "", "*" or a field name
    response_body: str


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """An RPC: "/rcommerce.v1.CatalogService/GetProduct" and what we know of it."""

    full_name: str
    service: str
    name: str
    descriptor: MethodDescriptor
    request_type: type[Message]
    response_type: type[Message]
    server_streaming: bool
    auth: AuthRule
    bindings: tuple[HttpBinding, ...]
    description: str


def _bindings(rule: http_pb2.HttpRule) -> list[HttpBinding]:
    pattern = rule.WhichOneof("pattern")
    out: list[HttpBinding] = []
    if pattern == "custom":
        out.append(HttpBinding(rule.custom.kind.upper(), rule.custom.path, rule.body, rule.response_body))
    elif pattern:
        out.append(HttpBinding(pattern.upper(), getattr(rule, pattern), rule.body, rule.response_body))
    for extra in rule.additional_bindings:
        out.extend(_bindings(extra))
    return out


def _comment(method: MethodDescriptor) -> str:
    # Source info is not kept in generated descriptors; the docs come from the proto.
    return ""


def method_table(files: tuple[FileDescriptor, ...] = SERVICE_FILES) -> dict[str, MethodInfo]:
    """Every RPC of ``files`` keyed by full method name. Raises when an RPC lacks the
    auth option or an HTTP rule: both are required by the house rules."""
    db = symbol_database.Default()
    table: dict[str, MethodInfo] = {}
    for file in files:
        for service in file.services_by_name.values():
            for method in service.methods:
                table[f"/{service.full_name}/{method.name}"] = _method_info(db, service, method)
    return table


def _method_info(
    db: symbol_database.SymbolDatabase, service: ServiceDescriptor, method: MethodDescriptor
) -> MethodInfo:
    options = method.GetOptions()
    if not options.HasExtension(rc_annotations.auth):
        raise ValueError(f"{service.full_name}.{method.name} has no (rcommerce.v1.auth) option")
    if not options.HasExtension(annotations_pb2.http):
        raise ValueError(f"{service.full_name}.{method.name} has no (google.api.http) option")
    auth = options.Extensions[rc_annotations.auth]
    return MethodInfo(
        full_name=f"/{service.full_name}/{method.name}",
        service=service.full_name,
        name=method.name,
        descriptor=method,
        request_type=db.GetSymbol(method.input_type.full_name),
        response_type=db.GetSymbol(method.output_type.full_name),
        server_streaming=method.server_streaming,
        auth=AuthRule(auth.scope, auth.allow_publishable, auth.allow_customer, auth.allow_anonymous),
        bindings=tuple(_bindings(options.Extensions[annotations_pb2.http])),
        description=_comment(method),
    )
