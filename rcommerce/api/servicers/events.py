"""Servicer of ``EventService`` (events.proto): the event stream (DECISIONS 24)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from rcommerce.api.call import Call
from rcommerce.errors import invalid
from rcommerce.events.cursor import decode_cursor, encode_cursor
from rcommerce.events.stream import EventFilter, EventStream
from rcommerce.gen.v1 import events_pb2, events_pb2_grpc
from rcommerce.pagination import page_size


class EventServicer(events_pb2_grpc.EventServiceServicer):
    def __init__(self, stream: EventStream) -> None:
        self._stream = stream

    async def WatchEvents(self, request: events_pb2.WatchEventsRequest, call: Call) -> AsyncIterator[events_pb2.Event]:
        if request.max_events < 0:
            raise invalid("max_events", "must be >= 0")
        after = decode_cursor(request.cursor)
        selection = EventFilter.build(request.types, call.principal)
        call.stream_open()
        async for event in self._stream.watch(after, selection, max_events=request.max_events):
            yield event

    async def ListEvents(self, request: events_pb2.ListEventsRequest, call: Call) -> events_pb2.ListEventsResponse:
        size = page_size(request.page_size)
        given = request.page_token or request.cursor
        start = decode_cursor(given, "page_token" if request.page_token else "cursor")
        selection = EventFilter.build(request.types, call.principal)
        batch = await self._stream.page(start, selection, size)
        cursor = encode_cursor(batch.position) if batch.position != start else given
        return events_pb2.ListEventsResponse(
            events=batch.events, next_page_token=cursor if batch.more else "", cursor=cursor
        )
