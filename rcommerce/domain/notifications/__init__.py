"""Notifications context: its error reasons (code lives in ``rcommerce.notifications``)."""
