"""Reading a server-streaming RPC over gRPC the way the stream tests do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
from google.protobuf.message import Message

from rcommerce.testing.client import _grpc_error
from rcommerce.testing.server import LiveServer

M = TypeVar("M", bound=Message)


async def grpc_stream(
    server: LiveServer,
    token: str,
    method: str,
    request: Message,
    response_type: type[M],
    stop: Callable[[list[M]], Awaitable[bool]],
    timeout_s: float,
) -> list[M]:
    """The messages of ``method`` ("/rcommerce.v1.EventService/WatchEvents") until
    ``stop`` (called with all received so far) says so or the server ends the stream; a
    failure raises the transport-neutral ApiError."""
    async with grpc.aio.insecure_channel(server.grpc_target) as channel:
        stub = channel.unary_stream(
            method, request_serializer=lambda m: m.SerializeToString(), response_deserializer=response_type.FromString
        )
        call = stub(request, metadata=[("authorization", f"Bearer {token}")], timeout=timeout_s)
        received: list[M] = []
        try:
            async for message in call:
                received.append(message)
                if await stop(received):
                    break
        except grpc.aio.AioRpcError as exc:
            raise _grpc_error(exc, dict(exc.trailing_metadata() or ())) from None
        finally:
            call.cancel()
        return received
