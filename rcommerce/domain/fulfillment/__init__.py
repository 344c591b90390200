"""Fulfilments, payments on orders (capture, void, refund) and order changes (returns,
exchanges, claims and edits)."""
