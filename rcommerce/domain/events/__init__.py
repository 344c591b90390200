"""The event stream's error catalogue (EventService, events.proto). The code lives in
``rcommerce.events.stream`` and ``rcommerce.events.cursor``; the reasons live here so the
OpenAPI generator (which reads ``rcommerce.domain.<proto stem>.errors``) documents them
on events.proto's routes only."""
