"""The grpc.aio server: our servicers behind the shared pipeline, plus health checking
and reflection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from rcommerce.api.methods import MethodInfo
from rcommerce.api.pipeline import Pipeline
from rcommerce.api.status import ApiError

Registrar = Callable[[grpc.aio.Server], None]


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _peer_ip(context: grpc.aio.ServicerContext) -> str:
    peer = context.peer() or ""  # "ipv4:127.0.0.1:5555" / "ipv6:[::1]:5555"
    host = peer.split(":", 1)[-1].rsplit(":", 1)[0]
    return host.strip("[]")


async def _abort(context: grpc.aio.ServicerContext, error: ApiError, request_id: str) -> None:
    trailers = [("grpc-status-details-bin", error.status.SerializeToString()), ("x-request-id", request_id)]
    trailers += [(k, v) for k, v in error.headers.items()]
    await context.abort(error.grpc_code, error.status.message, trailing_metadata=tuple(trailers))


class PipelineInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    """Runs every rcommerce RPC through the pipeline. Health and reflection pass through.

    The servicer method is invoked as ``method(request, call)`` with our :class:`Call`
    instead of the grpc context, exactly as the REST bridge invokes it.
    """

    def __init__(self, pipeline: Pipeline, methods: dict[str, MethodInfo]) -> None:
        self._pipeline = pipeline
        self._methods = methods

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        method = self._methods.get(details.method)
        if handler is None or method is None:
            return handler
        pipeline = self._pipeline
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                headers = _metadata(context)
                request_id = pipeline.request_id(headers)
                await context.send_initial_metadata((("x-request-id", request_id),))
                try:
                    response, call = await pipeline.unary(
                        method,
                        request,
                        inner,
                        transport="grpc",
                        headers=headers,
                        peer=_peer_ip(context),
                        time_remaining_s=context.time_remaining(),
                        request_id=request_id,
                    )
                except ApiError as error:
                    await _abort(context, error, request_id)
                    raise AssertionError("unreachable") from None
                if call.response_headers:
                    context.set_trailing_metadata(tuple(call.response_headers.items()))
                return response

            return grpc.unary_unary_rpc_method_handler(
                unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            inner_stream = handler.unary_stream

            async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                headers = _metadata(context)
                request_id = pipeline.request_id(headers)
                await context.send_initial_metadata((("x-request-id", request_id),))
                try:
                    async for item in pipeline.stream(
                        method,
                        request,
                        inner_stream,
                        transport="grpc",
                        headers=headers,
                        peer=_peer_ip(context),
                        time_remaining_s=context.time_remaining(),
                        request_id=request_id,
                    ):
                        yield item
                except ApiError as error:
                    await _abort(context, error, request_id)

            return grpc.unary_stream_rpc_method_handler(
                stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


async def build_grpc_server(
    pipeline: Pipeline,
    methods: dict[str, MethodInfo],
    registrars: Iterable[Registrar],
    *,
    max_message_bytes: int,
) -> tuple[grpc.aio.Server, health.aio.HealthServicer]:
    """A configured, not yet started server with health checking and reflection."""
    server = grpc.aio.server(
        interceptors=[PipelineInterceptor(pipeline, methods)],
        options=[
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", max_message_bytes),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ],
    )
    for register in registrars:
        register(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    services = sorted({m.service for m in methods.values()})
    for name in [*services, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection([*services, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    return server, health_servicer


async def set_serving(health_servicer: health.aio.HealthServicer, services: Iterable[str], serving: bool) -> None:
    status = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
    for name in [*services, ""]:
        await health_servicer.set(name, status)
