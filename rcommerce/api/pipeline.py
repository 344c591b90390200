"""The shared call pipeline (DESIGN 4): request id, client address, authentication, rate
limiting, scope authorisation, request validation, error mapping, logging and metrics —
one implementation, run by the gRPC interceptor and by the REST bridge alike.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from rcommerce.api.call import Call, Transport
from rcommerce.api.methods import MethodInfo
from rcommerce.api.metrics import observe
from rcommerce.api.ratelimits import CallLimits, Network, client_address
from rcommerce.api.status import ApiError, from_domain_error, internal_error
from rcommerce.auth.principal import ANONYMOUS, Principal, PrincipalKind
from rcommerce.clock import Clock, SystemClock
from rcommerce.errors import (
    INSUFFICIENT_PERMISSIONS,
    INVALID_API_KEY,
    MALFORMED_REQUEST,
    MISSING_CREDENTIALS,
    SERVICE_UNAVAILABLE,
    DomainError,
    FieldViolation,
    RequestError,
)
from rcommerce.ids import new_id

log = logging.getLogger("rcommerce.access")
_errors = logging.getLogger("rcommerce.errors")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

Handler = Callable[[Any, Call], Awaitable[Message]]
StreamHandler = Callable[[Any, Call], AsyncIterator[Message]]


class CredentialVerifier(Protocol):
    """Turns a presented bearer token into a principal, or raises an UNAUTHENTICATED
    DomainError. API keys now; customer access tokens plug in the same way."""

    def accepts(self, token: str) -> bool: ...

    async def verify(self, token: str) -> Principal: ...


def _unavailable(exc: BaseException) -> bool:
    from sqlalchemy.exc import DBAPIError, OperationalError

    return (
        isinstance(exc, OperationalError)
        or (isinstance(exc, DBAPIError) and exc.connection_invalidated)
        or isinstance(exc, ConnectionError | OSError)
    )


class Pipeline:
    """Runs one RPC through every cross-cutting concern."""

    def __init__(
        self,
        verifiers: list[CredentialVerifier],
        clock: Clock | None = None,
        access_log: bool = True,
        *,
        limits: CallLimits | None = None,
        trusted_proxies: tuple[Network, ...] = (),
    ) -> None:
        self._verifiers = verifiers
        self._clock = clock or SystemClock()
        self._access_log = access_log
        #: Per-caller request limits (None: no limiting).
        self.limits = limits
        self._proxies = trusted_proxies

    # -- pieces ---------------------------------------------------------------------
    def request_id(self, headers: Mapping[str, str]) -> str:
        """The caller's X-Request-Id when well formed, else a new one."""
        given = headers.get("x-request-id", "")
        return given if _REQUEST_ID.match(given) else new_id("req", self._clock.now())

    async def authenticate(self, headers: Mapping[str, str]) -> Principal:
        token = ""
        authorization = headers.get("authorization", "").strip()
        if authorization:
            scheme, _, rest = authorization.partition(" ")
            token = rest.strip() if scheme.lower() == "bearer" and rest else authorization
        elif "x-publishable-api-key" in headers:
            token = headers["x-publishable-api-key"].strip()
        if not token:
            return ANONYMOUS
        for verifier in self._verifiers:
            if verifier.accepts(token):
                return await verifier.verify(token)
        raise RequestError(
            INVALID_API_KEY,
            "The Authorization header does not hold a recognised API key or access token.",
        )

    @staticmethod
    def authorize(method: MethodInfo, principal: Principal) -> None:
        rule = method.auth
        kind = principal.kind
        if kind is PrincipalKind.ANONYMOUS:
            if rule.allow_anonymous:
                return
            raise RequestError(
                MISSING_CREDENTIALS,
                f"{method.name} needs credentials: send 'Authorization: Bearer <key>'.",
                method=method.name,
            )
        if kind is PrincipalKind.PUBLISHABLE_KEY and not (rule.allow_publishable or rule.allow_anonymous):
            raise RequestError(
                INSUFFICIENT_PERMISSIONS,
                f"Publishable keys may not call {method.name}; use a secret key.",
                method=method.name,
            )
        if kind is PrincipalKind.CUSTOMER and not (rule.allow_customer or rule.allow_anonymous):
            raise RequestError(INSUFFICIENT_PERMISSIONS, f"Customers may not call {method.name}.", method=method.name)
        if rule.scope and not principal.allows(rule.scope):
            raise RequestError(
                INSUFFICIENT_PERMISSIONS,
                f"{method.name} requires the scope {rule.scope}, which these credentials do not hold.",
                method=method.name,
                requiredScope=rule.scope,
            )

    @staticmethod
    def validate_enums(message: Message, path: str = "") -> None:
        """Refuse enum numbers the contract does not define (proto3 keeps them as ints)."""
        for field, value in message.ListFields():
            name = f"{path}{field.name}"
            if field.type == FieldDescriptor.TYPE_ENUM:
                values = value if field.is_repeated else [value]
                known = field.enum_type.values_by_number
                for v in values:
                    if v not in known:
                        raise RequestError(
                            MALFORMED_REQUEST,
                            f"{name} has the value {v}, which {field.enum_type.name} does not define.",
                            violations=[FieldViolation(name, f"unknown {field.enum_type.name} value {v}")],
                            field=name,
                        )
            elif field.type == FieldDescriptor.TYPE_MESSAGE and not field.message_type.GetOptions().map_entry:
                if field.is_repeated:
                    for i, item in enumerate(value):
                        Pipeline.validate_enums(item, f"{name}[{i}].")
                else:
                    Pipeline.validate_enums(value, f"{name}.")

    # -- running ----------------------------------------------------------------------
    def _new_call(
        self,
        method: MethodInfo,
        transport: Transport,
        headers: Mapping[str, str],
        peer: str,
        time_remaining_s: float | None,
        request_id: str,
    ) -> Call:
        """The call, still anonymous; ``peer`` becomes the client address (X-Forwarded-For
        is believed only from a trusted proxy)."""
        client = client_address(peer, headers.get("x-forwarded-for", ""), self._proxies) if self._proxies else peer
        return Call(method.full_name, request_id, ANONYMOUS, transport, client, headers, time_remaining_s)

    async def _admit(self, call: Call, method: MethodInfo, request: Message) -> None:
        """Authenticate, count the call against its caller's limit, authorise, validate.
        Limiting comes before authorisation so refused calls count too; a failed
        authentication counts against the client address as an anonymous call, so
        guessing keys is limited like any anonymous traffic."""
        limits = self.limits
        try:
            call.principal = await self.authenticate(call.headers)
        except DomainError:
            if limits is not None:
                await limits.check(ANONYMOUS, call.peer, call.response_headers)
            raise
        if limits is not None:
            await limits.check(call.principal, call.peer, call.response_headers)
        self.authorize(method, call.principal)
        self.validate_enums(request)

    def _fail(self, exc: BaseException, method: MethodInfo, request_id: str, call: Call | None = None) -> ApiError:
        error = self._map(exc, method, request_id)
        if call is not None and call.response_headers:
            # Rate-limit headers ride on error answers too; the error's own win.
            error.headers = {**call.response_headers, **error.headers}
        return error

    def _map(self, exc: BaseException, method: MethodInfo, request_id: str) -> ApiError:
        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, DomainError):
            return from_domain_error(exc, request_id)
        if _unavailable(exc):
            _errors.warning(
                "backing service unavailable",
                extra={"request_id": request_id, "method": method.full_name, "error": repr(exc)},
            )
            return from_domain_error(
                DomainError(SERVICE_UNAVAILABLE, "A backing service is unavailable; retry shortly.", retry_after_s=1),
                request_id,
            )
        _errors.exception("unhandled error", extra={"request_id": request_id, "method": method.full_name})
        return internal_error(request_id)

    def _finish(
        self, method: MethodInfo, transport: Transport, code: str, started: float, request_id: str, principal: str
    ) -> None:
        elapsed = time.perf_counter() - started
        observe(transport, method.name, code, elapsed)
        if self._access_log:
            log.info(
                "%s %s %s %.1fms",
                transport,
                method.full_name,
                code,
                elapsed * 1000,
                extra={
                    "request_id": request_id,
                    "transport": transport,
                    "method": method.full_name,
                    "code": code,
                    "latency_ms": round(elapsed * 1000, 2),
                    "principal": principal,
                },
            )

    async def unary(
        self,
        method: MethodInfo,
        request: Message,
        handler: Handler,
        *,
        transport: Transport,
        headers: Mapping[str, str],
        peer: str = "",
        time_remaining_s: float | None = None,
        request_id: str | None = None,
    ) -> tuple[Message, Call]:
        """Run ``handler`` for ``request``; returns the response and the call (for its
        response headers) or raises :class:`ApiError`."""
        started = time.perf_counter()
        request_id = request_id or self.request_id(headers)
        call = self._new_call(method, transport, headers, peer, time_remaining_s, request_id)
        try:
            await self._admit(call, method, request)
            response = await handler(request, call)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                raise
            error = self._fail(exc, method, request_id, call)
            self._finish(method, transport, error.grpc_code.name, started, request_id, call.principal.subject)
            raise error from exc
        self._finish(method, transport, "OK", started, request_id, call.principal.subject)
        return response, call

    async def stream(
        self,
        method: MethodInfo,
        request: Message,
        handler: StreamHandler,
        *,
        transport: Transport,
        headers: Mapping[str, str],
        peer: str = "",
        time_remaining_s: float | None = None,
        request_id: str | None = None,
    ) -> AsyncIterator[Message]:
        """Server-streaming variant of :meth:`unary`; errors surface as :class:`ApiError`."""
        started = time.perf_counter()
        request_id = request_id or self.request_id(headers)
        code = "OK"
        call = self._new_call(method, transport, headers, peer, time_remaining_s, request_id)
        try:
            await self._admit(call, method, request)
            async for item in handler(request, call):
                yield item
        except Exception as exc:
            error = self._fail(exc, method, request_id, call)
            code = error.grpc_code.name
            raise error from exc
        finally:
            self._finish(method, transport, code, started, request_id, call.principal.subject)
