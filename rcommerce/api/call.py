"""What a servicer method receives besides its request: the :class:`Call`.

Servicer methods have the signature ``async def Method(self, request, call: Call)`` on
both transports: the gRPC interceptor and the REST bridge pass a ``Call`` instead of a
``grpc.ServicerContext``, so servicers never depend on a transport.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rcommerce.auth.principal import Principal

Transport = Literal["grpc", "rest"]


@dataclass(slots=True)
class Call:
    """One in-flight RPC."""

    #: Full method name, "/rcommerce.v1.CatalogService/GetProduct".
    method: str
    request_id: str
    principal: Principal
    transport: Transport
    #: Client address (IP): the transport's peer, or behind a proxy listed in
    #: ``[server] trusted_proxies`` the right-most untrusted X-Forwarded-For entry.
    peer: str = ""
    #: Request headers / metadata, lower-case keys.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Seconds left before the client's deadline, when it set one.
    time_remaining_s: float | None = None
    #: Extra response headers (REST) / trailing metadata (gRPC) set by the pipeline or
    #: a servicer, for example rate-limit headers.
    response_headers: dict[str, str] = field(default_factory=dict)
    #: Set by a transport that wants to know when a server-streaming handler has
    #: validated its request and started (the REST bridge then commits to a 200
    #: text/event-stream answer; earlier failures still get the JSON error body).
    on_stream_open: Callable[[], None] | None = None

    def stream_open(self) -> None:
        """Called by a streaming servicer once its request was accepted."""
        if self.on_stream_open is not None:
            self.on_stream_open()
