"""Transactional outbox: events recorded in the same transaction as the change."""

from rcommerce.events.outbox import OutboxEvent, record_event

__all__ = ["OutboxEvent", "record_event"]
