"""Transactional outbox: events recorded in the same transaction as the change."""

from rcommerce.events.outbox import OutboxEvent, RecordedEvent, record_event

__all__ = ["OutboxEvent", "RecordedEvent", "record_event"]
