"""The REST bridge as a plain ASGI application.

No framework on the hot path (DESIGN 4): the app matches a route from the table built
from the descriptors, transcodes the request, runs the shared pipeline and calls the
servicer method in process. Responses of GET routes are rendered to JSON once per
distinct message (an LRU keyed by the serialized bytes), so hot cached reads skip the
pure-Python JSON mapping.

Server-streaming RPCs (DECISIONS 24) answer ``text/event-stream``: one Server-Sent Event
per message (``id:`` its cursor, ``event:`` its type, ``data:`` its proto3 JSON), a
``: keep-alive`` comment when nothing was sent for ``sse_keepalive_s``, and the stream
ends when the client disconnects. Failures before the stream opened get the normal JSON
error answer; later ones end the stream with an ``event: error`` carrying the same JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.message import Message
from google.rpc import status_pb2

from rcommerce.api.call import Call
from rcommerce.api.methods import MethodInfo
from rcommerce.api.pipeline import Handler, Pipeline, StreamHandler
from rcommerce.api.rest.routes import RouteTable
from rcommerce.api.rest.transcode import build_request
from rcommerce.api.status import ApiError, from_domain_error
from rcommerce.errors import (
    BODY_NOT_ALLOWED,
    METHOD_NOT_ALLOWED,
    REQUEST_TOO_LARGE,
    ROUTE_NOT_FOUND,
    UNSUPPORTED_MEDIA_TYPE,
    DomainError,
    RequestError,
)

log = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Endpoint = Callable[[], Awaitable[tuple[int, bytes, str]]]
#: A raw POST endpoint under a path prefix: called with the rest of the path (one
#: segment), the lower-cased headers and the body exactly as received; answers
#: (status, JSON body). For inbound webhooks whose signatures cover the raw bytes.
RawEndpoint = Callable[[str, Mapping[str, str], bytes], Awaitable[tuple[int, bytes]]]

_SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"strict-origin-when-cross-origin")]
_JSON = "application/json"
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


async def _next(iterator: AsyncIterator[Message]) -> Message:
    return await iterator.__anext__()


@dataclass(slots=True)
class _OpenStream:
    """A server stream whose handler accepted the request: the iterator and the task
    fetching its first message."""

    iterator: AsyncIterator[Message]
    first: asyncio.Task[Message]
    #: Response headers the pipeline set when it admitted the call (rate limits).
    headers: dict[str, str]


class _RenderCache:
    """LRU of rendered JSON by (message type, serialized bytes), bounded in bytes."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024) -> None:
        self._entries: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()
        self._size = 0
        self._max = max_bytes

    def get(self, key: tuple[str, bytes]) -> bytes | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: tuple[str, bytes], value: bytes) -> None:
        cost = len(key[1]) + len(value)
        if cost > self._max // 8:
            return
        self._entries[key] = value
        self._size += cost
        while self._size > self._max:
            (_, raw), old = self._entries.popitem(last=False)
            self._size -= len(raw) + len(old)


