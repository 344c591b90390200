"""Shipping: profiles, zones, rate tables, rules, packaging and stored quotes.

Pure rules live in ``units``, ``zones``, ``rates``, ``packaging`` and ``rules``; the
database side in ``models``, ``quoting`` (the quote call every cart uses) and
``service`` (the admin CRUD behind the API).
"""
