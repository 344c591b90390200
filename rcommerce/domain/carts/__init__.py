"""Carts: guest and customer carts, their lines, and the cart's priced view."""
