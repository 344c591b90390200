"""The OpenAPI 3.1 document of the REST bridge, generated from the route table.

Everything comes from the protos: paths and parameters from the ``google.api.http``
rules (the same :class:`RouteTable` the bridge serves), summaries and descriptions from
the proto comments (``rcommerce/gen/descriptors.binpb``), security from the
``(rcommerce.v1.auth)`` option, schemas from the message descriptors (proto3 JSON
mapping) and error responses from the reason catalogue. There is no per-endpoint code:
a new RPC with its annotations is documented as soon as it is generated.

Path templates: a variable ``{name=products/*/variants/*}`` is expanded into its literal
segments with one OpenAPI path parameter per ``*``, named after the collection before
it (``/v1/products/{product}/variants/{variant}``); the bridge sets the request field
``name`` to ``products/{product}/variants/{variant}``. ``x-rcommerce-field`` and
``x-rcommerce-pattern`` on the parameter record the field and the template.

Run ``python -m rcommerce.api.rest.openapi`` to rewrite the committed ``docs/openapi.json``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import pkgutil
import re
import sys
from collections.abc import Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

import rcommerce
import rcommerce.domain
from rcommerce import errors
from rcommerce.api.methods import AuthRule, MethodInfo, method_table
from rcommerce.api.rest.routes import Route, RouteTable
from rcommerce.codegen import comments

Schema = dict[str, Any]

ROOT = Path(__file__).resolve().parents[3]
DOCS_PATH = ROOT / "docs" / "openapi.json"
_SCHEMAS = "#/components/schemas/"
_JSON = "application/json"
_ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
_BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
_RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_EXAMPLE_TIME = "2026-01-01T12:00:00Z"
_VARIABLE = re.compile(r"\{([a-zA-Z0-9_.]+)(?:=([^}]*))?\}")
_QUOTED_EXAMPLE = re.compile(r'(?:for example|e\.g\.)\s+"([^"]+)"', re.IGNORECASE)
#: Reasons the bridge answers before any route is chosen; documented in the info text.
_ROUTING_REASONS = {"ROUTE_NOT_FOUND", "METHOD_NOT_ALLOWED"}

_F = FieldDescriptor
_INT64 = {_F.TYPE_INT64, _F.TYPE_SINT64, _F.TYPE_SFIXED64}
_UINT64 = {_F.TYPE_UINT64, _F.TYPE_FIXED64}
_INT32 = {_F.TYPE_INT32, _F.TYPE_SINT32, _F.TYPE_SFIXED32}
_UINT32 = {_F.TYPE_UINT32, _F.TYPE_FIXED32}

#: proto3 JSON of the well-known types (https://protobuf.dev/programming-guides/json/).
_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Timestamp": {
        "type": "string",
        "format": "date-time",
        "description": "RFC 3339 timestamp in UTC.",
    },
    "google.protobuf.Duration": {
        "type": "string",
        "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
        "description": 'Seconds with an "s" suffix, for example "3.5s".',
    },
    "google.protobuf.FieldMask": {
        "type": "string",
        "description": 'Comma-separated lowerCamelCase field paths, for example "title,seoTitle".',
    },
    "google.protobuf.Struct": {
        "type": "object",
        "additionalProperties": True,
        "description": "Any JSON object.",
    },
    "google.protobuf.Value": {"description": "Any JSON value."},
    "google.protobuf.ListValue": {"type": "array", "items": {}, "description": "Any JSON array."},
    "google.protobuf.Empty": {"type": "object", "properties": {}, "additionalProperties": False},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "google.protobuf.DoubleValue": {"type": ["number", "null"], "format": "double"},
    "google.protobuf.FloatValue": {"type": ["number", "null"], "format": "float"},
    "google.protobuf.Int64Value": {"type": ["string", "null"], "format": "int64"},
    "google.protobuf.UInt64Value": {"type": ["string", "null"], "format": "uint64"},
    "google.protobuf.Int32Value": {"type": ["integer", "null"], "format": "int32"},
    "google.protobuf.UInt32Value": {"type": ["integer", "null"], "format": "uint32", "minimum": 0},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.BytesValue": {"type": ["string", "null"], "contentEncoding": "base64"},
}
#: Message types that may be query parameters (their JSON form is a scalar).
_SCALAR_MESSAGES = {name for name, schema in _WELL_KNOWN.items() if schema.get("type") not in ("object", "array", None)}


# -- proto3 JSON schemas ---------------------------------------------------------------


def _ref(full_name: str) -> Schema:
    return {"$ref": _SCHEMAS + full_name}


def _scalar_schema(field: FieldDescriptor) -> Schema:
    t = field.type
    if t in _INT64:
        return {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
    if t in _UINT64:
        return {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"}
    if t in _INT32:
        return {"type": "integer", "format": "int32"}
    if t in _UINT32:
        return {"type": "integer", "format": "uint32", "minimum": 0}
    if t == _F.TYPE_DOUBLE:
        return {"type": "number", "format": "double"}
    if t == _F.TYPE_FLOAT:
        return {"type": "number", "format": "float"}
    if t == _F.TYPE_BOOL:
        return {"type": "boolean"}
    if t == _F.TYPE_BYTES:
        return {"type": "string", "format": "byte", "contentEncoding": "base64"}
    return {"type": "string"}


def _is_map(field: FieldDescriptor) -> bool:
    message = field.message_type
    return bool(field.is_repeated and message is not None and message.GetOptions().map_entry)


class _Schemas:
    """Collects a component schema for every message and enum it is asked about."""

    def __init__(self, docs: dict[str, str]) -> None:
        self.docs = docs
        self.components: dict[str, Schema] = {}

    def value(self, field: FieldDescriptor) -> Schema:
        """Schema of one (non-repeated) value of ``field``."""
        if field.message_type is not None:
            self.message(field.message_type)
            return _ref(field.message_type.full_name)
        if field.enum_type is not None:
            self.enum(field.enum_type)
            return _ref(field.enum_type.full_name)
        return _scalar_schema(field)

    def field(self, field: FieldDescriptor) -> Schema:
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            schema: Schema = {"type": "object", "additionalProperties": self.value(value_field)}
        elif field.is_repeated:
            schema = {"type": "array", "items": self.value(field)}
        else:
            schema = dict(self.value(field))
        doc = self.docs.get(field.full_name, "")
        if doc:
            schema["description"] = doc
        if doc.startswith("Output only"):
            schema["readOnly"] = True
        return schema

    def message(self, message: Descriptor) -> None:
        name = message.full_name
        if name in self.components:
            return
        if name in _WELL_KNOWN:
            self.components[name] = dict(_WELL_KNOWN[name])
            return
        schema: Schema = {"type": "object", "properties": {}}
        self.components[name] = schema  # before the fields: messages may be recursive
        doc = self.docs.get(name)
        if doc:
            schema["description"] = doc
        for field in message.fields:
            schema["properties"][field.json_name] = self.field(field)

    def enum(self, enum: EnumDescriptor) -> None:
        name = enum.full_name
        if name in self.components:
            return
        values = [v.name for v in enum.values]
        lines = [self.docs.get(name, "")]
        lines += [
            f"- `{v.name}`: {self.docs[f'{name}.{v.name}']}" for v in enum.values if f"{name}.{v.name}" in self.docs
        ]
        schema: Schema = {"type": "string", "enum": values}
        if any(lines):
            schema["description"] = "\n".join(line for line in lines if line)
        self.components[name] = schema


# -- examples ------------------------------------------------------------------------


def _example_value(field: FieldDescriptor, docs: dict[str, str], depth: int) -> Any:
    message = field.message_type
    if message is not None:
        scalar: dict[str, Any] = {
            "google.protobuf.Timestamp": _EXAMPLE_TIME,
            "google.protobuf.Duration": "3.5s",
            "google.protobuf.FieldMask": "title",
            "google.protobuf.Struct": {},
            "google.protobuf.Value": None,
            "google.protobuf.ListValue": [],
            "google.protobuf.Empty": {},
        }
        if message.full_name in scalar:
            return scalar[message.full_name]
        if message.full_name.startswith("google.protobuf.") and "value" in message.fields_by_name:
            return _example_value(message.fields_by_name["value"], docs, depth)
        return example_message(message, docs, depth + 1)
    if field.enum_type is not None:
        values = field.enum_type.values
        return (values[1] if len(values) > 1 else values[0]).name
    t = field.type
    if t in _INT64 or t in _UINT64:
        return "1000"
    if t in _INT32 or t in _UINT32:
        return 1
    if t in (_F.TYPE_DOUBLE, _F.TYPE_FLOAT):
        return 1.5
    if t == _F.TYPE_BOOL:
        return True
    if t == _F.TYPE_BYTES:
        return "AAEC"
    found = _QUOTED_EXAMPLE.search(docs.get(field.full_name, ""))
    return found.group(1) if found else "string"


def example_message(message: Descriptor, docs: dict[str, str], depth: int = 0) -> dict[str, Any]:
    """A generic proto3 JSON example of ``message``: every field once, quoted examples
    from the field comments ("for example \\"prod_...\\"") where there are any."""
    out: dict[str, Any] = {}
    if depth > 3:
        return out
    for field in message.fields:
        if _is_map(field):
            out[field.json_name] = {"key": _example_value(field.message_type.fields_by_name["value"], docs, depth)}
        elif field.is_repeated:
            if field.message_type is not None and field.message_type.full_name == message.full_name:
                out[field.json_name] = []
            else:
                out[field.json_name] = [_example_value(field, docs, depth)]
        elif field.message_type is None or field.message_type.full_name != message.full_name:
            out[field.json_name] = _example_value(field, docs, depth)
    return out


# -- paths and parameters ------------------------------------------------------------


def _singular(collection: str) -> str:
    if collection.endswith("ies"):
        return collection[:-3] + "y"
    if collection.endswith("s"):
        return collection[:-1]
    return collection + "Id"


def _lower_camel(field_path: str) -> str:
    def camel(name: str) -> str:
        head, *rest = name.split("_")
        return head + "".join(part.capitalize() for part in rest)

    return ".".join(camel(part) for part in field_path.split("."))


def _openapi_path(template: str) -> tuple[str, list[Schema]]:
    """``/v1/{name=products/*}:archive`` -> ``/v1/products/{product}:archive`` and its
    path parameters."""
    params: list[Schema] = []
    used: set[str] = set()

    def expand(found: re.Match[str]) -> str:
        field_path, pattern = found.group(1), found.group(2) or "*"
        segments = pattern.split("/")
        out = []
        for i, seg in enumerate(segments):
            if seg not in ("*", "**"):
                out.append(seg)
                continue
            before = segments[i - 1] if i and segments[i - 1] not in ("*", "**") else ""
            name = _singular(before) if before else _lower_camel(field_path).split(".")[-1]
            while name in used:
                name += "_"
            used.add(name)
            multi = seg == "**"
            description = (
                f"Sets the request field `{_lower_camel(field_path)}` to `{pattern}`"
                f" with this segment in place of `{seg}`."
            )
            if multi:
                description += " Matches the rest of the path, slashes percent-encoded."
            params.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": description,
                    "schema": {"type": "string", "pattern": "^.+$" if multi else "^[^/]+$"},
                    "x-rcommerce-field": _lower_camel(field_path),
                    "x-rcommerce-pattern": pattern,
                }
            )
            out.append("{" + name + "}")
        return "/".join(out)

    return _VARIABLE.sub(expand, template), params


def _query_leaves(
    message: Descriptor, prefix: str, skip: set[str], schemas: _Schemas, seen: tuple[str, ...]
) -> Iterable[tuple[str, FieldDescriptor]]:
    for field in message.fields:
        path = f"{prefix}{field.name}"
        if path in skip or _is_map(field):
            continue
        sub = field.message_type
        if sub is None or sub.full_name in _SCALAR_MESSAGES:
            yield path, field
        elif not field.is_repeated and sub.full_name not in seen:
            yield from _query_leaves(sub, f"{path}.", skip, schemas, (*seen, sub.full_name))


def _query_parameters(route: Route, schemas: _Schemas) -> list[Schema]:
    body = route.binding.body
    if body == "*":
        return []
    skip = {v.field_path for v in route.variables}
    if body:
        skip.add(body)
    request = route.method.request_type.DESCRIPTOR
    params: list[Schema] = []
    for path, field in _query_leaves(request, "", skip, schemas, (request.full_name,)):
        schema = schemas.field(field)
        description = schema.pop("description", "")
        schema.pop("readOnly", None)
        param: Schema = {
            "name": _lower_camel(path),
            "in": "query",
            "required": False,
            "schema": schema,
        }
        if field.message_type is not None and field.message_type.full_name == "google.protobuf.FieldMask":
            description = _mask_note(route, description)
        if field.is_repeated:
            param["style"], param["explode"] = "form", True
            description = (description + "\n\n" if description else "") + "Repeat the parameter for several values."
        if description:
            param["description"] = description
        if path != _lower_camel(path):
            param["x-rcommerce-field"] = path
        params.append(param)
    return params


def _mask_field(route: Route) -> FieldDescriptor | None:
    for field in route.method.request_type.DESCRIPTOR.fields:
        if field.message_type is not None and field.message_type.full_name == "google.protobuf.FieldMask":
            return field
    return None


def _mask_note(route: Route, description: str) -> str:
    if route.verb != "PATCH":
        return description
    note = (
        "When omitted, the server fills the mask from the top-level keys of the JSON body, "
        "so only the fields sent are changed."
    )
    return f"{description}\n\n{note}" if description else note


def _body_schema(route: Route, schemas: _Schemas) -> Schema:
    request = route.method.request_type.DESCRIPTOR
    body = route.binding.body
    if body != "*":
        field = request.fields_by_name[body]
        schema = schemas.field(field)
        schema.pop("readOnly", None)
        return schema
    top = {v.field_path.split(".")[0] for v in route.variables}
    properties = {f.json_name: schemas.field(f) for f in request.fields if f.name not in top}
    schema = {"type": "object", "properties": properties}
    doc = schemas.docs.get(request.full_name)
    if doc:
        schema["description"] = doc
    return schema


def _body_example(route: Route, docs: dict[str, str]) -> Any:
    request = route.method.request_type.DESCRIPTOR
    body = route.binding.body
    if body != "*":
        field = request.fields_by_name[body]
        return [_example_value(field, docs, 0)] if field.is_repeated else _example_value(field, docs, 0)
    top = {v.field_path.split(".")[0] for v in route.variables}
    full = example_message(request, docs)
    return {k: v for k, v in full.items() if k not in {request.fields_by_name[t].json_name for t in top}}


# -- security --------------------------------------------------------------------------

SECURITY_SCHEMES: dict[str, Schema] = {
    "secretKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "sk_...",
        "description": "Secret API key (`Authorization: Bearer sk_...`) for back-end services. "
        "Its scopes must include the operation's scope (`admin` > `write` > `read`).",
    },
    "publishableKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "pk_...",
        "description": "Publishable storefront key (`Authorization: Bearer pk_...`); storefront scopes only.",
    },
    "publishableKeyHeader": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Publishable-Api-Key",
        "description": "The publishable storefront key in its own header.",
    },
    "customerAccessToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A signed-in customer's short-lived access token; customers see only their own data.",
    },
}


def _security(auth: AuthRule) -> list[dict[str, list[str]]]:
    scopes = [auth.scope] if auth.scope else []
    out: list[dict[str, list[str]]] = [{"secretKey": scopes}]
    if auth.allow_publishable:
        out += [{"publishableKey": scopes}, {"publishableKeyHeader": scopes}]
    if auth.allow_customer:
        out.append({"customerAccessToken": []})
    if auth.allow_anonymous:
        out.append({})
    return out


def _auth_text(auth: AuthRule) -> str:
    kinds = ["secret key"]
    if auth.allow_publishable:
        kinds.append("publishable key")
    if auth.allow_customer:
        kinds.append("customer access token")
    if auth.allow_anonymous:
        kinds.append("no credentials")
    scope = f"**Required scope:** `{auth.scope}`." if auth.scope else "**Required scope:** none."
    return f"{scope} **Accepts:** {', '.join(kinds)}."


# -- errors ----------------------------------------------------------------------------


def _context_reasons() -> dict[str, list[errors.Reason]]:
    """Reasons declared by each bounded context (``rcommerce.domain.<ctx>.errors``),
    keyed by context name, which is also the stem of its proto file."""
    out: dict[str, list[errors.Reason]] = {}
    for info in sorted(pkgutil.iter_modules(rcommerce.domain.__path__), key=lambda i: i.name):
        name = f"rcommerce.domain.{info.name}.errors"
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        found = {v.name: v for v in vars(module).values() if isinstance(v, errors.Reason)}
        out[info.name] = [found[k] for k in sorted(found)]
    return out


def _core_applies(r: errors.Reason, route: Route) -> bool:
    """Whether a reason of ``rcommerce.errors`` can answer ``route``: decided from the
    request's shape and the auth rule, never per endpoint."""
    fields = route.method.request_type.DESCRIPTOR.fields_by_name
    body_fields = dict(fields)
    if route.binding.body not in ("", "*") and fields[route.binding.body].message_type is not None:
        body_fields.update(fields[route.binding.body].message_type.fields_by_name)
    auth = route.method.auth
    rules = {
        "BODY_NOT_ALLOWED": not route.binding.body,
        "UNSUPPORTED_MEDIA_TYPE": bool(route.binding.body),
        "REQUEST_TOO_LARGE": bool(route.binding.body),
        "INVALID_RESOURCE_NAME": bool(route.variables),
        "INVALID_PAGE_SIZE": "page_size" in fields,
        "INVALID_PAGE_TOKEN": "page_token" in fields,
        "INVALID_ORDER_BY": "order_by" in fields,
        "INVALID_FIELD_MASK": _mask_field(route) is not None,
        "ETAG_MISMATCH": "etag" in body_fields and (route.verb != "POST" or bool(route.variables)),
        "MISSING_CREDENTIALS": not auth.allow_anonymous,
        "INSUFFICIENT_PERMISSIONS": bool(auth.scope) or not auth.allow_anonymous,
    }
    return r.name not in _ROUTING_REASONS and rules.get(r.name, True)


def _snake_upper(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def _resource_words(route: Route) -> set[str]:
    """Resources a call may not find: those named by its path variables, by string
    fields of its request (resource-name references) and, for reads, its response."""
    request = route.method.request_type.DESCRIPTOR
    words = {f.name.upper() for f in request.fields if f.type == _F.TYPE_STRING and not f.is_repeated}
    for found in _VARIABLE.finditer(route.template):
        segments = (found.group(2) or "").split("/")
        words |= {_snake_upper(_singular(seg)) for seg in segments if seg and seg not in ("*", "**")}
    if route.verb == "GET":
        words.add(_snake_upper(route.method.response_type.DESCRIPTOR.name))
    return words


def _context_applies(r: errors.Reason, route: Route) -> bool:
    if r.code == grpc.StatusCode.NOT_FOUND:
        return r.name.removesuffix("_NOT_FOUND") in _resource_words(route)
    return route.verb != "GET"


def _reasons_for(route: Route, by_context: dict[str, list[errors.Reason]]) -> list[errors.Reason]:
    context = Path(route.method.descriptor.containing_service.file.name).stem
    own = [r for r in by_context.get(context, []) if _context_applies(r, route)]
    declared = {r.name for rs in by_context.values() for r in rs}
    core = [r for r in errors.catalogue() if r.name not in declared and _core_applies(r, route)]
    return sorted(own + core, key=lambda r: (r.http_status, r.name))


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Status {status}"


def _status_name(status: int) -> str:
    return _phrase(status).replace(" ", "").replace("-", "")


def _error_example(r: errors.Reason) -> dict[str, Any]:
    details: list[dict[str, Any]] = [{"@type": _ERROR_INFO, "reason": r.name, "domain": "rcommerce", "metadata": {}}]
    if r.code == grpc.StatusCode.INVALID_ARGUMENT and r.name != "MALFORMED_REQUEST":
        details.append(
            {
                "@type": _BAD_REQUEST,
                "fieldViolations": [{"field": "title", "description": r.description}],
            }
        )
    if r.http_status in (429, 503):
        details.append({"@type": _RETRY_INFO, "retryDelay": "1s"})
    error = {
        "code": r.http_status,
        "status": r.code.name,
        "message": r.description,
        "details": details,
    }
    return {"summary": r.name, "value": {"error": error}}


def _error_schemas(reasons: list[errors.Reason]) -> dict[str, Schema]:
    codes = sorted({c.name for c in grpc.StatusCode if c != grpc.StatusCode.OK})
    return {
        "Error": {
            "type": "object",
            "description": "The Google JSON error shape: HTTP status, gRPC code name, details.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "status", "message"],
                    "properties": {
                        "code": {"type": "integer", "description": "The HTTP status."},
                        "status": {
                            "type": "string",
                            "enum": codes,
                            "description": "The gRPC status code name.",
                        },
                        "message": {
                            "type": "string",
                            "description": "For developers; may change. Do not parse.",
                        },
                        "details": {
                            "type": "array",
                            "items": {
                                "oneOf": [
                                    {"$ref": _SCHEMAS + "google.rpc.ErrorInfo"},
                                    {"$ref": _SCHEMAS + "google.rpc.BadRequest"},
                                    {"$ref": _SCHEMAS + "google.rpc.RetryInfo"},
                                ]
                            },
                        },
                    },
                }
            },
        },
        "google.rpc.ErrorInfo": {
            "type": "object",
            "required": ["@type", "reason", "domain"],
            "properties": {
                "@type": {"const": _ERROR_INFO},
                "reason": {
                    "type": "string",
                    "enum": [r.name for r in reasons],
                    "description": "Stable UPPER_SNAKE reason; branch on this, not on the message.",
                },
                "domain": {"const": "rcommerce"},
                "metadata": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "The variables named in the message, lowerCamel keys.",
                },
            },
        },
        "google.rpc.BadRequest": {
            "type": "object",
            "required": ["@type", "fieldViolations"],
            "properties": {
                "@type": {"const": _BAD_REQUEST},
                "fieldViolations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["field", "description"],
                        "properties": {
                            "field": {
                                "type": "string",
                                "description": 'Path in the request, "product.variants[0].sku".',
                            },
                            "description": {"type": "string"},
                        },
                    },
                },
            },
        },
        "google.rpc.RetryInfo": {
            "type": "object",
            "required": ["@type", "retryDelay"],
            "properties": {
                "@type": {"const": _RETRY_INFO},
                "retryDelay": {"$ref": _SCHEMAS + "google.protobuf.Duration"},
            },
        },
    }


_RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def _headers(status: int, limited: bool = False) -> dict[str, Any]:
    headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
    if limited:  # RPCs are rate limited (docs/rate-limits.md); the server endpoints are not
        headers.update({h: {"$ref": f"#/components/headers/{h}"} for h in _RATE_LIMIT_HEADERS})
    if status in (429, 503):
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return headers


def _error_response(status: int, reasons: list[errors.Reason], limited: bool = False) -> Schema:
    listing = "\n".join(f"- `{r.name}`: {r.description}" for r in reasons)
    return {
        "description": f"{_phrase(status)}. Reasons:\n\n{listing}",
        "headers": _headers(status, limited),
        "content": {
            _JSON: {
                "schema": {"$ref": _SCHEMAS + "Error"},
                "examples": {r.name: {"$ref": f"#/components/examples/{r.name}"} for r in reasons},
            }
        },
        "x-rcommerce-reasons": [r.name for r in reasons],
    }


# -- the document ----------------------------------------------------------------------


def _operation_id(route: Route) -> str:
    service = route.method.service.rsplit(".", 1)[-1]
    base = f"{service}_{route.method.name}"
    index = route.method.bindings.index(route.binding)
    return base if index == 0 else f"{base}_{index + 1}"


def _operation(route: Route, schemas: _Schemas, by_context: dict[str, list[errors.Reason]]) -> Schema:
    method: MethodInfo = route.method
    docs = schemas.docs
    key = f"{method.service}.{method.name}"
    doc = docs.get(key, "") or method.description
    summary = doc.split("\n\n")[0].replace("\n", " ").split(". ")[0].rstrip(".") if doc else method.name
    path_params = _openapi_path(route.template)[1]
    description = "\n\n".join(p for p in (doc, _auth_text(method.auth)) if p)
    if route.method.bindings.index(route.binding) > 0:
        primary = method.bindings[0]
        description += f"\n\nAn additional binding of `{primary.verb} {primary.template}`."
    op: Schema = {
        "operationId": _operation_id(route),
        "summary": summary,
        "description": description,
        "tags": [method.service.rsplit(".", 1)[-1]],
        "parameters": path_params + _query_parameters(route, schemas),
        "security": _security(method.auth),
        "x-rcommerce-scope": method.auth.scope,
        "x-rcommerce-rpc": method.full_name,
        "x-rcommerce-template": route.template,
    }
    if route.binding.body:
        op["requestBody"] = {
            "required": True,
            "content": {
                _JSON: {
                    "schema": _body_schema(route, schemas),
                    "example": _body_example(route, docs),
                }
            },
        }
        if route.binding.body != "*":
            op["requestBody"]["description"] = f"The request field `{_lower_camel(route.binding.body)}`."
    mask = _mask_field(route)
    if route.verb == "PATCH" and mask is not None:
        op["x-rcommerce-update-mask"] = mask.json_name
        op["description"] += (
            f"\n\n**Partial update:** `{mask.json_name}` names the fields to change. When the"
            " client sends none, the server fills it from the top-level keys of the JSON body."
        )
    response = method.response_type.DESCRIPTOR
    schemas.message(response)
    response_schema = _ref(response.full_name)
    example: Any = example_message(response, docs)
    if route.binding.response_body:
        field = response.fields_by_name[route.binding.response_body]
        response_schema = schemas.field(field)
        example = example.get(field.json_name)
    media = "text/event-stream" if method.server_streaming else _JSON
    content: Schema = {"schema": response_schema, "example": example}
    if method.server_streaming:
        content = {"schema": {"type": "string"}, "x-rcommerce-event-schema": response_schema}
    op["responses"] = {
        "200": {"description": "OK.", "headers": _headers(200, limited=True), "content": {media: content}},
    }
    by_status: dict[int, list[errors.Reason]] = {}
    for r in _reasons_for(route, by_context):
        by_status.setdefault(r.http_status, []).append(r)
    for status in sorted(by_status):
        op["responses"][str(status)] = _error_response(status, by_status[status], limited=True)
    return op


def _plain_endpoints() -> dict[str, Schema]:
    def op(
        op_id: str,
        summary: str,
        description: str,
        content: Schema,
        extra: dict[str, Any] | None = None,
    ) -> Schema:
        responses: Schema = {"200": {"description": "OK.", "headers": _headers(200), "content": content}}
        responses.update(extra or {})
        return {
            "get": {
                "operationId": op_id,
                "summary": summary,
                "description": description,
                "tags": ["Server"],
                "security": [{}],
                "responses": responses,
            }
        }

    status = {
        _JSON: {
            "schema": {"type": "object", "properties": {"status": {"type": "string"}}},
            "example": {"status": "ok"},
        }
    }
    unavailable = {
        "503": {
            "description": "Not ready: a backing service is unreachable or the server drains.",
            "headers": _headers(503),
            "content": status,
        }
    }
    return {
        "/healthz": op("Server_Healthz", "Liveness", "Answers 200 while the process runs.", status),
        "/readyz": op(
            "Server_Readyz",
            "Readiness",
            "Answers 200 when the server can serve requests.",
            status,
            unavailable,
        ),
        "/metrics": op(
            "Server_Metrics",
            "Prometheus metrics",
            "Metrics in the Prometheus text exposition format.",
            {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
        ),
        "/openapi.json": op(
            "Server_OpenApi",
            "This document",
            "The OpenAPI 3.1 document of the REST API, generated from the protos.",
            {_JSON: {"schema": {"type": "object"}}},
        ),
    }


_INFO = """The rcommerce REST API: the gRPC services of `rcommerce.v1`, transcoded by their \
`google.api.http` annotations. It is generated from the protos; every operation is also an RPC.

- **JSON** is the canonical proto3 JSON mapping: lowerCamelCase field names out (both \
spellings accepted in), 64-bit integers as strings (money is integer minor units), enums by \
name, timestamps in RFC 3339, field masks as comma-separated strings.
- **Bodies**: for `body: "*"` routes every non-path field is in the JSON body; otherwise the \
body is the named field and the other fields are query parameters. Unknown query parameters \
are ignored; unknown JSON fields are errors.
- **Errors** are `{"error": {"code", "status", "message", "details"}}` with a \
`google.rpc.ErrorInfo` detail carrying a stable `reason`. A path no route matches answers \
404 `ROUTE_NOT_FOUND`; a known path with another HTTP method answers 405 `METHOD_NOT_ALLOWED`.
- **Pagination**: `pageSize` (default 20, at most 100) and `pageToken` from `nextPageToken`.
- Every response carries `X-Request-Id`; 429 and 503 answers carry `Retry-After`.
- **Rate limits** per caller: every API answer carries `RateLimit-Limit`, \
`RateLimit-Remaining` and `RateLimit-Reset`; over the limit the answer is 429 `RATE_LIMITED`.
"""


def build_openapi(routes: RouteTable, *, version: str, server_url: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes``: deterministic for the same protos,
    method table and reason catalogue."""
    docs = comments()
    schemas = _Schemas(docs)
    by_context = _context_reasons()
    paths: dict[str, dict[str, Any]] = {}
    services: set[str] = set()
    ordered = sorted(routes.routes, key=lambda r: (r.method.full_name, r.method.bindings.index(r.binding)))
    for route in ordered:
        path, _ = _openapi_path(route.template)
        paths.setdefault(path, {})[route.verb.lower()] = _operation(route, schemas, by_context)
        services.add(route.method.service)
    paths.update(_plain_endpoints())
    reasons = errors.catalogue()
    tags = [{"name": s.rsplit(".", 1)[-1], "description": docs.get(s, "")} for s in sorted(services)] + [
        {"name": "Server", "description": "Health, readiness, metrics and this document."}
    ]
    statuses = sorted({r.http_status for r in reasons})
    components: dict[str, Any] = {
        "schemas": {**_error_schemas(reasons), **dict(sorted(schemas.components.items()))},
        "responses": {
            _status_name(s): _error_response(s, [r for r in reasons if r.http_status == s]) for s in statuses
        },
        "examples": {r.name: _error_example(r) for r in reasons},
        "headers": {
            "X-Request-Id": {
                "description": "The request id (the client's own when sent); it is in the logs.",
                "schema": {"type": "string"},
            },
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer"},
            },
            "RateLimit-Limit": {
                "description": "Calls the caller may make at once (the burst of its rate limit).",
                "schema": {"type": "integer"},
            },
            "RateLimit-Remaining": {
                "description": "Calls that would pass right now.",
                "schema": {"type": "integer"},
            },
            "RateLimit-Reset": {
                "description": "Seconds until the caller's allowance is full again.",
                "schema": {"type": "integer"},
            },
        },
        "securitySchemes": SECURITY_SCHEMES,
    }
    if "google.protobuf.Duration" not in components["schemas"]:
        components["schemas"]["google.protobuf.Duration"] = dict(_WELL_KNOWN["google.protobuf.Duration"])
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "rcommerce API",
            "version": version,
            "description": _INFO,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "tags": tags,
        "paths": dict(sorted(paths.items())),
        "components": components,
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def render(document: dict[str, Any]) -> str:
    """The committed form: insertion order (deterministic), two-space indent."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def default_document() -> dict[str, Any]:
    """The document of every service the server exposes, as committed in docs/."""
    return build_openapi(RouteTable(method_table()), version=rcommerce.__version__)


def write_openapi(path: Path = DOCS_PATH) -> None:
    """Write :func:`default_document` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(default_document()), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m rcommerce.api.rest.openapi", description="Write docs/openapi.json."
    )
    parser.add_argument("path", nargs="?", type=Path, default=DOCS_PATH)
    args = parser.parse_args(argv)
    write_openapi(args.path)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
