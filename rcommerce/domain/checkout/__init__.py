"""Checkout: completing a cart into an order (DECISIONS 14)."""
