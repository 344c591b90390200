"""Authentication and scope authorisation, shared by both transports (DECISIONS 7)."""

from rcommerce.auth.principal import ANONYMOUS, Principal, PrincipalKind
from rcommerce.auth.scopes import STOREFRONT_SCOPES, ScopeSet, parse_scopes

__all__ = ["ANONYMOUS", "STOREFRONT_SCOPES", "Principal", "PrincipalKind", "ScopeSet", "parse_scopes"]
