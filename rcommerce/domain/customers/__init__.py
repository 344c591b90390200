"""Customers: accounts, guests, addresses, groups, sign-in sessions and password resets."""
