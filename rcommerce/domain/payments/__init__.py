"""Payments: payment sessions per cart or order, their state machine, the transaction
ledger, idempotency and inbound gateway webhooks (docs/payments.md)."""
