"""HTTP request -> request message, following google/api/http.proto:

* path variables set their (possibly nested) fields;
* ``body: "*"`` maps the JSON body onto the whole request and no query is read;
* ``body: "field"`` maps the body onto that field and the query onto the rest;
* no body: every non-path field may come from the query (leaf paths ``a.b``; repeated
  scalars by repeating the parameter). Unknown query parameters are ignored, as
  grpc-gateway does; unknown JSON fields and enum names are errors, so a typo never
  silently drops data.
* PATCH with an ``update_mask`` and no mask from the client gets one from the body's
  top-level keys (grpc-gateway's patch feature).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from rcommerce.api.rest.routes import Route
from rcommerce.errors import MALFORMED_REQUEST, FieldViolation, RequestError

_SCALAR_QUERY_MESSAGES = {
    "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask",
    "google.protobuf.StringValue", "google.protobuf.Int64Value", "google.protobuf.Int32Value",
    "google.protobuf.BoolValue", "google.protobuf.DoubleValue", "google.protobuf.FloatValue",
    "google.protobuf.UInt32Value", "google.protobuf.UInt64Value", "google.protobuf.BytesValue",
}  # fmt: skip
_FLOATS = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}


#: An enum given by its number. Not ``str.isdigit``: it takes "²", which ``int`` refuses.
_ENUM_NUMBER = re.compile(r"-?[0-9]{1,10}")


def _malformed(message: str, field: str = "") -> RequestError:
    if not field:
        return RequestError(MALFORMED_REQUEST, message)
    return RequestError(MALFORMED_REQUEST, message, violations=[FieldViolation(field, message)], field=field)


def _field(descriptor: Descriptor, name: str) -> FieldDescriptor | None:
    return descriptor.fields_by_name.get(name) or descriptor.fields_by_camelcase_name.get(name)


def _set_path(tree: dict[str, Any], descriptor: Descriptor, path: list[str], value: Any, *, append: bool) -> bool:
    """Place ``value`` at ``path`` (proto or JSON names) in a proto3-JSON dict. Returns
    False when the path names no field (the parameter is then ignored)."""
    node, desc = tree, descriptor
    for i, part in enumerate(path):
        field = _field(desc, part)
        if field is None:
            return False
        key = field.json_name
        last = i == len(path) - 1
        if not last:
            if field.type != FieldDescriptor.TYPE_MESSAGE or field.is_repeated:
                return False
            node = node.setdefault(key, {})
            desc = field.message_type
            continue
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name not in _SCALAR_QUERY_MESSAGES:
            return False
        converted = _convert(field, value, ".".join(path))
        if field.is_repeated:
            node.setdefault(key, []).append(converted)
        else:
            if append and key in node:
                raise _malformed(f"The parameter {'.'.join(path)} was given more than once.", ".".join(path))
            node[key] = converted
    return True


def _convert(field: FieldDescriptor, raw: str, name: str) -> Any:
    if field.type == FieldDescriptor.TYPE_BOOL:
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise _malformed(f"{name} must be true or false, not {raw!r}.", name)
    if field.type in _FLOATS:
        try:
            return float(raw)
        except ValueError:
            raise _malformed(f"{name} must be a number, not {raw!r}.", name) from None
    if field.type == FieldDescriptor.TYPE_ENUM and _ENUM_NUMBER.fullmatch(raw):
        return int(raw)
    if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.full_name == "google.protobuf.FieldMask":
        # The JSON form of a mask is lowerCamel; accept the proto spelling too.
        return ",".join(_camel(p.strip()) for p in raw.split(",") if p.strip())
    return raw


def _camel(path: str) -> str:
    return ".".join(p.split("_")[0] + "".join(w[:1].upper() + w[1:] for w in p.split("_")[1:]) for p in path.split("."))


def build_request(
    route: Route,
    path_values: dict[str, str],
    query_string: bytes,
    body: bytes,
) -> Message:
    """The request message for ``route``; raises MALFORMED_REQUEST on bad input."""
    method = route.method
    descriptor = method.request_type.DESCRIPTOR
    body_rule = route.binding.body
    tree: dict[str, Any] = {}
    body_keys: list[str] = []
    if body_rule:
        try:
            parsed = json.loads(body) if body.strip() else {}
        except (ValueError, UnicodeDecodeError) as exc:
            raise _malformed(f"The body is not valid JSON: {exc}.") from None
        if body_rule == "*":
            if not isinstance(parsed, dict):
                raise _malformed("The body must be a JSON object.")
            tree = parsed
            body_keys = list(parsed)
        else:
            field = _field(descriptor, body_rule)
            assert field is not None, f"{method.full_name}: body field {body_rule} does not exist"
            if field.type == FieldDescriptor.TYPE_MESSAGE and not isinstance(parsed, dict) and not field.is_repeated:
                raise _malformed(f"The body must be a JSON object ({field.message_type.name}).")
            tree[field.json_name] = parsed
            body_keys = list(parsed) if isinstance(parsed, dict) else []
    query_fields: set[str] = set()
    if body_rule != "*" and query_string:
        for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
            path = key.split(".")
            if body_rule and _field(descriptor, path[0]) is _field(descriptor, body_rule):
                continue
            if any(bound.split(".")[0] == path[0] for bound in path_values):
                continue
            if _set_path(tree, descriptor, path, value, append=True):
                query_fields.add(path[0])
    for field_path, value in path_values.items():
        _set_path(tree, descriptor, field_path.split("."), value, append=False)
    if route.verb == "PATCH" and body_rule not in ("", "*"):
        mask = _field(descriptor, "update_mask")
        if mask is not None and not ({"update_mask", "updateMask"} & query_fields):
            body_desc = _field(descriptor, body_rule)
            assert body_desc is not None
            names = []
            for key in body_keys:
                sub = _field(body_desc.message_type, key) if body_desc.message_type else None
                if sub is not None:
                    names.append(sub.json_name)
            tree["updateMask"] = ",".join(names)
    request = method.request_type()
    try:
        json_format.ParseDict(tree, request, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise _malformed(f"The request could not be read: {exc}") from None
    return request
