"""Turning exceptions into ``google.rpc.Status`` (the one mapping point, house rule 13)."""

from __future__ import annotations

import math

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from rcommerce.errors import INTERNAL_ERROR, DomainError, Reason

DOMAIN = "rcommerce"


class ApiError(Exception):
    """A failed call, ready for either transport: the status proto plus HTTP status."""

    def __init__(self, status: status_pb2.Status, reason: Reason, headers: dict[str, str] | None = None) -> None:
        super().__init__(status.message)
        self.status = status
        self.reason = reason
        self.headers = headers or {}

    @property
    def grpc_code(self) -> grpc.StatusCode:
        return self.reason.code

    @property
    def http_status(self) -> int:
        return self.reason.http_status


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def from_domain_error(error: DomainError, request_id: str) -> ApiError:
    """The status for an expected failure: ErrorInfo always, BadRequest and RetryInfo when
    they apply. The request id rides in ErrorInfo metadata so support can find the log."""
    info = error_details_pb2.ErrorInfo(reason=error.reason.name, domain=DOMAIN, metadata=error.metadata)
    details = [_pack(info)]
    if error.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in error.violations
            ]
        )
        details.append(_pack(bad))
    headers = {}
    if error.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after_s * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
        headers["retry-after"] = str(max(1, math.ceil(error.retry_after_s)))  # never too early
    status = status_pb2.Status(code=error.reason.code.value[0], message=error.message, details=details)
    return ApiError(status, error.reason, headers)


def internal_error(request_id: str) -> ApiError:
    """The status for an unexpected exception: nothing of it leaks to the client."""
    error = DomainError(
        INTERNAL_ERROR,
        f"An unexpected error occurred. It was logged with request id {request_id}.",
        requestId=request_id,
    )
    return from_domain_error(error, request_id)


assert grpc.StatusCode.INTERNAL.value[0] == code_pb2.INTERNAL
