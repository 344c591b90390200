"""Who may touch which customer: staff see everyone, a customer only themself."""

from __future__ import annotations

from rcommerce.auth.principal import Principal, PrincipalKind, customer_id_of
from rcommerce.errors import INSUFFICIENT_PERMISSIONS, INVALID_RESOURCE_NAME, FieldViolation, RequestError
from rcommerce.ids import id_prefix
from rcommerce.names import parse_child_name, parse_name

ME = "me"


def resolve_customer(principal: Principal, name: str, field: str = "name") -> str:
    """The customer id named by ``name`` ("customers/{id}" or "customers/me") that
    ``principal`` may act on. A customer naming anyone else is refused the same way
    whether or not that customer exists (PERMISSION_DENIED, AIP-193)."""
    own = customer_id_of(principal)
    if name == f"customers/{ME}":
        if own is None:
            raise RequestError(
                INVALID_RESOURCE_NAME,
                f"{field} 'customers/me' names the signed-in customer; these credentials are not a customer's.",
                violations=[FieldViolation(field, "customers/me needs a customer access token")],
                field=field,
            )
        return own
    customer_id = parse_name(name, "customers", "cus", field)
    check_owner(principal, customer_id)
    return customer_id


def resolve_address(principal: Principal, name: str, field: str = "name") -> tuple[str, str]:
    """(customer id, address id) of "customers/{c}/addresses/{a}" ("me" allowed)."""
    parts = name.split("/")
    if len(parts) == 4 and parts[:3] == ["customers", ME, "addresses"] and id_prefix(parts[3]) == "addr":
        return resolve_customer(principal, f"customers/{ME}", field), parts[3]
    customer_id, address_id = parse_child_name(name, "customers", "cus", "addresses", "addr", field)
    check_owner(principal, customer_id)
    return customer_id, address_id


def check_owner(principal: Principal, customer_id: str) -> None:
    if principal.kind is PrincipalKind.CUSTOMER and customer_id_of(principal) != customer_id:
        raise RequestError(
            INSUFFICIENT_PERMISSIONS,
            "Customers may only see and change their own account.",
            customer=f"customers/{customer_id}",
        )


def is_customer(principal: Principal) -> bool:
    return principal.kind is PrincipalKind.CUSTOMER
