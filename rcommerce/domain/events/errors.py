"""Errors of the event stream (EventService, events.proto)."""

from __future__ import annotations

import grpc

from rcommerce.errors import reason

_C = grpc.StatusCode

INVALID_CURSOR = reason(
    "INVALID_CURSOR",
    _C.INVALID_ARGUMENT,
    "The event cursor (or Last-Event-ID) was not issued by this server; use an Event.cursor or leave it empty.",
)