def error_body(error: ApiError) -> bytes:
    """The Google JSON error shape (DECISIONS 2)."""
    status: status_pb2.Status = error.status
    details = [json_format.MessageToDict(d) for d in status.details]
    payload = {
        "error": {
            "code": error.http_status,
            "status": error.grpc_code.name,
            "message": status.message,
            "details": details,
        }
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class RestBridge:
    """ASGI app serving every RPC's HTTP bindings plus the operational endpoints."""

    def __init__(
        self,
        pipeline: Pipeline,
        methods: dict[str, MethodInfo],
        handlers: Mapping[str, Handler],
        *,
        max_body_bytes: int,
        emit_unpopulated: bool = True,
        extra_endpoints: Mapping[str, Endpoint] | None = None,
        raw_posts: Mapping[str, RawEndpoint] | None = None,
        cors_origins: list[str] | None = None,
        sse_keepalive_s: float = 15.0,
    ) -> None:
        self.routes = RouteTable({k: m for k, m in methods.items() if k in handlers})
        self._pipeline = pipeline
        self._handlers = dict(handlers)
        self._max_body = max_body_bytes
        self._emit = emit_unpopulated
        self._extra = dict(extra_endpoints or {})
        self._raw_posts = dict(raw_posts or {})
        self._cors = set(cors_origins or [])
        self._render_cache = _RenderCache()
        self.sse_keepalive_s = sse_keepalive_s
        self.draining = False

    # -- ASGI --------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        verb: str = scope["method"]
        path: str = scope["path"]
        request_id = self._pipeline.request_id(headers)
        extra_headers: list[tuple[bytes, bytes]] = [(b"x-request-id", request_id.encode())]
        extra_headers += self._cors_headers(headers)
        if verb == "OPTIONS" and self._cors:
            await self._respond(send, 204, b"", extra_headers, content_type=None)
            return
        endpoint = self._extra.get(path)
        if endpoint is not None and verb in ("GET", "HEAD"):
            status, body, content_type = await endpoint()
            await self._respond(send, status, body, extra_headers, content_type=content_type)
            return
        try:
            result = await self._dispatch(scope, receive, headers, verb, path, request_id, extra_headers)
            if isinstance(result, _OpenStream):
                extra_headers += [(k.encode(), v.encode()) for k, v in result.headers.items()]
                await self._stream(send, receive, result, extra_headers)
                return
            status, body = result
        except ApiError as error:
            extra_headers += [(k.encode(), v.encode()) for k, v in error.headers.items()]
            status, body = error.http_status, error_body(error)
        except DomainError as exc:
            mapped = from_domain_error(exc, request_id)
            status, body = mapped.http_status, error_body(mapped)
        await self._respond(send, status, body, extra_headers)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _cors_headers(self, headers: Mapping[str, str]) -> list[tuple[bytes, bytes]]:
        origin = headers.get("origin")
        if not origin or not (origin in self._cors or "*" in self._cors):
            return []
        return [
            (b"access-control-allow-origin", origin.encode()),
            (b"vary", b"Origin"),
            (b"access-control-allow-methods", b"GET, POST, PATCH, PUT, DELETE, OPTIONS"),
            (b"access-control-allow-headers", b"Authorization, Content-Type, X-Request-Id, X-Publishable-Api-Key"),
            (
                b"access-control-expose-headers",
                b"X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset",
            ),
            (b"access-control-max-age", b"3600"),
        ]

    async def _read_body(self, scope: Scope, receive: Receive, headers: Mapping[str, str]) -> bytes:
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            raise RequestError(
                REQUEST_TOO_LARGE,
                f"The body has {declared} bytes; the limit is {self._max_body}.",
                limitBytes=self._max_body,
            )
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise RequestError(
                    REQUEST_TOO_LARGE,
                    f"The body exceeds the limit of {self._max_body} bytes.",
                    limitBytes=self._max_body,
                )
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    async def _dispatch(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        verb: str,
        path: str,
        request_id: str,
        extra_headers: list[tuple[bytes, bytes]],
    ) -> tuple[int, bytes] | _OpenStream:
        if verb == "POST":
            for prefix, raw in self._raw_posts.items():
                rest = path[len(prefix) :] if path.startswith(prefix) else ""
                if rest and "/" not in rest:
                    return await raw(rest, headers, await self._read_body(scope, receive, headers))
        matched = self.routes.match("GET" if verb == "HEAD" else verb, path)
        if matched is None:
            allowed = self.routes.allowed_verbs(path)
            if allowed:
                extra_headers.append((b"allow", ", ".join(allowed).encode()))
                raise RequestError(
                    METHOD_NOT_ALLOWED,
                    f"{verb} is not allowed on {path}; use {', '.join(allowed)}.",
                    allowed=",".join(allowed),
                )
            raise RequestError(ROUTE_NOT_FOUND, f"No route matches {verb} {path}.", path=path)
        route, path_values = matched
        body = await self._read_body(scope, receive, headers)
        if body and not route.binding.body:
            raise RequestError(BODY_NOT_ALLOWED, f"{verb} {route.template} takes no request body.", method=verb)
        if body and headers.get("content-type", _JSON).split(";", 1)[0].strip().lower() != _JSON:
            raise RequestError(
                UNSUPPORTED_MEDIA_TYPE,
                "Send the body as application/json.",
                contentType=headers.get("content-type", ""),
            )
        method = route.method
        handler = self._handlers[method.full_name]
        client = scope.get("client")
        peer = client[0] if client else ""  # the pipeline applies X-Forwarded-For from trusted proxies
        try:
            request = build_request(route, path_values, scope.get("query_string", b""), body)
        except DomainError as exc:
            raise from_domain_error(exc, request_id) from exc
        if method.server_streaming:
            return await self._open_stream(method, cast(StreamHandler, handler), request, headers, peer, request_id)
        response, call = await self._pipeline.unary(
            method, request, handler, transport="rest", headers=headers, peer=peer, request_id=request_id
        )
        extra_headers += [(k.encode(), v.encode()) for k, v in call.response_headers.items()]
        return 200, self._render(response, cache=route.verb == "GET")

    # -- Server-Sent Events -------------------------------------------------------------
    async def _open_stream(
        self,
        method: MethodInfo,
        handler: StreamHandler,
        request: Message,
        headers: dict[str, str],
        peer: str,
        request_id: str,
    ) -> _OpenStream:
        """Start the stream and wait until its handler accepted the request (it calls
        ``call.stream_open()``), sent a first message or failed. A failure here raises,
        so the client gets the JSON error answer."""
        last_event_id = headers.get("last-event-id", "").strip()
        if last_event_id and "cursor" in request.DESCRIPTOR.fields_by_name and not request.cursor:
            request.cursor = last_event_id  # the SSE reconnect convention
        opened = asyncio.Event()
        calls: list[Call] = []

        async def accepted(req: Any, call: Call) -> AsyncIterator[Message]:
            call.on_stream_open = opened.set
            calls.append(call)
            async for item in handler(req, call):
                yield item

        iterator = self._pipeline.stream(
            method, request, accepted, transport="rest", headers=headers, peer=peer, request_id=request_id
        )
        first = asyncio.create_task(_next(iterator))
        waiter = asyncio.create_task(opened.wait())
        try:
            await asyncio.wait({first, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            first.cancel()
            raise
        finally:
            waiter.cancel()
        if first.done() and not isinstance(first.exception(), StopAsyncIteration | None):
            raise cast(BaseException, first.exception())
        return _OpenStream(iterator, first, dict(calls[0].response_headers) if calls else {})

    async def _stream(
        self, send: Send, receive: Receive, stream: _OpenStream, headers: list[tuple[bytes, bytes]]
    ) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [*headers, *_SECURITY_HEADERS, *_SSE_HEADERS]}
        )
        disconnect = asyncio.create_task(self._disconnected(receive))
        pending = stream.first
        gone = False
        try:
            while True:
                done, _ = await asyncio.wait(
                    {pending, disconnect}, timeout=self.sse_keepalive_s, return_when=asyncio.FIRST_COMPLETED
                )
                if disconnect in done:
                    gone = True
                    break
                if not done:
                    await send({"type": "http.response.body", "body": b": keep-alive\n\n", "more_body": True})
                    continue
                try:
                    item = pending.result()
                except StopAsyncIteration:
                    break
                except ApiError as error:
                    chunk = b"event: error\ndata: " + error_body(error) + b"\n\n"
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    break
                await send({"type": "http.response.body", "body": self._sse_event(item), "more_body": True})
                pending = asyncio.create_task(_next(stream.iterator))
        finally:
            # Stop the handler (a CancelledError inside it ends it) and wait for it, so
            # nothing outlives the request; our own cancellation still propagates.
            pending.cancel()
            disconnect.cancel()
            await asyncio.wait({pending, disconnect})
            aclose = getattr(stream.iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if not gone:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    async def _disconnected(receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    def _sse_event(self, message: Message) -> bytes:
        fields = message.DESCRIPTOR.fields_by_name
        head = b""
        if "cursor" in fields:
            head += f"id: {message.cursor}\n".encode()
        if "type" in fields:
            head += f"event: {message.type}\n".encode()
        return head + b"data: " + self._to_json(message) + b"\n\n"

    def _render(self, message: Message, *, cache: bool) -> bytes:
        if not cache:
            return self._to_json(message)
        key = (message.DESCRIPTOR.full_name, message.SerializeToString(deterministic=True))
        rendered = self._render_cache.get(key)
        if rendered is None:
            rendered = self._to_json(message)
            self._render_cache.put(key, rendered)
        return rendered

    def _to_json(self, message: Message) -> bytes:
        data = json_format.MessageToDict(message, always_print_fields_with_no_presence=self._emit)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    async def _respond(
        self,
        send: Send,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]],
        *,
        content_type: str | None = _JSON,
    ) -> None:
        raw = [*headers, *_SECURITY_HEADERS, (b"content-length", str(len(body)).encode())]
        if content_type:
            raw.append((b"content-type", content_type.encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})
