"""Reasons of the inventory context."""

import grpc

from rcommerce.errors import DomainError, reason

_C = grpc.StatusCode

INSUFFICIENT_INVENTORY = reason(
    "INSUFFICIENT_INVENTORY", _C.FAILED_PRECONDITION,
    "Fewer units are available than requested and the variant's policy is deny; metadata has requested, available and inventoryPolicy.",
)  # fmt: skip
LOCATION_NOT_FOUND = reason("LOCATION_NOT_FOUND", _C.NOT_FOUND, "No stock location has this name.")
LOCATION_CODE_TAKEN = reason("LOCATION_CODE_TAKEN", _C.ALREADY_EXISTS, "Another stock location already uses this code.")
LOCATION_NOT_EMPTY = reason(
    "LOCATION_NOT_EMPTY",
    _C.FAILED_PRECONDITION,
    "The location still holds stock or reservations, or is the default location; move the stock first.",
)
LOCATION_INACTIVE = reason(
    "LOCATION_INACTIVE",
    _C.FAILED_PRECONDITION,
    "The stock location is inactive; activate it before moving stock in or reserving there.",
)
INVENTORY_NOT_TRACKED = reason(
    "INVENTORY_NOT_TRACKED", _C.FAILED_PRECONDITION, "The variant's stock is not tracked (manage_inventory is false)."
)
INVALID_ADJUSTMENT = reason(
    "INVALID_ADJUSTMENT",
    _C.FAILED_PRECONDITION,
    "The adjustment would take on hand below zero; metadata has onHand and adjustment.",
)
INVALID_TRANSFER = reason("INVALID_TRANSFER", _C.INVALID_ARGUMENT, "A transfer needs two different locations.")
INSUFFICIENT_STOCK = reason(
    "INSUFFICIENT_STOCK",
    _C.FAILED_PRECONDITION,
    "The source location has fewer available units than the transfer moves; metadata has requested and available.",
)
RESERVATION_NOT_FOUND = reason("RESERVATION_NOT_FOUND", _C.NOT_FOUND, "No reservation has this name.")
RESERVATION_EXPIRED = reason(
    "RESERVATION_EXPIRED",
    _C.ABORTED,
    "The reservation is no longer active (released, expired or converted); metadata has status.",
)
INVALID_CONVERSION = reason(
    "INVALID_CONVERSION", _C.FAILED_PRECONDITION, "More units were to be converted than the reservation holds."
)
ALERT_NOT_FOUND = reason("ALERT_NOT_FOUND", _C.NOT_FOUND, "No stock alert has this name.")
ALERT_ALREADY_ACKNOWLEDGED = reason(
    "ALERT_ALREADY_ACKNOWLEDGED", _C.ABORTED, "The alert was acknowledged before; alerts are acknowledged once."
)


class InventoryError(DomainError):
    """Failures of inventory: missing resources, short stock, ended reservations."""
