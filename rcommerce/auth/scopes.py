"""Scopes ``resource:action`` with ``admin ⊃ write ⊃ read`` (DECISIONS 7).

A global ``read``, ``write`` or ``admin`` applies to every resource. ``products:admin``
is admin of products only, never global admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rcommerce.errors import VALIDATION_FAILED, FieldViolation, RequestError

ACTIONS = ("read", "write", "admin")
_RANK = {action: rank for rank, action in enumerate(ACTIONS)}

#: Every resource a scope can name. Contexts add theirs here as they arrive.
RESOURCES = frozenset({
    "api_keys", "carts", "checkout", "customers", "events", "exports", "imports", "inventory",
    "jobs", "media", "notifications", "orders", "payments", "products", "promotions", "regions",
    "settings", "shipping", "statistics", "subscriptions", "tax", "webhooks",
})  # fmt: skip

#: What a publishable storefront key may hold.
STOREFRONT_SCOPES = frozenset({
    "products:read", "regions:read", "carts:read", "carts:write", "checkout:write",
    "customers:write", "shipping:read", "payments:write",
})  # fmt: skip

#: What a signed-in customer's access token holds. Services still restrict every
#: customer to their own resources ("customers:write" is their own profile only).
CUSTOMER_SCOPES = frozenset({
    "products:read", "regions:read", "shipping:read", "customers:write", "carts:write",
    "checkout:write", "orders:read", "orders:write", "payments:write", "subscriptions:write",
})  # fmt: skip


class ScopeError(ValueError):
    """A scope string is malformed; the message is one of ``Unknown resource: X``,
    ``Unknown action: X`` or ``Invalid scope format: X``."""


@dataclass(frozen=True, slots=True)
class Scope:
    resource: str | None  # None for a global scope
    action: str

    def __str__(self) -> str:
        return self.action if self.resource is None else f"{self.resource}:{self.action}"


def parse_scope(text: str) -> Scope:
    """Parse one scope; raises :class:`ScopeError` with the catalogued message."""
    parts = text.split(":")
    if len(parts) == 1:
        if parts[0] not in _RANK:
            raise ScopeError(f"Unknown action: {text}")
        return Scope(None, parts[0])
    if len(parts) != 2:
        raise ScopeError(f"Invalid scope format: {text}")
    resource, action = parts
    if resource not in RESOURCES:
        raise ScopeError(f"Unknown resource: {resource}")
    if action not in _RANK:
        raise ScopeError(f"Unknown action: {action}")
    return Scope(resource, action)


def parse_scopes(texts: Iterable[str], field: str = "scopes") -> tuple[Scope, ...]:
    """Parse scopes from a request; every bad one is a field violation (VALIDATION_FAILED)."""
    parsed, violations = [], []
    for i, text in enumerate(texts):
        try:
            parsed.append(parse_scope(text))
        except ScopeError as exc:
            violations.append(FieldViolation(f"{field}[{i}]", str(exc)))
    if violations:
        raise RequestError(
            VALIDATION_FAILED, "Invalid scopes: " + "; ".join(v.description for v in violations), violations=violations
        )
    return tuple(parsed)


class ScopeSet:
    """The scopes a principal holds, answering "may it do X?" in O(1)."""

    __slots__ = ("_global", "_per_resource", "scopes")

    def __init__(self, scopes: Iterable[Scope]) -> None:
        self.scopes = tuple(scopes)
        self._global = max((_RANK[s.action] for s in self.scopes if s.resource is None), default=-1)
        self._per_resource: dict[str, int] = {}
        for s in self.scopes:
            if s.resource is not None:
                self._per_resource[s.resource] = max(self._per_resource.get(s.resource, -1), _RANK[s.action])

    @classmethod
    def of(cls, *texts: str) -> ScopeSet:
        return cls(parse_scope(t) for t in texts)

    def allows(self, required: str) -> bool:
        """True when the held scopes cover ``required`` (``"products:write"`` or ``"admin"``)."""
        scope = parse_scope(required)
        need = _RANK[scope.action]
        if self._global >= need:
            return True
        return scope.resource is not None and self._per_resource.get(scope.resource, -1) >= need

    def can(self, resource: str, action: str) -> bool:
        return self.allows(f"{resource}:{action}")

    @property
    def is_admin(self) -> bool:
        """Global admin only: ``products:admin`` does not count (DECISIONS 7)."""
        return self._global >= _RANK["admin"]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(str(s) for s in self.scopes)
