"""``ApiClient``: call any RPC over gRPC or over the REST bridge with the same code.

The REST side builds the HTTP request from the method's primary ``google.api.http``
binding (path variables from the request, body per the rule, the rest as query
parameters), so a test written once exercises both transports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import grpc
import httpx
from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from rcommerce.api.methods import MethodInfo, method_table
from rcommerce.api.rest.routes import compile_route


@dataclass
class ApiError(Exception):
    """A failed call as a test sees it, the same on both transports."""

    status: str  # gRPC code name, "NOT_FOUND"
    reason: str  # ErrorInfo.reason
    message: str
    http_status: int | None = None
    metadata: dict[str, str] | None = None
    field_violations: list[str] | None = None
    request_id: str = ""

    def __str__(self) -> str:
        return f"{self.status} {self.reason}: {self.message}"


def _methods_by_name() -> dict[str, MethodInfo]:
    return {m.name: m for m in method_table().values()}


class ApiClient:
    """Base: ``await client.call("GetProduct", GetProductRequest(name=...))``."""

    transport = ""

    def __init__(self, token: str | None) -> None:
        self.token = token
        self._methods = _methods_by_name()

    def with_token(self, token: str | None) -> ApiClient:
        raise NotImplementedError

    async def call(self, method: str, request: Message) -> Any:
        raise NotImplementedError

    async def close(self) -> None:
        pass


class GrpcClient(ApiClient):
    transport = "grpc"

    def __init__(self, target: str, token: str | None, channel: grpc.aio.Channel | None = None) -> None:
        super().__init__(token)
        self.target = target
        self.channel = channel or grpc.aio.insecure_channel(target)
        self.last_metadata: dict[str, str] = {}

    def with_token(self, token: str | None) -> GrpcClient:
        return GrpcClient(self.target, token, self.channel)

    async def call(self, method: str, request: Message) -> Any:
        info = self._methods[method]
        stub = self.channel.unary_unary(
            info.full_name,
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=info.response_type.FromString,
        )
        metadata = [("authorization", f"Bearer {self.token}")] if self.token else []
        call = stub(request, metadata=metadata, timeout=30)
        try:
            response = await call
        except grpc.aio.AioRpcError as exc:
            trailers = {k: v for k, v in (exc.trailing_metadata() or ())}
            raise _grpc_error(exc, trailers) from None
        self.last_metadata = {k: v for k, v in (await call.initial_metadata() or ()) if isinstance(v, str)}
        return response

    async def close(self) -> None:
        await self.channel.close()


def _grpc_error(exc: grpc.aio.AioRpcError, trailers: dict[str, Any]) -> ApiError:
    raw = trailers.get("grpc-status-details-bin")
    reason, metadata, violations = "", {}, []
    if isinstance(raw, bytes):
        status = status_pb2.Status.FromString(raw)
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = [v.field for v in bad.field_violations]
    return ApiError(
        exc.code().name, reason, exc.details() or "", None, metadata, violations, str(trailers.get("x-request-id", ""))
    )


def _get_path(message: Message, path: str) -> str:
    value: Any = message
    for part in path.split("."):
        value = getattr(value, part)
    return str(value)


class RestClient(ApiClient):
    transport = "rest"

    def __init__(self, base_url: str, token: str | None, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(token)
        self.base_url = base_url
        self.http = http or httpx.AsyncClient(base_url=base_url, timeout=30)
        self.last_response: httpx.Response | None = None

    def with_token(self, token: str | None) -> RestClient:
        return RestClient(self.base_url, token, self.http)

    def build(self, method: str, request: Message) -> httpx.Request:
        info = self._methods[method]
        binding = info.bindings[0]
        route = compile_route(info, binding)
        data = json_format.MessageToDict(request)
        path = binding.template
        for var in route.variables:
            value = _get_path(request, var.field_path)
            start = path.index("{" + var.field_path)
            end = path.index("}", start)
            path = path[:start] + quote(value, safe="/") + path[end + 1 :]
            _drop(data, var.field_path, request)
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        params: list[tuple[str, str | int | float | bool | None]] = []
        body: Any = None
        if binding.body == "*":
            body = data
        elif binding.body:
            field = request.DESCRIPTOR.fields_by_name[binding.body]
            body = data.pop(field.json_name, {})
            params = _flatten(data)
        else:
            params = _flatten(data)
        return self.http.build_request(binding.verb, path, params=params, json=body, headers=headers)

    async def call(self, method: str, request: Message) -> Any:
        info = self._methods[method]
        response = await self.http.send(self.build(method, request))
        self.last_response = response
        if response.status_code >= 400:
            raise _rest_error(response)
        return json_format.Parse(response.content, info.response_type())

    async def close(self) -> None:
        await self.http.aclose()


def _drop(data: dict[str, Any], field_path: str, request: Message) -> None:
    node: Any = data
    desc = request.DESCRIPTOR
    parts = field_path.split(".")
    for part in parts[:-1]:
        field = desc.fields_by_name[part]
        node = node.get(field.json_name, {})
        desc = field.message_type
    node.pop(desc.fields_by_name[parts[-1]].json_name, None)


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, str | int | float | bool | None]]:
    out: list[tuple[str, str | int | float | bool | None]] = []
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flatten(value, f"{name}.")
        elif isinstance(value, list):
            out += [(name, _scalar(v)) for v in value]
        else:
            out.append((name, _scalar(value)))
    return out


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _rest_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
    except Exception:
        return ApiError("UNKNOWN", "", response.text, response.status_code)
    reason, metadata, violations = "", {}, []
    for detail in error.get("details", []):
        if detail.get("@type", "").endswith("google.rpc.ErrorInfo"):
            reason, metadata = detail.get("reason", ""), detail.get("metadata", {})
        elif detail.get("@type", "").endswith("google.rpc.BadRequest"):
            violations = [v["field"] for v in detail.get("fieldViolations", [])]
    return ApiError(
        error["status"],
        reason,
        error["message"],
        response.status_code,
        metadata,
        violations,
        response.headers.get("x-request-id", ""),
    )
