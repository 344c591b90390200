"""The error model: catalogued reasons and the one exception type domain code raises.

Every failure a client can see carries a :class:`Reason` (DESIGN 3, AIP-193): a stable
UPPER_SNAKE name with one cause, a gRPC status code and the HTTP status the REST bridge
answers with. Messages may change; reason names never do. The shared call pipeline turns
a :class:`DomainError` into ``google.rpc.Status`` with ``ErrorInfo(domain="rcommerce")``,
plus ``BadRequest`` for field violations and ``RetryInfo`` when a retry helps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import grpc

#: gRPC code -> HTTP status, from google/rpc/code.proto, except FAILED_PRECONDITION: our
#: FAILED_PRECONDITION reasons are business-rule failures and answer 422 (DECISIONS 3).
HTTP_STATUS_BY_CODE: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 422,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
}

_CATALOGUE: dict[str, Reason] = {}


@dataclass(frozen=True, slots=True)
class Reason:
    """A catalogued error reason. Create each once, at import time, with :func:`reason`."""

    name: str
    code: grpc.StatusCode
    description: str
    #: Set only where DECISIONS 3 overrides the status derived from ``code``.
    http_override: int | None = None

    @property
    def http_status(self) -> int:
        return self.http_override or HTTP_STATUS_BY_CODE[self.code]


def reason(name: str, code: grpc.StatusCode, description: str, *, http: int | None = None) -> Reason:
    """Declare a reason and add it to the catalogue. Names are unique and at most 63 chars."""
    if name in _CATALOGUE:
        raise ValueError(f"error reason {name} is declared twice")
    if not (name.isupper() and len(name) <= 63 and name.replace("_", "").isalnum()):
        raise ValueError(f"error reason {name!r} must be UPPER_SNAKE and at most 63 characters")
    declared = Reason(name, code, description, http)
    _CATALOGUE[name] = declared
    return declared


def catalogue() -> list[Reason]:
    """Every declared reason, sorted by name (for docs and OpenAPI)."""
    return sorted(_CATALOGUE.values(), key=lambda r: r.name)


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One invalid request field: its path in the request (``product.variants[0].sku``)
    and what is wrong with it."""

    field: str
    description: str


