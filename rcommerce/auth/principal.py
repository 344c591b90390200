"""Who is calling."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from rcommerce.auth.scopes import ScopeSet


class PrincipalKind(StrEnum):
    ANONYMOUS = "anonymous"
    SECRET_KEY = "secret_key"  # noqa: S105 - a kind name, not a secret
    PUBLISHABLE_KEY = "publishable_key"
    CUSTOMER = "customer"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated identity behind a call.

    ``subject`` is the resource name of the key or customer ("apiKeys/key_...",
    "customers/cus_..."), empty for anonymous callers.
    """

    kind: PrincipalKind
    subject: str = ""
    scopes: ScopeSet = field(default_factory=lambda: ScopeSet(()))

    @property
    def is_staff(self) -> bool:
        """Back-office callers (secret keys): they see drafts and everyone's data."""
        return self.kind is PrincipalKind.SECRET_KEY

    def allows(self, scope: str) -> bool:
        return self.scopes.allows(scope)


ANONYMOUS = Principal(PrincipalKind.ANONYMOUS)


def customer_id_of(principal: Principal) -> str | None:
    """The ``cus_...`` id of a signed-in customer, else ``None`` (keys, anonymous)."""
    if principal.kind is not PrincipalKind.CUSTOMER:
        return None
    collection, _, customer_id = principal.subject.partition("/")
    return customer_id if collection == "customers" and customer_id else None