@dataclass(eq=False)
class DomainError(Exception):
    """The one exception type for expected failures. Each context raises its own subclass.

    ``metadata`` holds every variable named in the message (lowerCamel keys), so clients
    never parse messages::

        raise CatalogError(PRODUCT_NOT_FOUND, f"Product {pid} does not exist.", productId=pid)
    """

    reason: Reason
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    violations: tuple[FieldViolation, ...] = ()
    retry_after_s: float | None = None

    def __init__(
        self,
        reason: Reason,
        message: str,
        *,
        violations: Iterable[FieldViolation] = (),
        retry_after_s: float | None = None,
        **metadata: object,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.violations = tuple(violations)
        self.retry_after_s = retry_after_s
        self.metadata = {k: str(v) for k, v in metadata.items()}

    def __str__(self) -> str:
        return f"{self.reason.name}: {self.message}"


class RequestError(DomainError):
    """Raised by the transports and the pipeline: malformed input, authentication, routing."""


def invalid(field_path: str, description: str, reason_: Reason | None = None, **metadata: object) -> DomainError:
    """A validation error for one field (INVALID_ARGUMENT with a BadRequest violation)."""
    error = RequestError(
        reason_ or VALIDATION_FAILED,
        f"Invalid {field_path}: {description}",
        violations=[FieldViolation(field_path, description)],
    )
    error.metadata = {"field": field_path, **{k: str(v) for k, v in metadata.items()}}
    return error


def raise_violations(violations: Mapping[str, str] | Iterable[FieldViolation], reason_: Reason | None = None) -> None:
    """Raise one VALIDATION_FAILED error listing every violation, if there are any."""
    items = (
        [FieldViolation(k, v) for k, v in violations.items()] if isinstance(violations, Mapping) else list(violations)
    )
    if not items:
        return
    summary = "; ".join(f"{v.field}: {v.description}" for v in items)
    raise RequestError(reason_ or VALIDATION_FAILED, f"The request is invalid. {summary}", violations=items)


_C = grpc.StatusCode

# -- request shape --------------------------------------------------------------------
VALIDATION_FAILED = reason(
    "VALIDATION_FAILED", _C.INVALID_ARGUMENT, "One or more request fields are invalid; see the field violations."
)
MALFORMED_REQUEST = reason(
    "MALFORMED_REQUEST",
    _C.INVALID_ARGUMENT,
    "The body or a parameter could not be parsed (bad JSON, wrong type, unknown enum value, out-of-range number).",
)
BODY_NOT_ALLOWED = reason(
    "BODY_NOT_ALLOWED", _C.INVALID_ARGUMENT, "The HTTP method of this route takes no request body."
)
UNSUPPORTED_MEDIA_TYPE = reason(
    "UNSUPPORTED_MEDIA_TYPE", _C.INVALID_ARGUMENT, "The request body is not application/json.", http=415
)
REQUEST_TOO_LARGE = reason(
    "REQUEST_TOO_LARGE", _C.RESOURCE_EXHAUSTED, "The request body exceeds server.max_request_bytes.", http=413
)
INVALID_RESOURCE_NAME = reason(
    "INVALID_RESOURCE_NAME", _C.INVALID_ARGUMENT, "A resource name is malformed or names a resource of another kind."
)
INVALID_PAGE_SIZE = reason("INVALID_PAGE_SIZE", _C.INVALID_ARGUMENT, "page_size is negative.")
INVALID_PAGE_TOKEN = reason(
    "INVALID_PAGE_TOKEN",
    _C.INVALID_ARGUMENT,
    "page_token was not issued for this request, was tampered with, or the filters changed.",
)
INVALID_ORDER_BY = reason("INVALID_ORDER_BY", _C.INVALID_ARGUMENT, "order_by names an unknown field or direction.")
INVALID_FIELD_MASK = reason(
    "INVALID_FIELD_MASK", _C.INVALID_ARGUMENT, "update_mask names a field that cannot be updated."
)
ROUTE_NOT_FOUND = reason("ROUTE_NOT_FOUND", _C.NOT_FOUND, "No REST route matches the path.")
METHOD_NOT_ALLOWED = reason(
    "METHOD_NOT_ALLOWED", _C.UNIMPLEMENTED, "The path exists but not for this HTTP method.", http=405
)
RATE_LIMITED = reason(
    "RATE_LIMITED", _C.RESOURCE_EXHAUSTED, "Too many requests; retry after the delay given (Retry-After, RetryInfo)."
)
ETAG_MISMATCH = reason(
    "ETAG_MISMATCH", _C.ABORTED, "The resource changed since it was read; re-read it and retry with the new etag."
)

# -- authentication and authorisation ------------------------------------------------
MISSING_CREDENTIALS = reason(
    "MISSING_CREDENTIALS", _C.UNAUTHENTICATED, "The call needs an API key or access token in the Authorization header."
)
INVALID_API_KEY = reason("INVALID_API_KEY", _C.UNAUTHENTICATED, "The API key is unknown or malformed.")
API_KEY_REVOKED = reason("API_KEY_REVOKED", _C.UNAUTHENTICATED, "The API key was revoked.")
API_KEY_EXPIRED = reason("API_KEY_EXPIRED", _C.UNAUTHENTICATED, "The API key has expired.")
INSUFFICIENT_PERMISSIONS = reason(
    "INSUFFICIENT_PERMISSIONS",
    _C.PERMISSION_DENIED,
    "The credentials lack the scope this call requires, or this kind of credential may not call it.",
)

# -- server ---------------------------------------------------------------------------
INTERNAL_ERROR = reason(
    "INTERNAL_ERROR", _C.INTERNAL, "An unexpected server error; it is logged with the request id. Safe to retry."
)
SERVICE_UNAVAILABLE = reason(
    "SERVICE_UNAVAILABLE", _C.UNAVAILABLE, "A backing service (the database) is unreachable. Retry with backoff."
)
SHUTTING_DOWN = reason(
    "SHUTTING_DOWN", _C.UNAVAILABLE, "The server is draining for shutdown. Retry on another instance."
)
